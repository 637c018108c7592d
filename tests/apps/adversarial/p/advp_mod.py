"""A module the app reloads with importlib.reload() after a first call (adversarial
harness, class 4); cases rewrite this file between the two calls."""
from numba import njit

RK = 1.0


@njit
def p_rl(x):
    return x * 2.0


@njit
def p_rl_global(x):
    return x + RK
