"""Calls with jitted functions passed as arguments; ``--other`` passes functions of other
code or other closures than the training run's (to be JIT-compiled, never served)."""
import sys

import numpy as np

import snaptest_forbid  # noqa: F401 - SNAPTEST_FORBID_COMPILE=1: any compilation raises
import dargs_lib as lib

OTHER = "--other" in sys.argv
a = np.linspace(-2.0, 3.0, 11)
vals = [0.3, -1.25, 2.5, 0.1, 7.0, -3.5, 1e-3]


def show(label, x):
    x = np.asarray(x, dtype=np.float64)
    print((label, x.tobytes().hex()))


if not OTHER:
    show("apply_global", lib.apply(lib.twice, a))
    g = lib.make_scale(1.5)
    show("apply_local", lib.apply(g, a))
    show("apply_local_scalar", lib.apply(g, 0.75))
    print(("signatures", [str(s) for s in g.signatures], len(lib.apply.signatures)))
    show("sort_lambda", lib.sort_by(vals, lambda x: 1.0 / (1.0 + x * x)))
    show("sort_lambda_rev", lib.sort_by(vals, lambda x: 1.0 / (1.0 + x * x), reverse=True))
    show("sort_neg", lib.sort_by(vals, lambda x: -x))
    show("sort_plain", lib.sort_by(vals, lib.plain_key))
    show("objmode_cell", lib.make_objmode_caller(1.5)(2.0))
    show("sort_in_jit", lib.sort_in_jit(lib.make_sorter(-1.0), vals))
    show("sort_arrays", lib.sort_arrays([a * k for k in (3.0, -1.0, 2.0, 0.5)]))
else:
    # another closure value (same code), other code under the same names
    show("apply_local", lib.apply(lib.make_scale(-0.5), a))
    show("sort_lambda", lib.sort_by(vals, lambda x: x * x - 1.0))
    show("sort_neg", lib.sort_by(vals, lambda x: x))
    show("objmode_cell", lib.make_objmode_caller(-2.0)(2.0))
    show("sort_in_jit", lib.sort_in_jit(lib.make_sorter(2.0), vals))
    # the training run's closure value again, in a second closure: the image's code holds the
    # first one's address (one code, one address): compiled by the JIT
    show("sort_in_jit_again", lib.sort_in_jit(lib.make_sorter(-1.0), vals))
    show("sort_in_jit_again2", lib.sort_in_jit(lib.make_sorter(-1.0), vals))
