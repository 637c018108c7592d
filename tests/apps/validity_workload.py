"""Training workload of tests/test_validity.py."""
import numpy as np

import validity_lib as v

print(v.scaled(2.0))
add_f = v.configured("add")
print(add_f(5))
mul_f = v.configured("mul")
print(mul_f(5))
print(v.make_reduce(v._sum)(np.arange(5.0)))
g, h = v.lambdas()
print(g(3))
print(v.first_redefined(1))
print(v.div_int(8, 3))
print(v.abs_lazy(-3), v.abs_eager(-3.0))
print(v.clipped(5.0))
raiser, LocalError = v.make_raiser()
try:
    raiser(-1.0)
except LocalError as e:
    print("caught", e)
