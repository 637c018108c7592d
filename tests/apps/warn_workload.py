"""Training workload of tests/test_compile_warnings.py: every call of warn_app.py, in its order."""
import warn_app

warn_app.main(warn_app.ORDER)
