"""Pickles whose bytes depend on the values pickled, not on which objects were shared.

Numba embeds pickles in compiled code (``serialize.dumps``: a ``with objmode``
block's dispatcher, exception details), and names their globals after a hash of
the bytes. Pickle memoizes by object identity, so two equal strings are written
twice or once depending on whether they happen to be one object; a module's
``co_filename`` is one shared object when the module was compiled from source and
separate ones when it was loaded from ``__pycache__`` (marshal). The same build
then gave other bytes with and without bytecode files. In the training run every
such pickle is rewritten here: equal strings are written once (later ones refer to
the first), and memo entries nothing refers to are dropped (``pickletools.optimize``).
Unpickling gives equal values (strings are immutable: sharing them changes nothing).
"""
from __future__ import annotations

import io
import pickle
from pickletools import _genops  # type: ignore[attr-defined]

_STRING_OPS = frozenset({"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"})


def canonical(p: bytes) -> bytes:
    """``p`` with equal strings memoized once and unused memo entries dropped."""
    put, get = "PUT", "GET"
    ops: list[tuple] = []          # (put, old id) | (get, old id) | (start, end) of a copied opcode
    first: dict[str, int] = {}     # string value -> old memo id of its first occurrence
    alias: dict[int, int] = {}     # old memo id of a repeated string -> the first one's
    used: set[int] = set()         # old memo ids some GET refers to
    memoized = 0                   # MEMOIZE assigns the next index
    proto, header = 0, b""
    last_string: str | None = None
    for opcode, arg, pos, end in _genops(p, yield_end_pos=True):
        name = opcode.name
        if name == "MEMOIZE" or "PUT" in name:
            oid = memoized if name == "MEMOIZE" else arg
            if name == "MEMOIZE":
                memoized += 1
            if last_string is not None:
                if last_string in first:            # the same value again: refer to the first
                    ops[-1] = (get, first[last_string])
                    used.add(first[last_string])
                    alias[oid] = first[last_string]
                    last_string = None
                    continue
                first[last_string] = oid
            ops.append((put, oid))
        elif "FRAME" in name:
            pass
        elif "GET" in name:
            oid = alias.get(arg, arg)
            used.add(oid)
            ops.append((get, oid))
        elif name == "PROTO":
            proto = max(proto, arg)
            if pos == 0:
                header = p[pos:end]
            else:
                ops.append((pos, end))
        else:
            ops.append((pos, end))
        last_string = arg if name in _STRING_OPS else None
        proto = max(proto, opcode.proto)
    out = io.BytesIO()
    out.write(header)
    pickler = pickle._Pickler(out, proto)   # its framer and memo opcodes, as pickletools.optimize
    if proto >= 4:
        pickler.framer.start_framing()
    new: dict[int, int] = {}
    for op, arg in ops:
        frameless = False
        if op is put:
            if arg not in used:
                continue
            data = pickler.put(len(new))
            new[arg] = len(new)
        elif op is get:
            data = pickler.get(new[arg])
        else:
            data = p[op:arg]
            frameless = len(data) > pickler.framer._FRAME_SIZE_TARGET
        pickler.framer.commit_frame(force=frameless)
        if frameless:
            pickler.framer.file_write(data)
        else:
            pickler.write(data)
    pickler.framer.end_framing()
    return out.getvalue()
