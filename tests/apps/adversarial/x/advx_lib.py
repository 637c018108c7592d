"""Jitted callers of advx_ext's extensions, and extensions defined next to their callers
(adversarial harness, class 1)."""
import numpy as np  # noqa: F401
from numba import cfunc, float64, literally, njit, stencil, vectorize
from numba.experimental import jitclass

import advx_ext as E
from advx_ext import rj_helper, tgt_cond


@njit
def x_cond(x):
    return tgt_cond(x)


@njit
def x_body(x):
    return E.tgt_body(x)


@njit
def x_inl_ovl(x):
    return E.tgt_inl(x) * 2.0


@njit
def x_method(a):
    return a.advx_wsum(2.0)


@njit
def x_attr(a):
    return a.advx_span


@njit
def x_lit(x):
    return E.tgt_lit(x, 5)


@njit
def x_literally(x, n):
    literally(n)
    return E.tgt_lit2(x, n)


@njit
def x_intrinsic(a, b):
    return E.ix_combine(a, b)


@njit
def x_intr_const(x):
    return E.ix_const(x)


@njit
def x_rj(x):
    return rj_helper(x) * 2.0


@njit
def x_helper(x):
    return E.tgt_helper(x)


@njit
def x_mode(x):
    return E.tgt_mode(x)


@njit
def x_implglobal(x):
    return E.tgt_implglobal(x)


@njit
def x_flavor(x):
    return E.tgt_flavor(x)


@njit
def x_lower(x):
    return E.tgt_low(x)


@njit
def x_fm(a):
    return E.tgt_fm(a)


@njit
def x_viacallee(x):
    return E.tgt_viacallee(x)


@njit
def x_nested(x):
    return E.tgt_nested(x)


@njit
def x_strlit(x):
    return E.tgt_str(x, "fast")


@vectorize(["float64(float64)"])
def x_vec(x):
    return E.tgt_vec(x)


@cfunc("float64(float64)")
def x_cfunc(x):
    return E.tgt_cf(x)


@jitclass([("v", float64)])
class XBox:
    def __init__(self, v):
        self.v = v

    def shifted(self):
        return E.tgt_jc(self.v)


@njit
def x_jcmethod(x):
    return XBox(x).shifted()


@njit
def x_interval(iv):
    return iv.hi - 2.0 * iv.lo


# -- extensions defined in this module -------------------------------------------------
@stencil
def k_st(a):
    return a[-1] + a[0] + 2 * a[1]


@njit
def x_stencil(a):
    return k_st(a)


@stencil(cval=0.5)
def k_cval(a):
    return a[-1] + a[1]


@njit
def x_stencil_cval(a):
    return k_cval(a)


@njit(inline="always")
def inl_callee(x):
    return x * 4.0


@njit
def x_inline(x):
    return inl_callee(x) + 1.0


# -- the sentinel: uses nothing above ---------------------------------------------------
@njit
def x_plain(x):
    return x * 1.25 + 0.5


# -- nothing in the image uses this (the "unrelated change" controls edit it) --------------
@njit
def x_unused(x):
    return x - 42.0


def x_python_helper(x):
    return x + 1
