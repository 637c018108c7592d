"""Functions called with every kind of argument a miss can have."""
import collections
import enum

import numba
import numpy as np
from numba import literally, njit, typed, types
from numba.experimental import jitclass

P = collections.namedtuple("P", "x y")


class Color(enum.Enum):
    RED = 1
    BLUE = 2


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 5


@jitclass([("a", numba.float64)])
class Acc:
    def __init__(self, a):
        self.a = a


@njit
def twice(x):
    return 2 * x


@njit
def first(x):
    return x


@njit
def total(a):
    return a.sum()


@njit
def fields(r):
    return r.x + r.y


@njit
def pair(t):
    return t[0] + t[1]


@njit
def maybe(x):
    return 0 if x is None else x


@njit
def size(c):
    return len(c)


@njit
def lookup(d):
    return d["a"]


@njit
def scaled(o):
    return o.a * 2.0


@njit
def call(f, x):
    return f(x)


@njit
def is_red(c):
    return c == Color.RED


@njit
def level(v):
    return v * 2


@njit
def lit(n):
    return literally(n) + 1


@njit
def dflt(x, y=2.5):
    return x + y


def calls():
    rec = np.zeros(3, dtype=[("x", "f8"), ("y", "i4")])
    rec["x"] = [1.5, 2.5, 3.5]
    rec["y"] = [1, 2, 3]
    ro = np.arange(4.0)
    ro.setflags(write=False)
    lst = typed.List([1.0, 2.0])
    dct = typed.Dict.empty(types.unicode_type, types.int64)
    dct["a"] = 7
    return [
        first(3), first(2.5), first(1 + 2j), first(True), first(np.float32(1.5)), first(np.int8(3)),
        total(np.arange(6).reshape(2, 3)), total(np.ones((3, 2), np.float32, order="F")),
        total(np.arange(10.0)[::2]), total(ro), total(np.arange(3, dtype=np.complex128)),
        total(rec["y"]), fields(rec[1]), pair((1, 2)), pair((1, 2.5)), pair(P(3, 4.5)), pair(P(1, 2)),
        maybe(None), size("héllo"), size(lst), lookup(dct), scaled(Acc(1.25)), call(twice, 4),
        is_red(Color.RED), is_red(Color.BLUE), level(Level.HIGH), lit(3), dflt(1.0),
        fields(np.ones(2, dtype=np.dtype([("y", "u1"), ("x", "f8")], align=True))[0]),
    ]
