"""Input objects: parse and validate one ELF64 x86-64 relocatable object.

Everything that can be checked without looking at other objects is checked here,
so later stages can index arrays without bounds worries: header fields, section
bounds, symbol section indices, relocation symbol indices and offsets, and the
input kinds this linker refuses (TLS, REL, foreign machines, 32-bit, big-endian).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import elf
from .errors import LinkError


@dataclass(eq=False)
class InputSection:
    """One section of an input object that may end up in the output."""
    obj: "ObjectFile"
    index: int
    name: str
    type: int
    flags: int
    align: int
    size: int
    data: memoryview | None          # None for SHT_NOBITS
    file_offset: int = -1             # where ``data`` is in the object file (-1: synthetic)
    gid: int = -1                     # index in the link's global section list
    group: str | None = None          # COMDAT signature, if in a group
    discarded: bool = False

    @property
    def where(self) -> str:
        return f"{self.obj.name}, section {self.name!r}"


@dataclass(eq=False)
class ObjectFile:
    index: int
    name: str
    data: bytes
    shdrs: np.ndarray
    section_names: list[str]
    sections: dict[int, InputSection] = field(default_factory=dict)
    syms: np.ndarray = field(default_factory=lambda: np.zeros(0, elf.SYM))
    sym_shndx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    strtab: bytes = b""
    first_global: int = 0
    relas: dict[int, np.ndarray] = field(default_factory=dict)   # target section index -> RELA
    groups: list[tuple[str, list[int]]] = field(default_factory=list)

    def sym_name(self, i: int) -> str:
        s = self.syms[i]
        if (s["info"] & 0xF) == elf.STT_SECTION:
            sec = int(self.sym_shndx[i])
            return self.section_names[sec] if 0 < sec < len(self.section_names) else "<section>"
        return elf.cstr(self.strtab, int(s["name"]))


# Sections whose contents never reach the output.
_DROPPED_TYPES = {elf.SHT_NULL, elf.SHT_SYMTAB, elf.SHT_STRTAB, elf.SHT_RELA, elf.SHT_GROUP,
                  elf.SHT_SYMTAB_SHNDX, elf.SHT_NOTE, elf.SHT_REL}


def _fail(name: str, msg: str) -> LinkError:
    return LinkError(f"{name}: {msg}")


def _check_header(data: bytes, name: str) -> np.ndarray:
    if len(data) < 4 or data[:4] != elf.ELFMAG:
        raise _fail(name, f"not an ELF file ({len(data)} bytes, starts with {bytes(data[:4])!r})")
    if len(data) < 64:
        raise _fail(name, f"truncated ELF header ({len(data)} bytes)")
    if data[4] == elf.ELFCLASS32:
        raise _fail(name, "ELF32 objects are not supported (need ELF64 x86-64)")
    if data[4] != elf.ELFCLASS64:
        raise _fail(name, f"unknown ELF class {data[4]}")
    if data[5] != elf.ELFDATA2LSB:
        raise _fail(name, "big-endian objects are not supported (need little-endian x86-64)")
    eh = np.frombuffer(data, elf.EHDR, 1)[0]
    if int(eh["machine"]) != elf.EM_X86_64:
        m = int(eh["machine"])
        raise _fail(name, f"object is for machine {elf.MACHINE_NAMES.get(m, m)!s} "
                          f"(e_machine={m}), not x86-64")
    if int(eh["type"]) != elf.ET_REL:
        raise _fail(name, f"not a relocatable object (e_type={int(eh['type'])})")
    return eh


def parse_object(data: bytes, index: int) -> ObjectFile:
    """Parse and validate one relocatable object; raises LinkError naming it."""
    name = f"object #{index}"
    data = bytes(data)
    eh = _check_header(data, name)
    shoff, shnum, shstrndx = int(eh["shoff"]), int(eh["shnum"]), int(eh["shstrndx"])
    if shoff == 0:
        raise _fail(name, "no section header table")
    if int(eh["shentsize"]) != elf.SHDR.itemsize:
        raise _fail(name, f"bad e_shentsize {int(eh['shentsize'])}")
    if shoff + elf.SHDR.itemsize > len(data):
        raise _fail(name, f"truncated: section header table at {shoff:#x} past end ({len(data):#x})")
    if shnum == 0:   # extended numbering: real count in section 0
        shnum = int(np.frombuffer(data, elf.SHDR, 1, shoff)[0]["size"])
    if shoff + shnum * elf.SHDR.itemsize > len(data):
        raise _fail(name, f"truncated: {shnum} section headers at {shoff:#x} run past end ({len(data):#x})")
    shdrs = np.frombuffer(data, elf.SHDR, shnum, shoff)
    if shstrndx == elf.SHN_XINDEX:
        shstrndx = int(shdrs[0]["link"])
    if not 0 < shstrndx < shnum:
        raise _fail(name, f"bad section name table index {shstrndx}")

    huge = np.flatnonzero((shdrs["offset"] >= 1 << 48) | (shdrs["size"] >= 1 << 48))
    if len(huge):
        raise _fail(name, f"corrupt: section [{int(huge[0])}] has an impossible offset or size")
    ends = shdrs["offset"].astype(np.int64) + np.where(shdrs["type"] == elf.SHT_NOBITS, 0,
                                                       shdrs["size"]).astype(np.int64)
    bad = np.nonzero(ends > len(data))[0]
    sh_str = shdrs[shstrndx]
    if ends[shstrndx] > len(data):
        raise _fail(name, f"truncated: section name table runs past end of file ({len(data):#x})")
    shstr = data[int(sh_str["offset"]):int(sh_str["offset"]) + int(sh_str["size"])]
    names = [elf.cstr(shstr, int(n)) if n < len(shstr) else "?" for n in shdrs["name"]]
    if len(bad):
        i = int(bad[0])
        raise _fail(name, f"truncated: section {names[i]!r} [{i}] (offset {int(shdrs[i]['offset']):#x}, "
                          f"size {int(shdrs[i]['size']):#x}) runs past end of file ({len(data):#x})")

    obj = ObjectFile(index, name, data, shdrs, names)
    mv = memoryview(data)
    # Plain lists: per-section work then costs list indexing, not numpy scalar access.
    types, flags, offs = shdrs["type"].tolist(), shdrs["flags"].tolist(), shdrs["offset"].tolist()
    sizes, links, infos = shdrs["size"].tolist(), shdrs["link"].tolist(), shdrs["info"].tolist()
    aligns = shdrs["addralign"].tolist()

    def blob(i: int) -> memoryview:
        return mv[offs[i]:offs[i] + sizes[i]]

    symtab_idx = [i for i, t in enumerate(types) if t == elf.SHT_SYMTAB]
    if len(symtab_idx) > 1:
        raise _fail(name, "more than one symbol table")
    xindex = None
    for i, t in enumerate(types):
        if t == elf.SHT_SYMTAB_SHNDX:
            xindex = np.frombuffer(blob(i)[:sizes[i] & ~3], "<u4")
        if flags[i] & elf.SHF_TLS:
            raise _fail(name, f"section {names[i]!r} is thread-local (SHF_TLS); TLS is not supported")
        if t == elf.SHT_REL:
            raise _fail(name, f"section {names[i]!r}: REL relocations are not supported (x86-64 uses RELA)")
    if symtab_idx:
        si = symtab_idx[0]
        sh = shdrs[si]
        if int(sh["entsize"]) not in (0, elf.SYM.itemsize) or sizes[si] % elf.SYM.itemsize:
            raise _fail(name, "malformed symbol table")
        obj.syms = np.frombuffer(blob(si), elf.SYM)
        link = links[si]
        if not 0 < link < shnum:
            raise _fail(name, "symbol table has no string table")
        obj.strtab = bytes(blob(link))
        obj.first_global = infos[si]
        shndx = obj.syms["shndx"].astype(np.int64)
        if xindex is not None and len(xindex) >= len(shndx):
            shndx = np.where(shndx == elf.SHN_XINDEX, xindex[:len(shndx)].astype(np.int64), shndx)
        obj.sym_shndx = shndx
        bad = np.nonzero((shndx >= shnum) & (shndx < elf.SHN_LORESERVE))[0]
        if len(bad):
            raise _fail(name, f"symbol {obj.sym_name(int(bad[0]))!r} has bad section index {int(shndx[bad[0]])}")
        insec = (shndx > 0) & (shndx < shnum)
        past = np.flatnonzero(insec & (obj.syms["value"] > shdrs["size"][np.where(insec, shndx, 0)]))
        if len(past):
            raise _fail(name, f"symbol {obj.sym_name(int(past[0]))!r} lies past the end of its section")
        if len(obj.strtab) and (obj.syms["name"] >= len(obj.strtab)).any():
            raise _fail(name, "symbol name offset past end of string table")
        tls = np.nonzero((obj.syms["info"] & 0xF) == elf.STT_TLS)[0]
        if len(tls):
            raise _fail(name, f"symbol {obj.sym_name(int(tls[0]))!r} is thread-local (STT_TLS); TLS is not supported")
        if not 0 <= obj.first_global <= len(obj.syms):
            raise _fail(name, "bad first-global index in symbol table")

    nsyms = len(obj.syms)
    rela_secs: list[int] = []
    for i, t in enumerate(types):
        if t == elf.SHT_RELA:
            tgt = infos[i]
            if not 0 < tgt < shnum:
                raise _fail(name, f"relocation section {names[i]!r} targets bad section index {tgt}")
            if sizes[i] % elf.RELA.itemsize:
                raise _fail(name, f"relocation section {names[i]!r} has a partial entry")
            if not symtab_idx or links[i] != symtab_idx[0]:
                raise _fail(name, f"relocation section {names[i]!r} does not use the symbol table")
            obj.relas[tgt] = np.frombuffer(blob(i), elf.RELA)
            rela_secs.append(i)
        elif t == elf.SHT_GROUP:
            if sizes[i] % 4:
                raise _fail(name, f"malformed section group {names[i]!r}")
            words = np.frombuffer(blob(i), "<u4").tolist()
            if len(words) == 0 or not symtab_idx or infos[i] >= nsyms:
                raise _fail(name, f"malformed section group {names[i]!r}")
            members = words[1:]
            if any(not 0 < m < shnum for m in members):
                raise _fail(name, f"section group {names[i]!r} has a bad member index")
            if words[0] & elf.GRP_COMDAT:
                obj.groups.append((obj.sym_name(infos[i]), members))
        elif t not in _DROPPED_TYPES and flags[i] & elf.SHF_ALLOC and not flags[i] & elf.SHF_EXCLUDE:
            align = max(1, aligns[i])
            if align & (align - 1):
                raise _fail(name, f"section {names[i]!r} has non-power-of-two alignment {align}")
            if align > elf.PAGE:
                raise _fail(name, f"section {names[i]!r} wants alignment {align} > page size {elf.PAGE}")
            obj.sections[i] = InputSection(obj, i, names[i], t, flags[i], align, sizes[i],
                                           None if t == elf.SHT_NOBITS else blob(i), offs[i])
    _check_relocations(obj, rela_secs, sizes, infos)
    for sig, members in obj.groups:
        for m in members:
            if m in obj.sections:
                obj.sections[m].group = sig
    return obj


def _check_relocations(obj: ObjectFile, rela_secs: list[int], sizes: list[int], infos: list[int]) -> None:
    """Symbol indices and offsets of all relocations, checked in one vectorised pass."""
    if not rela_secs:
        return
    rels = [obj.relas[infos[i]] for i in rela_secs]
    counts = [len(r) for r in rels]
    roff, rinfo, _ = elf.rela_columns(rels)
    owner = np.repeat(np.arange(len(rela_secs)), counts)
    symi = (rinfo >> np.uint64(32)).astype(np.int64)
    limit = np.repeat(np.array([sizes[infos[i]] for i in rela_secs], np.int64), counts)
    off = roff.astype(np.int64)
    for bad, what in (((symi >= len(obj.syms)), "sym"), ((off >= limit) | (off < 0), "off")):
        idx = np.flatnonzero(bad)
        if not len(idx):
            continue
        j = int(idx[0])
        rs = rela_secs[int(owner[j])]
        if what == "sym":
            raise _fail(obj.name, f"relocation section {obj.section_names[rs]!r} references symbol index "
                                  f"{int(symi[j])} >= {len(obj.syms)}")
        raise _fail(obj.name, f"section {obj.section_names[infos[rs]]!r}: relocation at offset {int(off[j]):#x} "
                              f"is past the section end ({int(limit[j]):#x})")


def allocated_size(data: bytes) -> int:
    """Bytes of code and data an object brings into a loaded image (its SHF_ALLOC sections)."""
    obj = parse_object(data, 0)
    return sum(int(s["size"]) for s in obj.shdrs if int(s["flags"]) & elf.SHF_ALLOC)
