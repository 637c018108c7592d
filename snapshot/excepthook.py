"""An uncaught strict-mode error is one line, not a traceback (``SNAP_DEBUG=1``: the traceback).

Installed by the start-up hook (``SNAP_SYSIMAGE``, ``snap run``) and by a strict
activation from Python (``snapshot.activate``, ``activate_package``, e.g. a library
whose image does not fit with ``SNAP_STRICT=1``). Imports nothing at import time:
the start-up hook runs at interpreter start.
"""
import os
import sys


def _debug() -> bool:
    return os.environ.get("SNAP_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


def install_strict_excepthook() -> None:
    """``sys.excepthook``: a ``SnapStrictError`` that ends the program is printed as one line
    (exit status 1, as for any uncaught exception); everything else goes to the hook that
    was there before. Installed once."""
    previous = sys.excepthook
    if getattr(previous, "snap_strict", False):
        return

    def hook(kind, value, tb):
        errors = sys.modules.get("snapshot.errors")      # not imported: cannot be one of ours
        if errors is not None and issubclass(kind, errors.SnapStrictError) and not _debug():
            value.__traceback__ = tb
            errors.print_strict_error(value)
            return
        previous(kind, value, tb)
    hook.snap_strict = True
    sys.excepthook = hook
