"""Functions whose compiled code depends on the state of the process (adversarial harness,
class 4): numba.config / NUMBA_* settings, the CPU, warning filters, a global array
mutated at run time."""
import numpy as np
from numba import njit


# -- bounds checking: an index past the view, inside the base array (deterministic without
#    checks: it reads the base's next element; with them: IndexError) -----------------------
@njit
def p_oob(a, i):
    return a[i]


@njit(boundscheck=True)
def p_oob_checked(a, i):
    return a[i]


# -- fast-math: a reduction and a*b+c round differently with the vector width and FMA ---------
@njit(fastmath=True)
def p_fsum(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i]
    return s


@njit(fastmath=True)
def p_fma(a, b, c):
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        out[i] = a[i] * b[i] + c[i]
    return out


# -- its compilation warns (NumbaPerformanceWarning: nothing to parallelize) ------------------
@njit(parallel=True)
def p_par(x):
    return x + 1.0


# -- a global array read by two functions --------------------------------------------------------
GARR = np.array([1.0, 2.0, 3.0])


@njit
def p_garr_a():
    return GARR.sum()


@njit
def p_garr_b():
    return GARR[0] * 10.0


# -- a global array read by one function compiled for two signatures ----------------------------
GSIG = np.array([1.0, 2.0, 3.0])


@njit
def p_gsig(x):
    return GSIG[1] * x


# -- the sentinel ------------------------------------------------------------------------------
@njit
def p_quiet(x):
    return x * 2.0 + 1.0
