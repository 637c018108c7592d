"""A submodule whose constant a typing function reads as advy_pkg.sub.DEPTH_K."""
DEPTH_K = 2.0
