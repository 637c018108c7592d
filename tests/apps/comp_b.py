"""Library B of tests/test_compose.py (its own image: comp_b.so)."""
from numba import njit

import comp_shared


@njit
def b_max(x):
    return comp_shared.scale(x).max()


@njit
def b_fib(n):
    return n if n < 2 else b_fib(n - 1) + b_fib(n - 2)
