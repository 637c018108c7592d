"""snaplib: a small Numba library that serves itself from the image it ships.

The activation comes first, before any jitted function exists (the eager
signatures below compile at import): with snap installed and an image in
snaplib/_snap/ that fits this Python, Numba and CPU, nothing is compiled; without
snap, or with no fitting image, Numba compiles as usual.
"""
try:
    import snapshot
    snapshot.activate_package(__name__)
except ImportError:
    pass

from .kernels import axpy, clipped_sum, logistic, smooth, softsign, weighted_norm  # noqa: E402

__all__ = ["axpy", "clipped_sum", "logistic", "smooth", "softsign", "weighted_norm"]
