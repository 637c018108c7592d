"""Text from an untrusted image, made safe to print on a terminal.

A manifest's strings (function names, signatures, paths, reasons, fingerprint values)
and an ELF file's names are whatever the file's author wrote: an ESC sequence clears
the screen or recolours what follows, a CR overwrites a line ("ok" printed over a
refusal), a bidi override shows text reversed, a lone surrogate cannot even be encoded
(the print raises). Everything ``snap info``/``check``/``doctor`` shows in text passes
through ``printable`` (``markup`` for rich), and so does every warning the runtime
gives (``errors.warn``: they quote an image's manifest) and every name a miss report
brings into a build's messages; ``--json`` output is ASCII (``json.dumps`` escapes
every other character), so it needs nothing more.
"""
from __future__ import annotations

from typing import Any


def _escape(ch: str) -> str:
    n = ord(ch)
    if n < 0x100:
        return f"\\x{n:02x}"
    return f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def printable(text: Any) -> str:
    """``text`` with every character a terminal would act on instead of show escaped as
    ``\\xNN`` / ``\\uNNNN``: C0 and C1 controls (ESC, CR, LF, TAB, BEL...), DEL, format
    characters (bidi overrides and isolates, zero-width ones), line and paragraph
    separators, surrogates, private-use and unassigned code points -- what
    ``str.isprintable`` refuses (the plain space excepted)."""
    s = text if isinstance(text, str) else str(text)
    if s.isprintable():
        return s
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in s)


def markup(text: Any) -> str:
    """``printable`` text, then escaped for rich's markup (``[`` in a name is not a style)."""
    from rich.markup import escape
    return escape(printable(text))
