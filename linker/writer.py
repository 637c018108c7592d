"""Serialise headers and symbol tables: ELF header, program headers, `.symtab`, section headers."""
from __future__ import annotations

import numpy as np

from . import elf
from .layout import OutSection, Segment
from .symbols import DEF, Resolution


class StringTable:
    """Append-only string table; blobs (whole input string tables) can be appended in one go."""

    def __init__(self) -> None:
        self.parts: list[bytes] = [b"\0"]
        self.size = 1

    def add_blob(self, blob: bytes) -> int:
        off = self.size
        self.parts.append(blob)
        self.size += len(blob)
        return off

    def add(self, name: str | bytes) -> int:
        b = name.encode() if isinstance(name, str) else name
        return self.add_blob(b + b"\0")

    def bytes(self) -> bytes:
        return b"".join(self.parts)


def sym_records(n: int) -> np.ndarray:
    return np.zeros(n, elf.SYM)


def symtab(res: Resolution, sec_addr: np.ndarray, sec_out: np.ndarray,
           extra_locals: list[tuple[str, int, int, int, int]],
           extra_globals: list[tuple[str, int, int, int, int]]) -> tuple[bytes, bytes, int]:
    """Full `.symtab`/`.strtab`: every object's locals, hidden globals as locals, then exported globals.

    ``extra_*``: (name, type, address, size, section index).  Returns (symtab, strtab, first global).
    """
    strtab = StringTable()
    strbase = [strtab.add_blob(obj.strtab) for obj in res.objects]
    locs = [sym_records(1)]
    for obj, base in zip(res.objects, res.local_base):
        nl = obj.first_global
        if nl <= 1:
            continue
        tids = base + np.arange(nl)
        s = obj.syms[:nl]
        typ = s["info"] & 0xF
        kind = res.t_kind[tids]
        gid = res.t_sec[tids]
        keep = (typ != elf.STT_SECTION) & (np.arange(nl) > 0) & (s["name"] > 0)
        keep &= (kind == DEF) | (typ == elf.STT_FILE) | (obj.sym_shndx[:nl] == elf.SHN_ABS)
        out_idx = np.where(kind == DEF, sec_out[np.maximum(gid, 0)], elf.SHN_ABS)
        keep &= out_idx > 0
        r = s[keep].copy()
        r["name"] = s["name"][keep] + strbase[obj.index]
        r["value"] = np.where(kind == DEF, sec_addr[np.maximum(gid, 0)] + res.t_val[tids], s["value"])[keep]
        r["shndx"] = out_idx[keep]
        locs.append(r)
    glob_hidden, glob_exp = [], []
    for g in res.globals:
        if not g.defined:
            continue
        (glob_exp if g.exported else glob_hidden).append(g)

    def records(gs: list, local: bool) -> np.ndarray:
        r = sym_records(len(gs))
        for k, g in enumerate(gs):
            typ = elf.STT_OBJECT if g.type == elf.STT_COMMON else g.type
            bind = elf.STB_LOCAL if local else g.bind
            r[k]["name"] = strbase[g.obj.index] + int(g.obj.syms[g.sym]["name"])
            r[k]["info"] = (bind << 4) | typ
            r[k]["other"] = g.visibility
            if g.absolute:
                r[k]["shndx"], r[k]["value"] = elf.SHN_ABS, g.value
            else:
                r[k]["shndx"], r[k]["value"] = sec_out[g.sec.gid], sec_addr[g.sec.gid] + g.value
            r[k]["size"] = g.size
        return r

    def extra(items: list, bind: int) -> np.ndarray:
        r = sym_records(len(items))
        for k, (name, typ, addr, size, shndx) in enumerate(items):
            r[k] = (strtab.add(name), (bind << 4) | typ, 0, shndx, addr, size)
        return r

    locs += [records(glob_hidden, True), extra(extra_locals, elf.STB_LOCAL)]
    first_global = sum(len(x) for x in locs)
    allsyms = np.concatenate(locs + [records(glob_exp, False), extra(extra_globals, elf.STB_GLOBAL)])
    return allsyms.tobytes(), strtab.bytes(), first_global


def program_headers(segs: list[Segment], extra: list[tuple[int, int, int, int]], file_size: int) -> bytes:
    """PT_LOAD per segment, then (type, flags, addr, size) extras (file size clipped to the image)."""
    ph = np.zeros(len(segs) + len(extra), elf.PHDR)
    for k, s in enumerate(segs):
        ph[k] = (elf.PT_LOAD, s.flags, s.start, s.start, s.start, s.file_end - s.start,
                 s.mem_end - s.start, elf.PAGE)
    for k, (t, f, a, n) in enumerate(extra, len(segs)):
        ph[k] = (t, f, a, a, a, max(0, min(n, file_size - a)), n, 8)
        if t == elf.PT_GNU_RELRO:
            ph[k]["align"] = 1
        if t == elf.PT_GNU_STACK:
            ph[k]["align"] = 16
    return ph.tobytes()


def section_headers(sections: list[OutSection], names: list[int]) -> bytes:
    """Null header, then one per section in index order; ``names``: `.shstrtab` offset of each.

    A non-allocated section's ``addr`` is its file offset: its header says address 0."""
    sh = np.zeros(len(sections) + 1, elf.SHDR)
    for s, name in zip(sections, names):
        sh[s.index] = (name, s.type, s.flags, s.addr if s.flags & elf.SHF_ALLOC else 0,
                       s.addr, s.size, s.link.index if s.link else 0, s.info, s.align, s.entsize)
    return sh.tobytes()


def elf_header(phnum: int, shoff: int, shnum: int, shstrndx: int) -> bytes:
    eh = np.zeros(1, elf.EHDR)
    eh[0] = (elf.ELFMAG + bytes([elf.ELFCLASS64, elf.ELFDATA2LSB, 1]) + bytes(9), elf.ET_DYN,
             elf.EM_X86_64, 1, 0, elf.EHDR.itemsize, shoff, 0, elf.EHDR.itemsize, elf.PHDR.itemsize,
             phnum, elf.SHDR.itemsize, shnum, shstrndx)
    return eh.tobytes()
