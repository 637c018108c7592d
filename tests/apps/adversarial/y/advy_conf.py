"""Constants typing functions of advy_ext read (a lazy import; getattr with a computed name)."""
LAZY_K = 10.0
K_float64 = 3.0
K_int64 = 4.0
