"""snaplib's training workload (snap create --package snaplib): every function with the
argument types its users call it with; small data, the types are what count.

It also compiles a function of its own: the library image leaves it out (it is
not in the package), as it would leave out a test helper."""
import numpy as np
from numba import njit

import snaplib


@njit
def local_helper(x):          # the workload's own: "not in package snaplib"
    return x.sum()


x64 = np.linspace(-3.0, 3.0, 50)
x32 = x64.astype(np.float32)
snaplib.axpy(2.0, 3.0, 1.0)
snaplib.axpy(2, 3, 1)
snaplib.smooth(x64, 3)
snaplib.smooth(x32, 3)
snaplib.weighted_norm(x64, x64)
snaplib.clipped_sum(x64, -1.0, 1.0)
snaplib.clipped_sum(np.arange(10), 2, 5)
snaplib.logistic(x64)
snaplib.logistic(x32)
snaplib.softsign(x64)
snaplib.softsign(x32)
local_helper(x64)
