"""Gufuncs of every builder kind (tests/test_gufuncs.py serves them from an image)."""
import numpy as np
from numba import guvectorize, njit, vectorize


@njit
def weight(x):
    return x * 2.0 + 1.0


@guvectorize(["void(float64[:], float64[:])", "void(float32[:], float32[:])"], "(n)->(n)")
def cumweight(a, out):
    """Eager cpu gufunc whose kernel calls another @njit function."""
    s = 0.0
    for i in range(a.shape[0]):
        s += weight(a[i])
        out[i] = s


@guvectorize(["void(float64[:], float64, float64[:])", "void(float32[:], float32, float32[:])"],
             "(n),()->()", target="parallel")
def pscaled_sum(a, b, out):
    """Eager parallel-target gufunc: a bare np.ufunc from _internal.fromfunc."""
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * b
    out[0] = s


@guvectorize("(n)->()", nopython=True)
def dyn_sum(a, out):
    """Dynamic gufunc: compiled at first call for the element types seen."""
    s = 0
    for i in range(a.shape[0]):
        s += a[i]
    out[0] = s


@guvectorize(["void(float64[:], float64[:])"], "(n)->()", identity=0, cache=True)
def edited_max(a, out):
    """The staleness test edits this kernel."""
    m = a[0]
    for i in range(a.shape[0]):
        if a[i] > m:
            m = a[i]
    out[0] = m


@vectorize(["float64(float64, float64)", "int64(int64, int64)"], target="parallel")
def padd3(a, b):
    """Parallel @vectorize: a ParallelUFuncBuilder, the same builder path."""
    return a + b * 3


@njit
def jit_calls_gufunc(a):
    """A jitted function whose code calls a gufunc (served as one entry)."""
    out = np.empty_like(a)
    cumweight(a, out)
    return out.sum()


def _rewritten(term: str):
    """Like numbagg's AST rewrite: exec'd code, no source file, every kernel has the same name."""
    src = ("def __rewritten(a, out):\n    s = 0.0\n    for i in range(a.shape[0]):\n"
           f"        s += {term}\n    out[0] = s\n")
    scope: dict = {}
    exec(compile(src, "<ast>", "exec"), globals(), scope)
    return scope["__rewritten"]


exec_sum = guvectorize(["void(float64[:], float64[:])"], "(n)->()")(_rewritten("a[i]"))
exec_sumsq = guvectorize(["void(float64[:], float64[:])"], "(n)->()")(_rewritten("a[i] * a[i]"))
exec_sumcube = guvectorize(["void(float64[:], float64[:])"], "(n)->()",
                           target="parallel")(_rewritten("a[i] ** 3"))
