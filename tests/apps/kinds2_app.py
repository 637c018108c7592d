"""Exercises every kind in kinds2_lib; prints one line per result (compared across runs)."""
import ctypes
import sys

import snaptest_forbid  # noqa: F401  (SNAPTEST_FORBID_COMPILE=1: compiling raises)

import numpy as np

import kinds2_lib as k


def results():
    a = k.Acc(1.5, 4)
    yield "acc_new", a.x, a.n, a.data.tolist()
    yield "acc_add", a.add(2.0), a.data.tolist()
    yield "acc_prop", a.double
    a.double = 10.0
    yield "acc_setprop", a.x
    a.x = 7.0
    yield "acc_setattr", a.x, k.Acc.unit()
    yield "acc_isinstance", isinstance(a, k.Acc)
    yield "use_acc", k.use_acc(a, 1.0), a.x
    b = k.make_acc(4.0)
    yield "make_acc", type(b).__name__, b.x, b.data.tolist(), isinstance(b, k.Acc)
    c = b.scaled(2.0)
    yield "scaled", c.x, c.n
    h = k.build_list(4)
    yield "linked", h.value, h.next.value, h.next.next.value, h.length(), k.Node(9, h).length()
    yield "c_hypot", k.c_hypot.ctypes(3.0, 4.0), k.c_hypot.address != 0
    import cffi
    ffi = cffi.FFI()
    yield "c_hypot_cffi", ffi.cast("double(*)(double, double)", k.c_hypot.cffi)(6.0, 8.0)
    arr = np.arange(5, dtype=np.int64)
    yield "c_sum", k.c_sum.ctypes(arr.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)), 5)
    yield "gen", list(k.gen_squares(6)), list(k.gen_arr(np.arange(4.0)))
    yield "consume_gen", k.consume_gen(10)
    yield "unroll", k.unroll_sum((1, 2.5, "abc", np.float32(0.5)))
    yield "two_options", k.poly_fast(3.0), k.poly_plain(3.0)
    yield "inner", k.run_inner(5), k.run_inner(2.5)
    p = k.Point(1.0, 2.0)
    yield "structref", p.x, p.y, k.point_norm2(p)
    q = k.make_point(3.0)
    yield "structref_made", type(q).__name__, q.x, q.y


for item in results():
    print(repr(item))
if "--extra" in sys.argv:
    from numba import njit

    @njit
    def jit_mix(n, acc):           # new JIT code using image generators, jitclass and cfunc-free code
        t = 0
        for v in k.gen_squares(n):
            t += v
        acc.add(float(t))
        b = k.Acc(2.0, 2)
        return t, acc.x, acc.double, b.scaled(3.0).x, k.poly_fast(2.0)

    print(repr(("jit_mix", jit_mix(5, k.Acc(1.0, 3)))))

    @njit
    def jit_gen_box(n):            # a JIT function returning an image generator to Python
        return k.gen_squares(n)

    print(repr(("jit_gen_box", list(jit_gen_box(4)))))
