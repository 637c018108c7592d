"""Dispatchers of every shape whose state (signatures, overloads, stats...) the JIT
leaves after calls: tests/test_dispatcher_state.py compares it with an image's."""
import numpy as np
from numba import njit, literally, types
from numba.experimental import jitclass
from numba.extending import overload


@njit
def plain(x):
    return x + 1


@njit
def lit(x):
    return literally(x) * 2


def _kind(x):
    raise NotImplementedError


@overload(_kind, prefer_literal=True)
def _kind_ol(x):
    if isinstance(x, types.IntegerLiteral):
        v = x.literal_value
        return lambda x: v * 10
    return lambda x: x


@njit
def pref(x):
    return _kind(x)


@njit
def fact(n):
    return 1 if n <= 1 else n * fact(n - 1)


@njit
def is_even(n):
    return True if n == 0 else is_odd(n - 1)


@njit
def is_odd(n):
    return False if n == 0 else is_even(n - 1)


@njit
def callee(x):
    return x * 3


@njit
def caller(x):
    return callee(x) + 1


@njit("f8(f8)")
def eager(x):
    return x / 2


@njit
def gen(n):
    for i in range(n):
        yield i * i


@jitclass([("v", types.float64)])
class Acc:
    def __init__(self, v):
        self.v = v

    def add(self, d):
        self.v += d
        return self.v


def run() -> list:
    return [plain(1), plain(1.5), lit(3), pref(4), pref(4.5), fact(5), is_even(6),
            caller(2), eager(3.0), list(gen(4)), Acc(1.0).add(2.0)]


DISPATCHERS = ["plain", "lit", "pref", "fact", "is_even", "is_odd", "callee", "caller", "eager", "gen"]
