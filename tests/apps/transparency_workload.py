"""A training workload that checks the training run is transparent (tests/test_validity.py):
what the program frees is freed (NRT allocations balance, no reference kept to its
arrays or to dispatchers it made and dropped), as under plain Python. Exits 1 if not."""
import gc
import sys
import weakref

import numpy as np
from numba import njit, types
from numba.core.runtime import rtsys
from numba.typed import Dict

rtsys.initialize(__import__("numba").core.registry.cpu_target.target_context)


def work():
    big = np.arange(1_000_000.0)
    kernel = njit(lambda a: a.sum() * 2.0)         # a dispatcher made and dropped here
    d = Dict.empty(key_type=types.Tuple([types.uint32, types.uint32]), value_type=types.int64)
    d[(1, 1)] = 12345                             # typing tries and fails other overloads first
    assert d[(1, 1)] == d.get((1, 1))
    return kernel(big), weakref.ref(big), weakref.ref(kernel)


gc.collect()
before = rtsys.get_allocation_stats()
total, big_ref, kernel_ref = work()
gc.collect()
after = rtsys.get_allocation_stats()
leaked = (after.alloc - before.alloc) - (after.free - before.free)
problems = []
if leaked:
    problems.append(f"{leaked} NRT allocation(s) not freed")
if big_ref() is not None:
    problems.append("the workload's array is still alive")
if kernel_ref() is not None:
    problems.append("a dispatcher the workload dropped is still alive")
print("total", total, "problems", problems)
sys.exit(1 if problems else 0)
