import numpy as np

import comp_b
import comp_shared

x = np.linspace(0.0, 1.0, 7)
comp_b.b_max(x)
comp_b.b_fib(10)
comp_shared.scale(x)
