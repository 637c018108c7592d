"""App (and workload) of tests/test_suite_regressions.py: prints results and the number of
compile-time warnings seen."""
import warnings

import numpy as np

import snaptest_forbid  # noqa: F401
import suitefix_lib as s

first, second = s.two_classes()
print("classes", first(5).x, first(5).run(), second(5).x, second(5).run())
Gen = s.generator_class()
print("generator", [[list(a) for a in Gen().gen(n)] for n in range(4)])
print("fib", s.make_fib()(12))
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    value = s.unsafe_cast((np.int8(1), np.int8(2)), np.intp(123), (np.int32(1), np.int32(2)))
print("warned", value, [str(x.message)[:40] for x in w if "unsafe cast" in str(x.message)])
call_add, call_sub = s.gufunc_callers()
x = np.arange(6, dtype=np.float64).reshape(2, 3)
for name, f in (("add", call_add), ("sub", call_sub)):
    res = np.zeros_like(x)
    f(x, 10.0, res)
    print("gufunc", name, res.tolist())
first, second, callee, caller = s.numba_package_closures()
for f in (first, second):
    try:
        f(1)
    except Exception as e:      # noqa: BLE001 - the class and arguments are the result
        print("raised", type(e).__name__, e.args)
print("caller", caller(0), "callee signatures", callee.signatures)
print("overload callee", s.overload_callee_state())
print("numba tests", s.numba_test_cases())
