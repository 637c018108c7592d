"""Calls every gufunc in gufunc_lib; prints one line per result (compared across runs)."""
import sys

import snaptest_forbid  # noqa: F401  (SNAPTEST_FORBID_COMPILE=1: compiling raises)

import numpy as np

import gufunc_lib as g


def results():
    x = np.arange(12.0).reshape(3, 4)
    yield "cum64", g.cumweight(x).tolist()
    yield "cum32", g.cumweight(x.astype(np.float32)).tolist()
    yield "psum64", g.pscaled_sum(x, 2.0).tolist()
    yield "psum32", g.pscaled_sum(x.astype(np.float32), np.float32(0.5)).tolist()
    out = np.zeros(3)
    g.dyn_sum(x, out)
    yield "dyn_f", out.tolist()
    outi = np.zeros(3, dtype=np.int64)
    g.dyn_sum(x.astype(np.int64), outi)
    yield "dyn_i", outi.tolist()
    yield "emax", g.edited_max(x).tolist()
    yield "padd_f", g.padd3(x, x).tolist()
    yield "padd_i", g.padd3(np.arange(4), np.arange(4)).tolist()
    yield "types", type(g.cumweight).__name__, type(g.pscaled_sum).__name__, type(g.padd3).__name__
    yield "njit_calls", g.jit_calls_gufunc(np.arange(5.0))
    yield "exec", g.exec_sum(x).tolist(), g.exec_sumsq(x).tolist(), g.exec_sumcube(x).tolist()
    if "--extra" in sys.argv:
        outc = np.zeros(3, dtype=np.complex128)
        g.dyn_sum(x.astype(np.complex128), outc)      # a new dynamic signature: JIT
        yield "dyn_c", outc.tolist()
        from numba import njit

        @njit
        def newfn(a):                                   # new JIT code calling image gufuncs
            out = np.empty_like(a)
            g.cumweight(a, out)
            return out.sum()

        yield "mixing", newfn(np.arange(6.0))


for item in results():
    print(repr(item))
