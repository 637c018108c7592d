"""snap: system images for Numba."""
