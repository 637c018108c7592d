"""A plugin loaded from its file (importlib spec), not registered in sys.modules."""
from numba import njit

PK = 2.0


@njit
def _plugin_callee(x):
    return x + 0.5


@njit
def y_plugin(x):
    return _plugin_callee(x) * PK
