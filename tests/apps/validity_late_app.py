"""Late activation (tests/test_validity.py): the program's dispatchers exist, and one was
compiled, before ``snapshot.runtime.activate`` is called."""
import sys

import numpy as np

import validity_lib as v

print("before", v.abs_lazy(-3))                     # compiled by the JIT before activation
from snapshot import runtime  # noqa: E402

rt = runtime.activate(sys.argv[1], report=sys.argv[2])
assert rt is not None
import snaptest_forbid  # noqa: E402

snaptest_forbid.forbid()
print("scaled", v.scaled(2.0))                       # created before activation, not used: served
print("clipped", v.clipped(5.0))
print("reduce", v.make_reduce(v._sum)(np.arange(5.0)))
print("after", v.abs_lazy(-3))                      # keeps its JIT code
