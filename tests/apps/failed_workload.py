"""Training workload of tests/test_coverage_misses.py."""
import gc

import failed_lib as lib

lib.add_one(1)
lib.failing(lib.add_one, "a")
lib.generate("x = x + 1")()
lib.failing(lib.generate("x = x + 'a'"))
lib.sort_with_local_key([3, 1, 2])
gc.collect()
