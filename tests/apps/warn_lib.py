"""Functions whose compilation warns (tests/test_compile_warnings.py), each in another way
Numba gives warnings (numba_seam/compile_warnings.py): from a compiler pass, every
compilation (``parallel=True`` with nothing to parallelize; a reflected list argument,
a pending deprecation that Python's default filters hide); while typing, only at the
first compilation in the process that types the call (np.dot on a non-contiguous array,
an unsafe cast of a typed dict's key); and from a callee compiled while its caller is
typed."""
import numpy as np
from numba import njit
from numba.typed import Dict


@njit(parallel=True)
def par_nothing(x):
    return x + 1


@njit
def reflected(lst):
    return len(lst)


@njit
def dot_noncontig(a, b):
    return np.dot(a, b)


@njit
def dot_again(a, b):
    return np.dot(a, b) + 1.0        # the same typing as dot_noncontig's: it warns only once


@njit
def unsafe_cast(k1, v1, k2):
    d = Dict()
    d[k1] = v1
    return d[k2]


@njit
def caller_of_par(x):
    return par_nothing(x) * 2


@njit
def quiet(x):
    return x * 3
