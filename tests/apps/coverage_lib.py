"""Closures holding builtin functions (issue 25, item 3): Numba compiles each closure with
its cells' values frozen, so a closure over ``math.sqrt`` and one over ``math.cos`` made by
one factory are different code; the image must tell them apart by what the cell holds."""
import math

import numpy as np
from numba import jit, njit


def make_unary(fn):
    """A jitted closure calling the builtin (or ufunc) it holds."""
    @njit
    def apply(x):
        return fn(x)
    return apply


def make_len(fn):
    @njit
    def length(t):
        return fn(t) * 2
    return length


def make_rebindable():
    """A closure whose cell can be rebound before its first call (the new builtin is what
    Numba compiles, not the one the cell held when the closure was made)."""
    fn = math.sqrt

    @njit
    def apply(x):
        return fn(x)

    def rebind(new):
        nonlocal fn
        fn = new
    return apply, rebind


def make_random(fn):
    """A closure over a method of NumPy's global RandomState (``np.random.random``): drawing
    numbers changes the generator's state, not the code Numba compiles."""
    @njit
    def draw(n, seed):
        np.random.seed(seed)
        out = np.empty(n)
        for i in range(n):
            out[i] = fn()
        return out
    return draw


sqrt_of = make_unary(math.sqrt)
npsqrt_of = make_unary(np.sqrt)
len_of = make_len(len)
draw = make_random(np.random.random)


# ------------------------------------------------------------------ object mode
SCALE = 3


@jit(forceobj=True)
def objmode_fn(x, d):
    """Object mode: reads the global SCALE when it runs (rebinding it changes the result
    without compiling again, under the JIT and from the image)."""
    d = dict(d)
    d["k"] = sorted(d) + [x * SCALE, "s"]
    return d


@jit(forceobj=True, looplift=False)
def objmode_loop(n):
    acc = []
    for i in range(n):
        acc.append(str(i))
    return ",".join(acc)


def make_pusher(store):
    """An object-mode closure: its code holds ``store`` itself (the caller sees what it appends)."""
    @jit(forceobj=True, looplift=False)
    def push(x):
        store.append(x)
        return len(store)
    return push


box = []
push = make_pusher(box)


# ------------------------------------------------------------------ generated code
# exec'd in globals of its own (no __name__, as code generators do): Numba's cache refuses its
# environment; its nopython code reads only the environment's constants
KERNEL_SRC = """
def kernel(a):
    s = 0.0
    for x in a:
        s += np.sqrt(x) * K
    return s
"""


def make_kernel(k):
    ns = {"np": np, "K": k}
    exec(KERNEL_SRC, ns)
    return njit(ns["kernel"])


kernel = make_kernel(2.0)


@jit("int32(int32)", forceobj=True)
def objmode_eager(x):
    """Object mode with a declared signature: compiled returning pyobject, requested as int32."""
    return x + SCALE
