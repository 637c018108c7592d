"""App (and workload) of tests/test_seam_regressions.py: prints results, and which
exceptions each caller's ``except`` clause caught."""
import numpy as np

import snaptest_forbid  # noqa: F401
import seamfix_lib as s

print("annotated", s.annotated(np.arange(5.0)))
pr = np.full(8, np.inf, dtype=np.float32)
ix = np.full(8, -1, dtype=np.int32)
pushed = [s.heap_push(pr, ix, np.float32(p), np.int32(k))
          for k, p in enumerate([5.0, 3.0, 9.0, 1.0, 7.0, 2.0, 8.0, 4.0, 6.0, 0.5])]
print("heap_push", pushed, pr.tolist(), ix.tolist())

p, q = s.two_instances(3)
print("two_instances", type(p) is type(q), isinstance(p, s.Pair), p.v, q.v)
p.v = 10
print("boxes", p.v, q.v)
print("cos_pair", repr(s.cos_pair(0.25)))

cases = [("call_first_class", lambda x: s.call_first_class(s.check, x), s.LocalError),
         ("via_value", s.via_value, s.LocalError), ("via_tuple", s.via_tuple, s.LocalError),
         ("direct", s.direct, s.LocalError),
         ("apply", lambda x: s.apply(s.module_check, x), s.FactoryError)]
for name, fn, cls in cases:
    try:
        print(name, fn(3), end=" ")
        fn(-1)
    except cls as e:
        print("caught", type(e).__name__, e.args)
    except Exception as e:  # noqa: BLE001
        print("MISSED", type(e).__name__, e.args, type(e) is cls)
