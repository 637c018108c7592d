"""The wheel carries a native image (snaplib/_snap/*.so) that serves one CPython
version, Numba minor version and CPU level: it must be tagged for that Python and
platform (cp311-cp311-linux_x86_64), never py3-none-any, or pip would install it
where it cannot serve. setuptools tags a wheel as a platform wheel when its
distribution has extension modules; this one builds none, so it says so itself
(everything else is in pyproject.toml)."""
from setuptools import setup
from setuptools.dist import Distribution


class BinaryDistribution(Distribution):
    def has_ext_modules(self) -> bool:
        return True


setup(distclass=BinaryDistribution)
