"""Errors and warnings users see, and the one guard that keeps snap from breaking a program.

Every failure snap reports is a ``SnapError``: its message is one line that says
what, where and how to fix it, and the CLI prints it without a traceback. The
subclasses tell the callers' policies apart (a bad image file, a build that
cannot be written, an entry whose references do not exist here); none of them
ever reaches the user's program at run time, where a failure inside snap means
"the JIT takes over" (``Guard``), except in strict mode (``SnapStrictError``).
"""
from __future__ import annotations

import os
import sys
from typing import Any, Callable
from .printable import printable


class SnapError(Exception):
    """A user-facing failure with a clear message (no traceback needed)."""


class SnapStrictError(SnapError):
    """Strict mode: the image could not serve something it was expected to serve."""


class ManifestError(SnapError):
    """The manifest is missing, corrupted or of an unknown format."""


class ImageReadError(SnapError):
    """The file cannot be read as a snap image (missing, not ELF, corrupted)."""


class BuildError(SnapError):
    """The image cannot be built; the message says why."""


class UnresolvedReference(SnapError):
    """An entry refers to something (a jitted function, a class, an address target) that
    does not exist in this process: that entry goes to the JIT."""


class UnresolvedAddress(SnapError):
    """A process address an entry's code needs (a C function, a Python object) cannot be
    found here: that entry goes to the JIT."""


class Unservable(SnapError):
    """An entry that cannot serve this owner in this process (the message says why): that
    owner's compilation goes to the JIT."""


class Unfingerprintable(SnapError):
    """A value whose identity cannot be captured stably (so the entry stays on the JIT)."""


class SnapWarning(UserWarning):
    """The image could not serve something; the program continues on the JIT."""


# ------------------------------------------------------------------ warnings
def _internal_dirs() -> tuple[str, ...]:
    """Directories whose frames are snap's or Numba's, not the user's."""
    dirs = [os.path.dirname(os.path.abspath(__file__)) + os.sep]
    for name in ("linker", "numba", "llvmlite"):
        mod = sys.modules.get(name)
        if getattr(mod, "__file__", None):
            dirs.append(os.path.dirname(os.path.abspath(mod.__file__)) + os.sep)
    return tuple(dirs) + ("<frozen",)


def warn(msg: str) -> None:
    """A SnapWarning attributed to the user's code (the innermost frame that is not snap's,
    Numba's or the import system's): about one function of the program."""
    import warnings
    internal = _internal_dirs()
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(internal):
        name = frame.f_code.co_filename
        if not ("importlib" in name and "_bootstrap" in name):   # warnings skips those itself
            level += 1
        frame = frame.f_back
    warnings.warn(printable(msg), SnapWarning, stacklevel=level)


_IMAGE_WARNING = "<snap image>"      # the "file" of warnings about a whole image


def warn_image(msg: str) -> None:
    """A SnapWarning about the image as a whole (cannot be used, cannot be mapped, snap
    itself failed).

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
    warnings.warn_explicit(printable(msg), SnapWarning, _IMAGE_WARNING, 0, module="snapshot",
                           registry=_registry)


_registry: dict = {}


# ------------------------------------------------------------------ the guard
class Guard:
    """Snap never breaks the user's program: the one policy for failures inside snap.

    ``guard(what, fn, *args)`` runs ``fn``; if snap itself fails, the failure is
    warned once per guard (as an image warning: it is not about a line of the
    user's code), ``None`` is returned and the JIT does the work. Strict mode
    re-raises instead, and a ``SnapStrictError`` (a deliberate strict-mode
    failure) always passes through, as does a warning a filter turned into an error.
    """

    __slots__ = ("strict", "warned")

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.warned = False

    def __call__(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except (SnapStrictError, SnapWarning):
            raise
        except Exception as e:  # noqa: BLE001 - whatever went wrong, the program must still run
            if self.strict:
                raise
            if not self.warned:
                self.warned = True
                warn_image(f"snap: internal error {what} ({type(e).__name__}: {e}); "
                           "the JIT takes over")
            return None


# ------------------------------------------------------------------ strict mode, one line
def user_location(tb) -> str | None:
    """``file:line`` of the innermost frame of ``tb`` in the user's code (None if none is)."""
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
    if where and getattr(e, "at_import", False):      # refused at activation, by the start-up hook
        return msg + f"; the image was activated when {where} imported numba (SNAP_DEBUG=1 shows the traceback)"
    return msg + (f"; at {where}" if where else "") + " (SNAP_DEBUG=1 shows the traceback)"


def print_strict_error(e: BaseException) -> None:
    sys.stderr.write(strict_error_line(e) + "\n")
    sys.stderr.flush()
