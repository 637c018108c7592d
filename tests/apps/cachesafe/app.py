"""Served calls, then misses that link image code, then a miss that does not."""
import numpy as np

from cspkg.kernels import outer_par, outer_seq, standalone

X = np.arange(12.0).reshape(4, 3)
for f in (outer_par, outer_seq):
    print(f(X, k=3).tolist())
    print(f(X, k=3, flag=True).tolist())
print(standalone(np.arange(3.0)).tolist())
