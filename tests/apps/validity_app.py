"""App of tests/test_validity.py. ``served``: only what the image must serve (run with
compilation forbidden); ``all``: also what it must leave to the JIT."""
import sys

import numpy as np

import snaptest_forbid  # noqa: F401
import validity_lib as v

mode = sys.argv[1] if len(sys.argv) > 1 else "all"
out = []
out.append(("scaled", v.scaled(2.0)))
add_f = v.configured("add")
out.append(("add", add_f(5)))
mul_f = v.configured("mul")
out.append(("mul", mul_f(5)))
out.append(("reduce_sum", v.make_reduce(v._sum)(np.arange(5.0))))
g, h = v.lambdas()
out.append(("lambda_g", g(3)))
out.append(("first_redefined", v.first_redefined(1)))
out.append(("div_int", v.div_int(8, 3)))
out.append(("abs_lazy", v.abs_lazy(-3)))
out.append(("abs_eager", v.abs_eager(-3.0)))
out.append(("clipped", v.clipped(5.0)))
raiser, LocalError = v.make_raiser()
try:
    raiser(-1.0)
except LocalError as e:
    out.append(("local_error", f"caught {e}"))
if mode == "all":
    out.append(("reduce_max", v.make_reduce(v._max)(np.arange(5.0))))
    out.append(("lambda_h", h(3)))
    out.append(("redefined", v.redefined(1)))
    out.append(("div_plain", v.div_plain(8, 3)))
    out.append(("abs_eager_int", v.abs_eager(-3)))
    out.append(("clipped_other", v.clipped(5.0, np.array([[0.0, 2.5]]))))
for name, value in out:
    print(name, repr(value))
