"""Training workload of tests/test_cpu_variants.py: the app's calls, smaller."""
import numpy as np

import cpuvar_lib as L

a = np.linspace(0.0, 1.0, 17)
L.dot(a, a)
L.norm2(a)
L.axpy(2.0, a, a)
L.combine(a, a)
L.tally(10)
