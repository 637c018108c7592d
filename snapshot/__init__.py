"""snap: system images for Numba.

The public API (everything else is internal):

* ``snapshot.activate(path, *, strict=None, report=None)`` -- start serving this
  process from the image at ``path`` (idempotent per file; several images may be
  active: see ``snapshot.runtime``);
* ``snapshot.activate_package(package, *, strict=None)`` -- what a library calls
  at the top of its ``__init__`` to serve itself from the image it ships
  (``snap create --package``), chosen for this Python, Numba and CPU; quietly
  nothing when none fits;
* ``snapshot.active()`` -- the active images, the program's first.

Importing this package costs nothing: each function imports the runtime when
called. A library guards the import, so that it runs without snap too::

    try:
        import snapshot
        snapshot.activate_package(__name__)
    except ImportError:
        pass
"""
from __future__ import annotations

from typing import Any


def activate(path: str, *, strict: bool | None = None, report: str | None = None) -> Any:
    """Activate the image at ``path`` in this process; the ``Runtime``, or None when the
    image cannot be used here (warned; the JIT runs everything; an error if strict).

    ``strict`` and ``report`` default to ``SNAP_STRICT`` and ``SNAP_REPORT``.
    """
    return _runtime().activate_public(path, strict=strict, report=report)


def activate_package(package: str, *, strict: bool | None = None) -> Any:
    """Serve ``package`` (a module name, usually ``__name__``) from the image it ships in
    its ``_snap`` directory, if one fits this interpreter, Numba version and CPU; the
    ``Runtime``, or None (quietly: the JIT serves the library as without snap; an error
    in strict mode). Call it before the package's jitted functions first run."""
    import os

    from . import gcpause
    gcpause.pause()     # no full collection of numba's million objects here (tens of ms)
    try:
        from .image import packaged
        from .numba_seam.cpu import jit_target
        path, why = packaged.find(package, jit_target())   # a directory listing: no runtime import if none fits
    finally:
        gcpause.resume()
    if strict is None:
        strict = os.environ.get("SNAP_STRICT", "").strip().lower() not in ("", "0", "false", "no")
    if path is None and not (strict and why):
        return None                          # quietly: the JIT serves the library
    return _runtime().activate_package(package, strict=strict, found=(path, why))


def active() -> list:
    """The active images, in precedence order (the program's images first)."""
    import sys
    activation = sys.modules.get("snapshot.runtime.activation")     # not imported: none is active
    return activation.active_images() if activation is not None else []


def _runtime() -> Any:
    """snap's runtime, imported with the cyclic GC off: a full collection of the million
    objects importing numba left (10-80 ms) must not land in this import."""
    from . import gcpause
    gcpause.pause()
    try:
        from .runtime import activation
    finally:
        gcpause.resume()
    return activation
