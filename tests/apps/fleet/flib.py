"""Jitted functions served to Dask and Ray workers (tests/test_fleet.py, scripts/bench_fleet.py)."""
import numpy as np
from numba import njit


@njit
def poly(x):
    return 3.0 * x * x - 2.0 * x + 1.0


@njit
def work(n):
    s = 0
    for i in range(n):
        s += i * i % 7
    return s


@njit
def total(a):
    s = 0.0
    for v in a:
        s += poly(v)
    return s


@njit
def smooth(a, k):
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        lo = max(0, i - k)
        out[i] = a[lo:i + 1].mean()
    return out
