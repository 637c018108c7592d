"""``annotated`` JIT-compiles a signature the image lacks (which adds the versioned names
to its locals dict) before asking for one the image has: that one is still served."""
import numpy as np

import snaptest_forbid
import seamfix_lib as s

print("jit", s.annotated(np.arange(5)))          # int64: not in the image
snaptest_forbid.forbid()
print("image", s.annotated(np.arange(5.0)))      # float64: served
