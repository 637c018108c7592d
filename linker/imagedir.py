"""The image directory: the linker's own table, found at run time via `__snap_image_dir`.

It lets the loader fill the import table, apply import fixups, run constructors
and find user sections with a few ctypes reads, without parsing the file
again.  All addresses are link-time addresses (the loader adds the base,
computed from the directory's own address).  It also holds the image checksum.
"""
from __future__ import annotations

import struct

import numpy as np

from .elf import align_up

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


class DirPlan:
    """Size and internal offsets of the directory, known before addresses are.

    (A plain class, not a dataclass: this module is on every activation's import
    path and a dataclass costs ~1 ms to create.)
    """

    def __init__(self, imports: list[str], weak: list[bool], n_fixups: int, n_ctors: int,
                 user_names: list[str]) -> None:
        self.imports, self.weak, self.user_names = imports, weak, user_names
        self.n_fixups, self.n_ctors = n_fixups, n_ctors
        self.import_blob = b"".join(n.encode() + b"\0" for n in self.imports)
        self.user_blob = b"".join(n.encode() + b"\0" for n in self.user_names)
        self.off: dict[str, int] = {}
        o = self.off
        o["names"] = HEADER.size
        o["fixups"] = align_up(o["names"] + len(self.import_blob), 8)
        o["ctors"] = o["fixups"] + FIXUP.itemsize * self.n_fixups
        o["sectab"] = o["ctors"] + 8 * self.n_ctors
        o["unames"] = o["sectab"] + SECTAB.itemsize * len(self.user_names)
        o["weak"] = o["unames"] + len(self.user_blob)
        self.size = o["weak"] + len(self.imports)

    def build(self, addr: int, *, slots_addr: int, region: tuple[int, int], fixups: np.ndarray,
              ctor_slots: np.ndarray, user_sections: list[tuple[int, int]]) -> bytes:
        """The directory bytes (checksum field zero) for a directory placed at ``addr``."""
        o = self.off
        sectab = np.zeros(len(self.user_names), SECTAB)
        name_addr = addr + o["unames"]
        for k, (name, (a, n)) in enumerate(zip(self.user_names, user_sections)):
            ln = len(name.encode())
            sectab[k] = (name_addr, ln, a, n)
            name_addr += ln + 1
        aligned = int(bool((fixups["addr"] % 8 == 0).all()))
        out = bytearray(self.size)
        out[:HEADER.size] = HEADER.pack(
            MAGIC, VERSION, 0, addr, len(self.imports), slots_addr, addr + o["names"], len(self.import_blob),
            region[0], region[1], self.n_fixups, addr + o["fixups"], aligned, self.n_ctors, addr + o["ctors"],
            len(self.user_names), addr + o["sectab"], addr + o["weak"])
        for key, blob in (("names", self.import_blob), ("fixups", fixups.tobytes()),
                          ("ctors", ctor_slots.astype("<u8").tobytes()), ("sectab", sectab.tobytes()),
                          ("unames", self.user_blob), ("weak", bytes(self.weak))):
            out[o[key]:o[key] + len(blob)] = blob
        return bytes(out)
