"""App-level functions built on top of library B's image (tests/test_compose.py, --base)."""
from numba import njit

import comp_b


@njit
def top(v):
    return comp_b.b_max(v) + comp_b.b_fib(5)
