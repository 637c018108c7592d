"""Small repros of snap bugs found on real code (tests/test_seam_regressions.py)."""
import ctypes
import ctypes.util

import numpy as np
from numba import float64, int64, intp, njit, types, uint16
from numba.experimental import jitclass


# -- 1. locals= of variables Numba's SSA pass versions: compiling adds "i.1", "acc.2"...
#       to the dispatcher's locals dict (pynndescent.utils.simple_heap_push) ------------
@njit(locals={"i": int64, "acc": float64})
def annotated(x):
    acc = 0.0
    i = 0
    for i in range(x.shape[0]):
        acc += x[i]
    if acc > 3:
        acc = acc * 2
    return acc, i


@njit("i4(f4[::1],i4[::1],f4,i4)", locals={"size": intp, "i": uint16, "ic1": uint16,
                                          "ic2": uint16, "i_swap": uint16})
def heap_push(priorities, indices, p, n):
    """pynndescent's simple_heap_push: an eager signature, compiled at import."""
    if p >= priorities[0]:
        return 0
    size = priorities.shape[0]
    priorities[0] = p
    indices[0] = n
    i = 0
    while True:
        ic1 = 2 * i + 1
        ic2 = ic1 + 1
        if ic1 >= size:
            break
        elif ic2 >= size:
            if priorities[ic1] > p:
                i_swap = ic1
            else:
                break
        elif priorities[ic1] >= priorities[ic2]:
            if p < priorities[ic1]:
                i_swap = ic1
            else:
                break
        else:
            if p < priorities[ic2]:
                i_swap = ic2
            else:
                break
        priorities[i] = priorities[i_swap]
        indices[i] = indices[i_swap]
        i = i_swap
    priorities[i] = p
    indices[i] = n
    return 1


# -- 2. one process address used twice in a function: llvmlite names the second global
#       "numba.dynamic.globals.<hex>.1" -------------------------------------------------
@jitclass([("v", int64)])
class Pair:
    def __init__(self, v):
        self.v = v


@njit
def two_instances(a):
    """Boxing two instances of one jitclass: its Box subclass's address, twice."""
    return Pair(a), Pair(a + 1)


_libm = ctypes.CDLL(ctypes.util.find_library("m"))
cos = _libm.cos
cos.restype, cos.argtypes = ctypes.c_double, [ctypes.c_double]


@njit
def cos_pair(x):
    """libm's cos through a module-level ctypes pointer, called twice: a named address."""
    return cos(x) + cos(x + 1.0)


STRIDED = np.arange(20.0)[::2]


@njit
def read_strided_twice(i):
    """A non-contiguous global array: Numba embeds its data address (cannot be relocated)."""
    return STRIDED[i] + STRIDED[i + 1]


# -- 3. an exception class made inside a function, raised by a jitted function that its
#       caller's code calls (directly, as a first-class function value, or passed in) ----
def make_checker():
    class LocalError(Exception):
        pass

    @njit
    def check(x):
        if x < 0:
            raise LocalError("negative", x)
        return x * 2

    return LocalError, check


LocalError, check = make_checker()
fn_type = types.FunctionType(types.int64(types.int64))


@njit(types.int64(fn_type, types.int64))
def call_first_class(f, x):
    return f(x) + 1


@njit
def via_value(x):
    """``check`` used as a first-class function value (types.FunctionType)."""
    return call_first_class(check, x)


@njit
def via_tuple(x):
    fs = (check, check)
    s = 0
    for i in range(2):
        s += fs[i](x)
    return s


@njit
def direct(x):
    return check(x) + 3


def make_error():
    class FactoryError(Exception):
        pass
    return FactoryError


FactoryError = make_error()


@njit
def module_check(x):
    if x < 0:
        raise FactoryError("negative", x)
    return x - 1


@njit
def apply(f, x):
    """``f`` passed as an argument (a dispatcher type): its code is compiled into apply."""
    return f(x) * 10
