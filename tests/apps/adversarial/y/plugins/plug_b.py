"""A plugin (loaded by spec as module "advy_plug", as plug_a is)."""
from numba import njit

K = 3.0


@njit
def run(x):
    return x * K
