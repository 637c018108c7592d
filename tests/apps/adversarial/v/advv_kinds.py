"""Types and values the jitted code of advv_lib reaches through objects (adversarial
harness, class 2): enums, namedtuples, a structured dtype, jitclasses, constants imported
by name."""
from collections import namedtuple
from enum import Enum, IntEnum

import numpy as np
from numba import float64, int32
from numba.experimental import jitclass


class Color(Enum):
    RED = 1
    GREEN = 2


class Level(IntEnum):
    LOW = 1
    HIGH = 7


Pt = namedtuple("Pt", ["x", "y"])

REC = np.dtype([("a", np.float64), ("b", np.int32)])

SCALE2 = 3.0          # imported by name into advv_lib
KFACTOR = 0.5         # read as advv_kinds.KFACTOR


@jitclass([("n", int32), ("v", float64)])
class Acc:
    def __init__(self, n):
        self.n = n
        self.v = 0.25

    def total(self):
        return self.n + self.v


JC_K = 1.5


@jitclass([("w", float64)])
class Wk:
    def __init__(self, w):
        self.w = w

    def get(self):
        return self.w * JC_K
