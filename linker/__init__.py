"""ELF x86-64 relocatable objects -> one loadable shared library, without a system linker.

``link`` writes the image; ``ImageFile`` checks one without executing it;
``load``/``ImageFile.load`` dlopen it, fill its import table and run its
constructors.  Every failure is a ``LinkError``.

The writer is imported on first use of ``link``: processes that only load
images (every program started from one) never pay for it.
"""
from .errors import LinkError
from .loader import ImageFile, LoadedImage, load

__all__ = ["link", "load", "ImageFile", "LoadedImage", "LinkError"]


def __getattr__(name: str):
    if name == "link":
        from .driver import link
        globals()["link"] = link        # cache: later lookups no longer reach __getattr__
        return link
    raise AttributeError(f"module 'linker' has no attribute {name!r}")
