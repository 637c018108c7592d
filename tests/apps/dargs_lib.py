"""Jitted functions passed as arguments (issue 25): the specializations of a caller whose
argument types name a jitted function (``types.Dispatcher``), and ``typed.List.sort(key=...)``,
which wraps its key in a new ``njit`` dispatcher at every call."""
import numpy as np
from numba import jit, njit
from numba.typed import List


@njit
def apply(f, a):
    """``f`` passed as an argument: its compiled code is called from apply's."""
    return f(a) * 2.0 + 1.0


@njit
def twice(x):
    return x * 3.5 - 1.0


def make_scale(k):
    """A jitted function made inside a function (found by no name), over a closure."""
    @njit
    def scale(x):
        return np.sin(x) * k
    return scale


def plain_key(x):
    """A plain function used as a sort key: ``sort`` wraps it in a new ``njit`` each time."""
    return np.cos(x)


def sort_by(values, key, reverse=False):
    lst = List([float(v) for v in values])
    lst.sort(key=key, reverse=reverse)
    return np.array(list(lst))


def make_objmode_caller(k):
    """Object-mode code calling a jitted function made inside a function: its environment
    holds that dispatcher (a closure cell), found by no name in another process."""
    @njit
    def inner(x):
        return x * k - 0.25

    @jit(forceobj=True)
    def outer(x):
        return inner(x + 4.0)
    return outer


def make_sorter(sign):
    """Jitted code using a jitted function made inside a function as a value (its key):
    Numba embeds that dispatcher's address, found at install in the closure cell."""
    @njit
    def keyfn(x):
        return sign * x

    @njit
    def udt(lst):
        lst.sort(key=keyfn)
        return lst
    return udt


def sort_in_jit(sorter, values):
    return np.array(list(sorter(List([float(v) for v in values]))))


@njit
def sort_arrays_by_sum(lst):
    """A lambda in jitted code passed as a key: Numba makes a jitted function of it while
    compiling and embeds its address (made again from the code constant at install)."""
    lst.sort(key=lambda arr: np.sum(arr))
    return lst


def sort_arrays(arrays):
    return np.concatenate(list(sort_arrays_by_sum(List(arrays))))
