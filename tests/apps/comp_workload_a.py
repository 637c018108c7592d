import numpy as np

import comp_a
import comp_shared

x = np.linspace(0.0, 1.0, 7)
comp_a.a_sum(x)
comp_a.a_sq(x)
comp_shared.scale(x)
