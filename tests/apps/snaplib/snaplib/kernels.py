"""snaplib's jitted functions: eager and lazy dispatchers, a callee, two ufuncs."""
import numpy as np
from numba import njit, vectorize


# Eager: compiled at import for both signatures (served at import from the image).
@njit(["float64(float64, float64, float64)", "int64(int64, int64, int64)"])
def axpy(a, x, y):
    return a * x + y


@njit(cache=False)
def _weight(i, n):
    return 1.0 - abs(2.0 * i / max(n - 1, 1) - 1.0)


# Lazy, compiled for the argument types it is called with; calls _weight.
@njit
def smooth(x, width):
    n = x.shape[0]
    out = np.empty_like(x)
    for i in range(n):
        acc = x[i] * 0
        tot = 0.0
        for j in range(max(0, i - width), min(n, i + width + 1)):
            w = _weight(j - i + width, 2 * width + 1)
            acc += x[j] * w
            tot += w
        out[i] = acc / tot
    return out


@njit
def weighted_norm(x, w):
    s = 0.0
    for i in range(x.shape[0]):
        s += w[i] * x[i] * x[i]
    return np.sqrt(s)


@njit
def clipped_sum(x, lo, hi):
    s = x[0] * 0
    for v in x:
        s += min(max(v, lo), hi)
    return s


# A lazy @vectorize (DUFunc): one loop per input type the program uses.
@vectorize
def logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


# An eager @vectorize: its loops are built at import.
@vectorize(["float64(float64)", "float32(float32)"])
def softsign(x):
    return x / (1 + abs(x))
