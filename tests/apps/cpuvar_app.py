"""App of tests/test_cpu_variants.py: prints its results bit for bit (stdout) and the image
variant it ran, if any (stderr)."""
import hashlib
import sys

import numpy as np

import snaptest_forbid  # noqa: F401  (SNAPTEST_FORBID_COMPILE=1: compiling raises)
import cpuvar_lib as L

rng = np.random.default_rng(7)
a = rng.standard_normal(1001)
b = rng.standard_normal(1001)
print("dot", L.dot(a, b).hex())
print("norm2", L.norm2(a).hex())
y = L.axpy(1.0 / 3.0, a, b)
print("axpy", hashlib.sha256(y.tobytes()).hexdigest()[:16], y[5].hex())
print("combine", L.combine(a, b).hex())
print("tally", L.tally(100000))
import snapshot  # noqa: E402
for rt in snapshot.active():
    print("variant", rt.variant.target, "|", rt.variant_reason, file=sys.stderr)
