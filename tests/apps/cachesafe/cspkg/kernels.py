"""cache=True kernels for tests/test_cache_safety.py (the issue's reproducer).

``outer_*(X, k=3)`` is in the image; ``flag=True`` is a miss whose JIT code
calls the image's ``inner``; ``standalone`` is a miss that links no image code.
"""
import numba
import numpy as np


@numba.njit(cache=True)
def inner(row):
    s = 0.0
    for j in range(row.shape[0]):
        s += row[j] * row[j]
    return s


@numba.njit(parallel=True, cache=True)
def outer_par(data, k=10, flag=False):
    res = np.zeros(data.shape[0])
    for i in numba.prange(data.shape[0]):
        res[i] = inner(data[i]) * k
    return res if flag else np.sqrt(res)


@numba.njit(cache=True)
def outer_seq(data, k=10, flag=False):
    res = np.zeros(data.shape[0])
    for i in range(data.shape[0]):
        res[i] = inner(data[i]) * k
    return res if flag else np.sqrt(res)


@numba.njit(cache=True)
def standalone(x):
    return x * 2.5 + 1.0
