"""Test helpers that forge images: edit bytes and re-seal the linker checksum.

Used to make realistic "built elsewhere" images (another numba version, a CPU
feature this machine lacks) without a second machine.
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import linker
from linker import imagedir


def reseal(path: Path) -> None:
    img = linker.ImageFile.open(path, verify=False)
    at = img._dir["dir_addr"] + imagedir.CRC_OFFSET
    img.close()
    data = bytearray(Path(path).read_bytes())
    data[at:at + 4] = b"\0\0\0\0"
    struct.pack_into("<I", data, at, zlib.crc32(data))
    Path(path).write_bytes(bytes(data))


def forge(src: Path, dst: Path, old: bytes, new: bytes) -> None:
    """Copy an image, replacing `old` by `new` (same length) once, and re-seal it."""
    assert len(old) == len(new)
    data = bytearray(Path(src).read_bytes())
    i = data.find(old)
    assert i >= 0, f"{old!r} not in image"
    data[i:i + len(old)] = new
    Path(dst).write_bytes(bytes(data))
    reseal(dst)
