"""Jitted functions whose compiled code depends on values reached through objects
(adversarial harness, class 2). Each case of tests/test_adversarial.py changes one value."""
import numpy as np
from numba import njit

import advv_cfg
import advv_kinds as K
from advv_kinds import REC, SCALE2, Acc, Color, Level, Pt, Wk


# -- a jitted callee's default argument; the caller's own default ------------------------
@njit
def _defcallee(x, k=3.0):
    return x * k


@njit
def v_default(x):
    return _defcallee(x)


@njit
def v_owndefault(x, k=3.0):
    return x * k


@njit
def _defarr(x, w=np.array([1.0, 2.0])):
    return x * w[1]


@njit
def v_default_array(x):
    return _defarr(x)


# -- enums ----------------------------------------------------------------------------------
@njit
def v_enum():
    return Color.GREEN.value * 10


@njit
def v_intenum(x):
    return x + Level.HIGH


@njit
def v_enum_cmp(c):
    if c == Color.RED:
        return 1
    return 0


# -- a namedtuple's field order (built in jitted code; passed as an argument) ---------------------------------------------------
@njit
def v_nt_order():
    p = Pt(1.0, 2.0)
    return p.x - 2.0 * p.y


@njit
def v_nt_arg(p):
    return p.x - 2.0 * p.y


# -- a structured dtype's layout -------------------------------------------------------------
@njit
def v_dtype():
    a = np.zeros(2, dtype=REC)
    a[0].a = 1.5
    a[0].b = 7
    a[1].a = -2.0
    a[1].b = 9
    return a


# -- jitclass spec; a global read by a jitclass method ------------------------------------
@njit
def v_jitclass():
    acc = Acc(5)
    acc.n = acc.n * 1000000000
    return acc.total()


@njit
def v_jc_global():
    return Wk(2.0).get()


# -- a tuple of jitted functions held in a global; a global alias of one ------------------
@njit
def op_add(a, b):
    return a + b


@njit
def op_mul(a, b):
    return a * b


@njit
def op_sub(a, b):
    return a - b


OPS = (op_add, op_mul)
HELPER = op_add


@njit
def v_ops(x):
    return OPS[1](x, 3.0)


@njit
def v_alias(x):
    return HELPER(x, 3.0)


# -- module attributes at depth; through a module alias; imported by name ----------------------
@njit
def v_deep(x):
    return x * advv_cfg.params.SCALE


@njit
def v_modattr(x):
    return x + K.KFACTOR


@njit
def v_imported(x):
    return x * SCALE2


# -- the frozen globals of a jitted function passed as an argument --------------------------
FN_K = 4.0


@njit
def fn_target(x):
    return x * FN_K


@njit
def v_fnarg(f, x):
    return f(x) + 1.0


# -- constants: slice, ndarray subclass, tuple, string, numpy scalar, bool ------------------
SL = slice(1, 4)


@njit
def v_slice(a):
    return a[SL].sum()


class TaggedArray(np.ndarray):
    pass


TAGGED = np.arange(5.0).view(TaggedArray)


@njit
def v_subclass():
    return TAGGED[2] + TAGGED[4]


TUP = (1.5, 2.5, 4.0)


@njit
def v_tuple():
    return TUP[0] + TUP[2]


GREETING = "hello"


@njit
def v_str():
    return GREETING + "!"


NPS = np.float32(1.1)


@njit
def v_npscalar(x):
    return x * NPS


FLAG = False


@njit
def v_flag(x):
    if FLAG:
        return x * 2.0
    return x


# -- a global array read by two functions (cases mutate or rebind it between their calls) ----
GARR = np.array([1.0, 2.0, 3.0])


@njit
def v_arr_a():
    return GARR.sum()


@njit
def v_arr_b():
    return GARR[0] * 10.0


# -- a closure cell holding a constant, in a callee made by a factory ------------------------
def make_scaler(k):
    @njit
    def scaler(x):
        return x * k
    return scaler


SCALER = make_scaler(2.5)


@njit
def v_closure(x):
    return SCALER(x) + 1.0


# -- a closure cell holding an array, in a callee made by a factory ---------------------------
def make_weighted(w):
    @njit
    def weighted(x):
        return x * w[0]
    return weighted


WEIGHT_ARR = np.array([2.0, 1.0])
WEIGHTED = make_weighted(WEIGHT_ARR)


@njit
def v_closure_array(x):
    return WEIGHTED(x) - 1.0


# -- the sentinel: depends on nothing above ---------------------------------------------------
@njit
def v_plain(x):
    return x * 0.75 - 2.0


@njit
def v_unused(x):
    return x + 99.0
