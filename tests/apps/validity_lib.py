"""Functions whose identity or validity goes beyond module, qualname and signature
(tests/test_validity.py): frozen globals, per-configuration rebinding, exec-generated
code, lambdas and redefinitions, compile options, eager signatures, array defaults."""
import os

import numpy as np
from numba import int64, njit, vectorize

# -- frozen globals read at import --------------------------------------------------
SCALE = float(os.environ.get("SCALE", "1"))
TABLE = np.arange(8) * int(os.environ.get("MULT", "1"))


@njit
def scaled(x):
    return x * SCALE + TABLE[3]


# -- a library that rebinds globals and jits the same function per configuration --------
@vectorize(["int64(int64, int64)"])
def vadd(a, b):
    return a + b


@vectorize(["int64(int64, int64)"])
def vmul(a, b):
    return a * b


LUT = np.arange(4)
COMBINE = vadd


def _lookup_combine(x):
    return COMBINE(LUT[x % LUT.shape[0]], x)


def configured(kind):
    """A new dispatcher of _lookup_combine, under the globals of configuration ``kind``."""
    global LUT, COMBINE
    LUT = np.arange(4) * (3 if kind == "mul" else 1)
    COMBINE = vmul if kind == "mul" else vadd
    return njit(_lookup_combine)


# -- exec-generated kernels that differ only in a global ------------------------------
@njit
def _sum(a, b):
    return a + b


@njit
def _max(a, b):
    return max(a, b)


_KERNEL = """
def reduce(a):
    acc = a[0]
    for i in range(1, a.shape[0]):
        acc = append(acc, a[i])
    return acc
"""


def make_reduce(append):
    ns = {"append": append, "__name__": __name__}
    exec(compile(_KERNEL, "<generated reduce>", "exec"), ns)
    return njit(ns["reduce"])


# -- same module, qualname and signature, different code ------------------------------
def lambdas():
    g = njit(lambda x: x + 1)
    h = njit(lambda x: x * 100)
    return g, h


@njit
def redefined(x):
    return x + 1


first_redefined = redefined


@njit  # noqa: F811 - redefined on purpose: the same qualname, other code
def redefined(x):  # noqa: F811
    return x + 2


# -- compile options and eager signatures --------------------------------------------
def _div(a, b):
    c = a / b
    return c


div_plain = njit(_div)
div_int = njit(locals={"c": int64})(_div)


def _absval(x):
    return abs(x)


abs_lazy = njit(_absval)
abs_eager = njit("float64(float64)")(_absval)


# -- an array default argument (Numba's Omitted type, keyed by id() in each process) -----
@njit
def clipped(x, bounds=np.array([[-1.0, 1.5]])):
    return min(max(x, bounds[0, 0]), bounds[0, 1])


# -- an exception class made inside a function ----------------------------------------
def make_raiser():
    class LocalError(Exception):
        pass

    @njit
    def raiser(x):
        if x < 0:
            raise LocalError("negative")
        return x

    return raiser, LocalError
