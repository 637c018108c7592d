"""Prints what a program can see of how it was started; raises on request."""
import sys

import numba  # noqa: F401  (activates an image when one is configured)


def inner():
    raise ValueError("raised from introspect")


print(__name__, sys.argv, __file__.endswith("introspect.py"), sys.path[0].endswith("apps"))
if "raise" in sys.argv:
    inner()
if "exit" in sys.argv:
    sys.exit(7)
