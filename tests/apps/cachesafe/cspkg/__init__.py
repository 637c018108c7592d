"""A package whose cache=True functions keep Numba's cache in its own __pycache__."""
