"""A plugin (loaded by spec as module "advy_plug", as plug_b is)."""
from numba import njit

K = 2.0


@njit
def run(x):
    return x * K
