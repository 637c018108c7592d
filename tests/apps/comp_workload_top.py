"""Training workload of the incremental image (tests/test_compose.py, snap create --base comp_b.so)."""
import numpy as np

import comp_b
import comp_top

x = np.linspace(0.0, 1.0, 7)
comp_top.top(x)
comp_b.b_max(x)           # served by the base in the training run: not in the new image
