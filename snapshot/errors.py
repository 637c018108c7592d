"""Errors and warnings users see."""
from __future__ import annotations


class SnapError(Exception):
    """A user-facing failure with a clear message (no traceback needed)."""


class SnapStrictError(SnapError):
    """Strict mode: the image could not serve something it was expected to serve."""


class SnapWarning(UserWarning):
    """The image could not serve something; the program continues on the JIT."""
