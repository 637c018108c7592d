"""Settings advy_ext loads from this file by spec (not a module of sys.modules)."""
SETTINGS_K = 2.0     # read by a typing function
JIT_K = 3.0          # read by jitted code (advy_lib.y_settings_jit)
