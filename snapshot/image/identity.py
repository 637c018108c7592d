"""What an image entry is: the identity build and run compute the same way.

The runtime asks for a signature of one owner (a dispatcher, DUFunc, @cfunc,
gufunc builder, objmode block or jitclass part); an entry answers it only when
its ``EntryKey`` (kind, compile options, closure, code) is the owner's and its
argument keys (``fingerprint.type_key``) are the request's. The options text of
each kind is computed by that kind's strategy (``numba_seam.kinds``), in the
training run and at run time alike; see validity.py for what is checked after.
"""
from __future__ import annotations

import types as pytypes
from typing import Any, Callable, NamedTuple

from ..errors import Unfingerprintable
from .fingerprint import closure_cells, closure_fingerprint, code_fingerprint


class EntryKey(NamedTuple):
    """What a dispatcher asks for, and what an entry was compiled as (see module doc)."""
    kind: str
    options: str
    closure: str | None
    code: str


def key_of(kind: str, options: str, func: pytypes.FunctionType) -> EntryKey:
    """The key of ``func`` compiled by an owner of ``kind`` with compile ``options`` (text)."""
    try:
        closure = closure_fingerprint(func)
    except Unfingerprintable:
        closure = "?"
    return EntryKey(kind, options, closure, code_fingerprint(func.__code__))


def identity_matches(entries: list, key: EntryKey, accept: Callable[[Any], bool] = lambda e: True
                     ) -> tuple[list, Any]:
    """The entries of ``key``'s identity that ``accept`` takes, and one entry that has all of
    it but the code (or None): then ``key`` names another function of the same name, or an
    edited one."""
    matched, other_code = [], None
    for e in entries:
        if e.kind != key.kind or e.options != key.options or e.closure != key.closure or not accept(e):
            continue
        if e.code != key.code:
            other_code = e
        else:
            matched.append(e)
    return matched, other_code


def other_identity(entries: list, key: EntryKey, func: pytypes.FunctionType) -> str:
    """Why entries of this function's code do not fit ``key``: the closure cells that hold
    other values than when they were compiled, or other compile options."""
    same_code = [e for e in entries if e.kind == key.kind and e.code == key.code]
    if any(e.options == key.options for e in same_code):
        if key.closure == "?":
            return "its closure holds a value that cannot be fingerprinted"
        here = closure_cells(func)
        names = sorted({n for e in same_code if e.options == key.options
                        for n, fp in here.items() if e.cells.get(n, fp) != fp})
        if names:
            return (f"its closure holds other values than the image's entries were compiled with "
                    f"(cell{'s' if len(names) > 1 else ''} {', '.join(names)})")
        return "its closure holds other values than the image's entries were compiled with"
    return "compiled with other options (target options, locals= or pipeline) than the image's entries"


def failure_key(func: pytypes.FunctionType) -> str:
    """What a compilation the training run saw fail is listed under besides its name and
    signature (``Skipped.code``): the function's code and closure, as an entry's key has
    them (a closure over ``10`` fails where one of the same code over ``"a"`` compiled)."""
    key = key_of("", "", func)
    return key.code if key.closure is None else f"{key.code}|{key.closure}"


def entry_failure_key(e) -> str:
    """``failure_key`` of the function an entry was compiled from."""
    return e.code if e.closure is None else f"{e.code}|{e.closure}"


def entry_key(e) -> EntryKey:
    return EntryKey(e.kind, e.options, e.closure, e.code)


def generated(func: pytypes.FunctionType) -> bool:
    """Code without a source file (exec/eval/compile of a string): identity by code only."""
    return func.__code__.co_filename.startswith("<")


