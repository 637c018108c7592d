"""A helper both composed libraries use (tests/test_compose.py): compiled into both images."""
from numba import njit


@njit
def scale(x):
    return x * 2.5
