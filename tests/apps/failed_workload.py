"""Training workload of tests/test_coverage_misses.py."""
import gc

import failed_lib as lib

lib.add_one(1)
lib.failing(lib.add_one, "a")
lib.generate("x = x + 1")()
lib.failing(lib.generate("x = x + 'a'"))
lib.sort_with_local_key([3, 1, 2])
gc.collect()
lib.make_getitem(0)((1, 2, 3))
lib.failing(lib.make_getitem(10), (1, 2, 3))
lib.failing(lib.as_int, lib.Floaty())
