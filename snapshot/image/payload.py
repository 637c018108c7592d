"""The payload section: per entry, what installing it needs that JSON cannot hold.

Each entry's blob is an ``EntryPayload`` (Numba types, environment constants,
mangling facts) pickled by ``numba_seam.pickling``, which knows how Numba
objects are pickled and resolved; this module is only the section's format.
Nothing here unpickles: ``snap info`` / ``snap check`` read sizes only.
"""
from __future__ import annotations

import struct
from typing import Any, NamedTuple

_U64 = struct.Struct("<Q")


class EntryPayload(NamedTuple):
    """What installing an entry needs that JSON cannot hold (a NamedTuple: cheap to define
    on the activation import path)."""
    args: tuple
    return_type: Any
    envs: dict[str, tuple[str, list]]   # original env name -> (module name, consts)
    fndesc: dict[str, Any]              # modname, qualname, uid, abi_tags, argnames: what mangling needs
    extra: dict[str, Any] = {}   # "box:..." -> jitclass instance type; "generator" (never mutated)


def pack_payloads(blobs: list[bytes]) -> bytes:
    """The payload section: the entry count, count + 1 offsets from the section's start, the blobs.

    An offset table, not one pickle of a list: activation then reads nothing of
    it, and an entry's blob is sliced out of the mapped image when it is installed.
    """
    at = _U64.size * (len(blobs) + 2)
    offsets = [at]
    for b in blobs:
        at += len(b)
        offsets.append(at)
    return struct.pack(f"<{len(blobs) + 2}Q", len(blobs), *offsets) + b"".join(blobs)


class Payloads:
    """The payload section of an image, read in place (see pack_payloads)."""

    def __init__(self, section: memoryview) -> None:
        if len(section) < _U64.size:
            raise ValueError("payload section too short")
        n = _U64.unpack_from(section)[0]
        if _U64.size * (n + 2) > len(section):
            raise ValueError(f"payload table of {n} entries does not fit in {len(section)} bytes")
        self._section, self._n = section, n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> memoryview:
        """Entry ``i``'s pickle (IndexError past the end, ValueError if the table is corrupt)."""
        if not 0 <= i < self._n:
            raise IndexError(f"no payload {i}")
        start, end = struct.unpack_from("<2Q", self._section, _U64.size * (i + 1))
        if not _U64.size * (self._n + 2) <= start <= end <= len(self._section):
            raise ValueError(f"payload {i} has no valid extent")
        return self._section[start:end]
