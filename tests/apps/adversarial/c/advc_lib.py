"""Classes keyed by name (adversarial harness, class 3): factories that make, per call, a
class of the same name (an IntEnum, an exception, a namedtuple, a jitclass) and a jitted
closure using it; a module global rebound to another class of the same name."""
from collections import namedtuple
from enum import IntEnum

from numba import float64, int64, njit
from numba.experimental import jitclass


# -- an IntEnum class per closure: a constant the jitted code reads -----------------------
def make_mode(k):
    class Mode(IntEnum):
        A = k
        B = k + 1

    @njit
    def use_mode(x):
        return x * Mode.A.value + Mode.B.value
    return use_mode


mode2 = make_mode(2)
mode3 = make_mode(3)


# -- an exception class per closure, raised by the jitted code, caught by the caller --------
def make_error(tag):
    class DomainError(Exception):
        pass

    @njit
    def check(x):
        if x < 0:
            raise DomainError("negative input")
        return x
    return check, DomainError


check_a, ErrA = make_error("a")
check_b, ErrB = make_error("b")


# -- a namedtuple class per closure (field order differs) -----------------------------------
def make_pair(order):
    Pair = namedtuple("Pair", order)

    @njit
    def use_pair(a, b):
        p = Pair(a, b)
        return p.x - 2.0 * p.y
    return use_pair


pair_xy = make_pair(["x", "y"])
pair_yx = make_pair(["y", "x"])


# -- a jitclass per closure: same name, spec and methods' code, another closure constant -----
def make_box(k):
    @jitclass([("v", float64)])
    class Box:
        def __init__(self, v):
            self.v = v

        def get(self):
            return self.v * k

    @njit
    def use_box(x):
        return Box(x).get()
    return use_box


box2 = make_box(2.0)
box5 = make_box(5.0)


# -- a jitclass per closure: same name and methods, another field type ----------------------
def make_cell(ty):
    @jitclass([("n", ty)])
    class Cell:
        def __init__(self, n):
            self.n = n

        def twice(self):
            return self.n * 2

    @njit
    def use_cell(x):
        return Cell(x).twice()
    return use_cell


cell_f = make_cell(float64)
cell_i = make_cell(int64)


# -- a module global rebound to another class of the same name between two dispatchers -------
class Unit(IntEnum):
    K = 2


def _use_unit(x):
    return x * Unit.K.value


def configured_unit(k):
    """A new dispatcher of _use_unit, under a new class ``Unit`` (same name) with K = k."""
    global Unit
    Unit = IntEnum("Unit", {"K": k})
    return njit(_use_unit)


# -- a module-level exception class raised by jitted code ------------------------------------
class LimitError(Exception):
    pass


@njit
def c_limit(x):
    if x > 10.0:
        raise LimitError("over the limit")
    return x


# -- the sentinel ------------------------------------------------------------------------------
@njit
def c_plain(x):
    return x * 3.0 - 0.5
