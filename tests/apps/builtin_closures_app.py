"""App of tests/test_kinds_coverage.py: the workload's closures over builtins (served), then
with --other closures of the same code holding other builtins (each must be a miss that
computes with the builtin held, never the image's code of the old one)."""
import math
import sys

import numpy as np

import builtin_closures_lib as lib

np.random.seed(12345)                # another NumPy generator state than the training run's
np.random.random(7)
print(("sqrt", repr(lib.sqrt_of(2.0))))
print(("npsqrt", lib.npsqrt_of(np.arange(4.0)).tolist()))
print(("len", lib.len_of((1, 2, 3))))
print(("draw", lib.draw(3, 1).tolist()))
if "--other" in sys.argv:
    print(("cos", repr(lib.make_unary(math.cos)(2.0))))
    print(("npexp", lib.make_unary(np.exp)(np.arange(4.0)).tolist()))
    apply, rebind = lib.make_rebindable()
    rebind(math.log)
    print(("rebound", repr(apply(9.0))))
