"""App of tests/test_coverage_misses.py: what the workload ran, then compilations it never
tried (another signature, another exec'd function of the same name)."""
import failed_lib as lib

print("add_one", lib.add_one(1))
print("add_one str", lib.failing(lib.add_one, "a"))
print("bar", lib.generate("x = x + 1")())
print("bar str", lib.failing(lib.generate("x = x + 'a'")))
print("sorted", lib.sort_with_local_key([3, 1, 2]))
print("add_one float", lib.add_one(1.5))
print("bar other", lib.generate("x = x * 7")())
print("getitem", lib.make_getitem(0)((1, 2, 3)), lib.failing(lib.make_getitem(10), (1, 2, 3)))
print("getitem other", lib.make_getitem(1)((1, 2, 3)))
print("jitclass int", lib.failing(lib.as_int, lib.Floaty()))
