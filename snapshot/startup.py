"""Start-up hook: ``SNAP_SYSIMAGE=my.so python app.py``.

Installed as a ``.pth`` line that imports this module only when SNAP_SYSIMAGE is
set, so ordinary interpreters pay nothing. Activation waits until the program
imports numba (a program that never does never opens the image), and the
variables are inherited by child processes (multiprocessing workers included).

  SNAP_SYSIMAGE=path   image to start from
  SNAP_STRICT=1        a miss, stale entry or refused image is an error
  SNAP_REPORT=file     append every JIT compilation that still happens (JSON lines)
  SNAP_DEBUG=1         a strict-mode error shows its whole traceback (default: one line)
"""
from __future__ import annotations

import os


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def _activate() -> None:
    import gc
    enabled = gc.isenabled()
    gc.disable()        # before allocating anything: no full collection of numba's heap here
    try:
        _activate_now()
    finally:
        if enabled:
            gc.enable()


def _activate_now() -> None:
    from .errors import SnapStrictError, SnapWarning
    try:
        from .runtime import activate
        activate(os.environ["SNAP_SYSIMAGE"], strict=_flag("SNAP_STRICT"),
                 report=os.environ.get("SNAP_REPORT") or None)
    except (SnapStrictError, SnapWarning):   # strict mode, or a warning filter saying "error"
        raise
    except Exception as e:  # noqa: BLE001 - whatever went wrong, the program must still run
        from .errors import warn_image
        if _flag("SNAP_STRICT"):
            raise
        warn_image(f"snap: could not activate {os.environ['SNAP_SYSIMAGE']}: "
                   f"{type(e).__name__}: {e}; running on the JIT")


def _strict_excepthook(previous):
    """sys.excepthook: an uncaught strict-mode error is one line (exit status 1, as for any
    uncaught exception); everything else goes to the hook that was there before."""
    def hook(kind, value, tb):
        import sys
        errors = sys.modules.get("snapshot.errors")      # not imported: cannot be one of ours
        if errors is not None and issubclass(kind, errors.SnapStrictError) and not _flag("SNAP_DEBUG"):
            value.__traceback__ = tb
            errors.print_strict_error(value)
            return
        previous(kind, value, tb)
    hook.snap_strict = True
    return hook


def install_from_env() -> None:
    if not os.environ.get("SNAP_SYSIMAGE"):
        return
    import sys
    if not getattr(sys.excepthook, "snap_strict", False):
        sys.excepthook = _strict_excepthook(sys.excepthook)
    from .post_import import when_imported
    when_imported("numba", lambda _: _activate())
