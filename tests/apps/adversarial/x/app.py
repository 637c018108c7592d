"""Adversarial harness, group x (class 1: code the compiler ran that is not a jitted
function's own code). Also the training workload: no arguments runs every item.
Cases edit this file at the #@ markers (process state) or the modules it imports."""
import os  # noqa: F401
import sys  # noqa: F401
import warnings  # noqa: F401
#@PRELUDE
import numpy as np
import numba  # noqa: F401
#@AFTER_NUMBA
import snaptest_forbid  # noqa: F401
from adv_runner import main

import advx_ext as E
import advx_lib as L
#@AFTER_IMPORT


def before(name):
    pass
#@HOOKS


FM_DATA = np.array([1e16, 1.0, -1e16, 1.0, 3.0, 1e-3, -7.5, 2.0] * 16) * np.linspace(1, 2, 128)

ITEMS = {
    "x_cond": lambda: L.x_cond(1.5),
    "x_body": lambda: L.x_body(1.5),
    "x_inl_ovl": lambda: L.x_inl_ovl(1.5),
    "x_method": lambda: L.x_method(np.arange(4.0)),
    "x_attr": lambda: L.x_attr(np.array([1.0, 4.0, 2.5])),
    "x_lit": lambda: L.x_lit(2.0),
    "x_literally": lambda: L.x_literally(2.0, 4),
    "x_intrinsic": lambda: L.x_intrinsic(10, 3),
    "x_intr_const": lambda: L.x_intr_const(2.0),
    "x_rj": lambda: L.x_rj(1.5),
    "x_helper": lambda: L.x_helper(1.5),
    "x_mode": lambda: L.x_mode(1.5),
    "x_implglobal": lambda: L.x_implglobal(1.5),
    "x_flavor": lambda: L.x_flavor(1.5),
    "x_lower": lambda: L.x_lower(1.5),
    "x_fm": lambda: L.x_fm(FM_DATA),
    "x_viacallee": lambda: L.x_viacallee(1.5),
    "x_nested": lambda: L.x_nested(1.5),
    "x_stencil": lambda: L.x_stencil(np.arange(6.0)),
    "x_stencil_cval": lambda: L.x_stencil_cval(np.arange(6.0)),
    "x_inline": lambda: L.x_inline(1.5),
    "x_strlit": lambda: L.x_strlit(1.5),
    "x_vec": lambda: L.x_vec(np.array([1.0, 2.0, 3.0])),
    "x_cfunc": lambda: L.x_cfunc.ctypes(1.5),
    "x_jcmethod": lambda: L.x_jcmethod(1.5),
    "x_interval": lambda: L.x_interval(E.Interval(1.0, 5.0)),
    "x_plain": lambda: L.x_plain(1.5),
}

main(ITEMS, before)
