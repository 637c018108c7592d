"""The image directory: the linker's own table, found at run time via `__snap_image_dir`.

It lets the loader fill the import table, apply import fixups, run constructors
and find user sections with a few ctypes reads, without parsing the file
again.  All addresses are link-time addresses (the loader adds the base,
computed from the directory's own address).  It also holds the image checksum.
"""
from __future__ import annotations

import struct

import numpy as np

MAGIC = b"SNAPIMG\x01"
VERSION = 1
SYMBOL = "__snap_image_dir"
SECTION = ".snap.dir"
# magic, version, crc32, then u64: dir_addr, n_imports, slots_addr, names_addr, names_size,
# region_addr, region_size, n_fixups, fixups_addr, fixups_aligned, n_ctors, ctors_addr,
# n_sections, sectab_addr, weak_addr (one byte per import: 1 = weak, may stay unresolved)
HEADER = struct.Struct("<8sII15Q")
CRC_OFFSET = 12
FIXUP = np.dtype([("addr", "<u8"), ("slot", "<u8"), ("addend", "<i8")])
SECTAB = np.dtype([("name_addr", "<u8"), ("name_len", "<u8"), ("addr", "<u8"), ("size", "<u8")])
FIELDS = ("dir_addr", "n_imports", "slots_addr", "names_addr", "names_size", "region_addr",
          "region_size", "n_fixups", "fixups_addr", "fixups_aligned", "n_ctors", "ctors_addr",
          "n_sections", "sectab_addr", "weak_addr")


def unpack(raw: bytes) -> dict[str, int] | None:
    """Header fields, or None if ``raw`` does not start with a directory."""
    if len(raw) < HEADER.size:
        return None
    magic, version, crc, *vals = HEADER.unpack_from(raw)
    if magic != MAGIC or version != VERSION:
        return None
    d = dict(zip(FIELDS, vals))
    d["crc"] = crc
    return d
