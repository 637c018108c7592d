"""Code Numba runs while compiling, consulted through its caches (tests/test_validity_keys.py):
an @overload whose typing function decides on a module constant, an @intrinsic, a data model
and a type of the user's, each reused by a second function without running again."""
import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

MODE = "double"


def _pick(mode):
    return mode == "double"


def target(x):
    pass


@overload(target)
def _ov_target(x):
    if _pick(MODE):
        return lambda x: x * 2
    return lambda x: x * 3


@intrinsic
def add_one(typingctx, x):
    sig = x(x)

    def codegen(context, builder, signature, args):
        return builder.add(args[0], context.get_constant(signature.args[0], 1))
    return sig, codegen


@njit
def first(x):
    return target(x) + add_one(x)


@njit
def second(x):
    return target(x) + add_one(x) + 1


def make_overload(scale):
    """A factory registering an overload: its typing function is a closure."""
    def tgt(x):
        pass

    @overload(tgt)
    def _ov(x):
        return lambda x: x * scale

    @njit
    def use(x):
        return tgt(x)
    return use


use_three = make_overload(3)
TABLE = np.arange(4.0)
