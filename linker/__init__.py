"""ELF x86-64 relocatable objects -> one loadable shared library, without a system linker.

``link`` writes the image; ``ImageFile`` checks one without executing it;
``load``/``ImageFile.load`` dlopen it, fill its import table and run its
constructors.  Every failure is a ``LinkError``.
"""
from .errors import LinkError
from .link import link
from .loader import ImageFile, LoadedImage, load

__all__ = ["link", "load", "ImageFile", "LoadedImage", "LinkError"]
