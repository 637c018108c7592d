"""Errors and warnings users see."""
from __future__ import annotations


class SnapError(Exception):
    """A user-facing failure with a clear message (no traceback needed)."""


class SnapStrictError(SnapError):
    """Strict mode: the image could not serve something it was expected to serve."""


class SnapWarning(UserWarning):
    """The image could not serve something; the program continues on the JIT."""


def _internal_dirs() -> tuple[str, ...]:
    """Directories whose frames are snap's or Numba's, not the user's."""
    import os
    import sys
    dirs = [os.path.dirname(os.path.abspath(__file__)) + os.sep]
    for name in ("linker", "numba", "llvmlite"):
        mod = sys.modules.get(name)
        if getattr(mod, "__file__", None):
            dirs.append(os.path.dirname(os.path.abspath(mod.__file__)) + os.sep)
    return tuple(dirs) + ("<frozen",)


def user_location(tb) -> str | None:
    """``file:line`` of the innermost frame of ``tb`` in the user's code (None if none is)."""
    import os
    internal = _internal_dirs()
    where = None
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if not name.startswith(internal) and not name.startswith("<"):
            rel = os.path.relpath(name) if not os.path.relpath(name).startswith("..") else name
            where = f"{rel}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def strict_error_line(e: BaseException) -> str:
    """A strict-mode error as one line: the message, where the user's code met it, how to see more."""
    msg = " ".join(str(e).split())
    if not msg.startswith("snap:"):
        msg = "snap: " + msg
    where = user_location(e.__traceback__)
    return msg + (f"; at {where}" if where else "") + " (SNAP_DEBUG=1 shows the traceback)"


def print_strict_error(e: BaseException) -> None:
    import sys
    sys.stderr.write(strict_error_line(e) + "\n")
    sys.stderr.flush()


_IMAGE_WARNING = "<snap image>"      # the "file" of warnings about a whole image


def warn_image(msg: str) -> None:
    """A SnapWarning about the image as a whole (cannot be used, cannot be mapped).

    It has no line of the user's code to point at (the image is activated wherever
    ``import numba`` happens to run first), so it is shown without one:
    ``SnapWarning: snap: cannot use image ...``. Warning filters apply as usual.
    """
    import warnings
    if not getattr(warnings.formatwarning, "snap", False):
        previous = warnings.formatwarning

        def formatwarning(message, category, filename, lineno, line=None):
            if filename == _IMAGE_WARNING:
                return f"{category.__name__}: {message}\n"
            return previous(message, category, filename, lineno, line)
        formatwarning.snap = True
        warnings.formatwarning = formatwarning
    warnings.warn_explicit(msg, SnapWarning, _IMAGE_WARNING, 0, module="snapshot",
                           registry=_registry)


_registry: dict = {}
