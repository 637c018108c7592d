"""Exercises every kind in kinds_lib; prints one line per result (compared across runs)."""
import sys

import snaptest_forbid  # noqa: F401  (SNAPTEST_FORBID_COMPILE=1: compiling raises)

import numpy as np
from numba import typed

import kinds_lib as k


def results():
    x = np.arange(10, dtype=np.float64)
    yield "add_i", k.add(2, 3)
    yield "add_f", k.add(2.5, 0.25)
    yield "add_a", k.add(x, 1.0).tolist()
    yield "par_sum", k.par_sum(x)
    yield "fm_dot", k.fm_dot(x, x)
    yield "bc_get", k.bc_get(x, 3)
    try:
        k.bc_get(x, 99)
    except IndexError as e:
        yield "bc_err", f"{type(e).__name__}: {e}"
    lst = k.make_list(5)
    yield "list", list(lst), k.sum_list(lst)
    pl = typed.List([1.0, 2.0, 4.0])
    yield "pylist", k.sum_list(pl)
    d = k.make_dict(4)
    yield "dict", sorted(d.items()), k.sum_dict(d)
    yield "vpoly", k.vpoly(x, x).tolist()
    yield "veager", k.veager(x, 1.0).tolist(), k.veager(np.arange(3), np.arange(3)).tolist()
    yield "apply", k.apply(k.square, x).tolist()
    yield "closures", k.scale2(5.0), k.scale3(5.0)
    yield "fib", k.fib(15)
    yield "mutual", k.is_even(10), k.is_odd(7)
    yield "sqrt", k.checked_sqrt(16.0)
    try:
        k.checked_sqrt(-4.0)
    except ValueError as e:
        yield "sqrt_err", f"{type(e).__name__}: {e}"
    yield "alloc", k.alloc_stats(8)
    yield "first_class", k.call_fc(k.square, 3.0)
    yield "eager", k.eager_mul(6, 7)
    if "--extra" in sys.argv:
        yield "add_c", k.add(1j, 2)     # a new signature: JIT-compiled at run time
        from numba import njit

        @njit
        def newfn(a):                   # new JIT code calling image code (mixing)
            return k.add(a, 1.0) * k.square(a) + k.fib(10)

        yield "mixing", newfn(3.0)


for item in results():
    print(repr(item))
import gc  # noqa: E402
print("gc enabled", gc.isenabled())   # snap must leave the collector as the program had it
sys.exit(int(sys.argv[sys.argv.index("--exit") + 1]) if "--exit" in sys.argv else 0)
