"""App of tests/test_kinds_coverage.py: closures over builtins, object-mode functions and
generated code, served; with --other, closures of the same code holding other builtins or
objects and generated code reading another value (each a miss computing what the JIT does)."""
import math
import sys

import numpy as np

import snaptest_forbid  # noqa: F401  (SNAPTEST_FORBID_COMPILE=1: compiling raises)

import coverage_lib as lib

np.random.seed(12345)                # another NumPy generator state than the training run's
np.random.random(7)
print(("sqrt", repr(lib.sqrt_of(2.0))))
print(("npsqrt", lib.npsqrt_of(np.arange(4.0)).tolist()))
print(("len", lib.len_of((1, 2, 3))))
print(("draw", lib.draw(3, 1).tolist()))
print(("objmode_fn", lib.objmode_fn(2, {"a": 1})))
print(("objmode_loop", lib.objmode_loop(5)))
lib.SCALE = 10
print(("objmode_global", lib.objmode_fn(2, {"b": 1})))
print(("objmode_state", lib.objmode_fn.signatures, lib.objmode_fn.nopython_signatures,
       len(lib.objmode_fn.overloads)))
print(("objmode_closure", lib.push(1), lib.push(2), lib.box))
print(("objmode_eager", lib.objmode_eager(4), lib.objmode_eager.signatures))
print(("generated", repr(lib.kernel(np.arange(5.0)))))
if "--other" in sys.argv:
    print(("cos", repr(lib.make_unary(math.cos)(2.0))))
    print(("npexp", lib.make_unary(np.exp)(np.arange(4.0)).tolist()))
    apply, rebind = lib.make_rebindable()
    rebind(math.log)
    print(("rebound", repr(apply(9.0))))
    other = []
    push2 = lib.make_pusher(other)          # same code, equal cells, another list: its own code
    print(("objmode_other_closure", push2(5), other, lib.push(3), lib.box))
    print(("generated_other", repr(lib.make_kernel(3.0)(np.arange(5.0)))))   # K differs: stale
