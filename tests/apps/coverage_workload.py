"""Training workload of tests/test_kinds_coverage.py: each function of coverage_lib once."""
import numpy as np

import coverage_lib as lib

lib.sqrt_of(2.0)
lib.npsqrt_of(np.arange(4.0))
lib.len_of((1, 2, 3))
np.random.random(5)          # NumPy's generator state moves on (the closure's code does not)
lib.draw(3, 1)
apply, _ = lib.make_rebindable()
apply(9.0)
lib.objmode_fn(2, {"a": 1})
lib.objmode_loop(5)
lib.push(1)
lib.kernel(np.arange(5.0))
