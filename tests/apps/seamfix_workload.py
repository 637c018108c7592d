import seamfix_app  # noqa: F401  (the workload runs what the app runs)
import seamfix_lib

print("read_strided_twice", seamfix_lib.read_strided_twice(2))
