"""Library A of tests/test_compose.py (its own image: comp_a.so)."""
from numba import njit, vectorize

import comp_shared


@njit
def a_sum(x):
    return comp_shared.scale(x).sum()


@vectorize
def a_sq(x):
    return x * x + 1.0
