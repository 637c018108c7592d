"""Training workload: the served specializations."""
import numpy as np

from cspkg.kernels import outer_par, outer_seq

X = np.arange(12.0).reshape(4, 3)
outer_par(X, k=3)
outer_seq(X, k=3)
