"""Output sections, segments and the synthetic sections of a shared library.

Addresses equal file offsets (every segment starts on a page boundary), which
keeps the writer and the loader trivial.  Segment order::

    R   : ELF+program headers, .snap.dir .dynsym .dynstr .gnu.hash .rela.dyn .rodata
          user sections, .eh_frame_hdr .eh_frame
    RX  : .text .snap.stubs (trap + one `jmp *slot(%rip)` per import)
    RW  : RELRO(.data.rel.ro .got .dynamic) | import region (slots + data with
          import fixups; the loader protects it after filling) | .data .bss
"""
from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

import numpy as np

from . import elf
from .elf import PAGE, align_up
from .objects import InputSection


@dataclass(eq=False)
class OutSection:
    name: str
    type: int
    flags: int
    align: int = 1
    size: int = 0
    members: list[InputSection] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    page_start: bool = False           # start on a fresh page (protection boundary)
    keep_empty: bool = False
    addr: int = 0                      # address == file offset; non-allocated sections: file offset
    index: int = 0                     # section header index
    link: "OutSection | None" = None
    info: int = 0
    entsize: int = 0

    def add(self, sec: InputSection) -> None:
        off = elf.align_up(self.size, sec.align)
        self.members.append(sec)
        self.offsets.append(off)
        self.size = off + sec.size
        self.align = max(self.align, sec.align)

    @property
    def present(self) -> bool:
        return self.size > 0 or self.keep_empty

    @property
    def end(self) -> int:
        return self.addr + self.size


@dataclass
class Segment:
    flags: int
    sections: list[OutSection]
    start: int = 0
    file_end: int = 0
    mem_end: int = 0


def assign_addresses(segments: list[Segment], header_size: int) -> int:
    """Give every present section an address (== file offset); return the file size of the image."""
    addr = header_size
    for k, seg in enumerate(segments):
        addr = elf.align_up(addr, elf.PAGE) if k else 0
        seg.start = addr
        if k == 0:
            addr = header_size
        file_end = addr
        for sec in seg.sections:
            if not sec.present:
                continue
            if sec.page_start:
                addr = elf.align_up(addr, elf.PAGE)
            addr = elf.align_up(addr, sec.align)
            sec.addr = addr
            addr += sec.size
            if sec.type != elf.SHT_NOBITS:
                file_end = addr
        seg.file_end, seg.mem_end = file_end, addr
        addr = file_end
    return segments[-1].file_end


_RELRO_NAMES = re.compile(r"^\.(data\.rel\.ro|ctors|dtors|init_array|fini_array|preinit_array)(\.|$)")
_ARRAY_TYPES = {elf.SHT_INIT_ARRAY, elf.SHT_FINI_ARRAY, elf.SHT_PREINIT_ARRAY}


def is_eh_frame(sec: InputSection) -> bool:
    return sec.name == ".eh_frame" or sec.type == elf.SHT_X86_64_UNWIND


class Outputs:
    """Every output section, in file order, and which input section goes where."""

    def __init__(self, user: list[tuple[str, bytes]]) -> None:
        A, W, X, PB = elf.SHF_ALLOC, elf.SHF_WRITE, elf.SHF_EXECINSTR, elf.SHT_PROGBITS
        self.dynsym = OutSection(".dynsym", elf.SHT_DYNSYM, A, 8, entsize=24, info=1, keep_empty=True)
        self.dynstr = OutSection(".dynstr", elf.SHT_STRTAB, A, 1, keep_empty=True)
        self.dynsym.link = self.dynstr
        self.gnuhash = OutSection(".gnu.hash", elf.SHT_GNU_HASH, A, 8, link=self.dynsym, keep_empty=True)
        self.reladyn = OutSection(".rela.dyn", elf.SHT_RELA, A, 8, link=self.dynsym, entsize=24)
        self.rodata = OutSection(".rodata", PB, A)
        self.dir = OutSection(".snap.dir", PB, A, 8, keep_empty=True)
        self.users = [OutSection(n, PB, A, 16, keep_empty=True) for n, _ in user]
        self.ehhdr = OutSection(".eh_frame_hdr", PB, A, 4, keep_empty=True)
        self.ehframe = OutSection(".eh_frame", PB, A, 8, keep_empty=True)
        self.text = OutSection(".text", PB, A | X, 16)
        self.stubs = OutSection(".snap.stubs", PB, A | X, 16, keep_empty=True)
        self.relro = OutSection(".data.rel.ro", PB, A | W)
        self.got = OutSection(".got", PB, A | W, 8)
        self.dynamic = OutSection(".dynamic", elf.SHT_DYNAMIC, A | W, 8, link=self.dynstr, entsize=16,
                                  keep_empty=True)
        self.slots = OutSection(".snap.imports", PB, A | W, 8, page_start=True)
        self.impdata = OutSection(".snap.importdata", PB, A | W, 8)
        self.data = OutSection(".data", PB, A | W, page_start=True)
        self.bss = OutSection(".bss", elf.SHT_NOBITS, A | W, page_start=True)
        self.segments = [
            # the directory first, right after the program headers: where the loader looks
            Segment(elf.PF_R, [self.dir, self.dynsym, self.dynstr, self.gnuhash, self.reladyn, self.rodata,
                               *self.users, self.ehhdr, self.ehframe]),
            Segment(elf.PF_R | elf.PF_X, [self.text, self.stubs]),
            Segment(elf.PF_R | elf.PF_W, [self.relro, self.got, self.dynamic, self.slots, self.impdata,
                                          self.data, self.bss])]
        self.with_inputs = [self.text, self.rodata, self.relro, self.impdata, self.data, self.bss, self.ehframe]
        # The non-allocated tail, after the last segment's file bytes (its `addr` is a file offset).
        self.symtab = OutSection(".symtab", elf.SHT_SYMTAB, 0, 8, entsize=24)
        self.strtab = OutSection(".strtab", elf.SHT_STRTAB, 0, 1)
        self.shstrtab = OutSection(".shstrtab", elf.SHT_STRTAB, 0, 1)
        self.symtab.link = self.strtab
        self.tail = [self.symtab, self.strtab, self.shstrtab]

    def number_sections(self) -> list[OutSection]:
        """Give every section that gets a header its index (1..n, in file order); return them in that order.

        Only sections with a size (or kept empty) get one, so call this once sizes are final."""
        numbered = [s for seg in self.segments for s in seg.sections if s.present] + self.tail
        for k, s in enumerate(numbered, 1):
            s.index = k
        return numbered

    def place(self, sec: InputSection, has_fixups: bool, has_dynrel: bool) -> None:
        fl = sec.flags
        relro_named = bool(_RELRO_NAMES.match(sec.name)) or sec.type in _ARRAY_TYPES
        if fl & elf.SHF_EXECINSTR:
            self.text.add(sec)
        elif sec.type == elf.SHT_NOBITS:
            self.bss.add(sec)
        elif is_eh_frame(sec):
            self.ehframe.add(sec)
        elif fl & elf.SHF_WRITE and not relro_named:
            self.data.add(sec)          # truly mutable: import fixups here are written, never protected
        elif has_fixups:
            self.impdata.add(sec)       # read-only once the loader wrote its import fixups
        elif fl & elf.SHF_WRITE or has_dynrel:
            self.relro.add(sec)         # read-only once ld.so applied its RELATIVE relocations
        else:
            self.rodata.add(sec)

    def input_addresses(self, n_inputs: int) -> tuple[np.ndarray, np.ndarray]:
        """Per input section gid: address and output section index."""
        addr = np.zeros(n_inputs, np.int64)
        index = np.zeros(n_inputs, np.int64)
        for out in self.with_inputs:
            for m, off in zip(out.members, out.offsets):
                addr[m.gid] = out.addr + off
                index[m.gid] = out.index
        return addr, index

    @property
    def relro_end(self) -> int:
        """RELRO runs from the RW segment start to the first page that must stay writable for now."""
        after = [s for s in (self.slots, self.data, self.bss) if s.present]
        return after[0].addr if after else self.dynamic.end

    @property
    def import_region(self) -> tuple[int, int]:
        """(address, size) the loader makes read-only after filling the table and fixups."""
        if not self.slots.present:
            return 0, 0
        end = max(self.slots.end, self.impdata.end if self.impdata.present else 0)
        return self.slots.addr, align_up(end, PAGE) - self.slots.addr


# --- import stubs and the trap ----------------------------------------------------------

TRAP_MSG = b"snap: call through an unfilled import slot\n"
_TRAP_CODE_LEN = 26


def trap_code() -> bytes:
    """write(2, msg, len) via raw syscall, then ud2: an unfilled slot dies loudly, never jumps to 0."""
    code = (b"\xb8\x01\x00\x00\x00"                      # mov $1, %eax      (SYS_write)
            b"\xbf\x02\x00\x00\x00"                      # mov $2, %edi      (stderr)
            b"\x48\x8d\x35" + struct.pack("<i", _TRAP_CODE_LEN - 17)   # lea msg(%rip), %rsi
            + b"\xba" + struct.pack("<I", len(TRAP_MSG))  # mov $len, %edx
            + b"\x0f\x05"                                # syscall
            + b"\x0f\x0b")                               # ud2
    assert len(code) == _TRAP_CODE_LEN
    return code + TRAP_MSG


TRAP_SIZE = elf.align_up(len(trap_code()), 16)
STUB_SIZE = 8


def stubs(base: int, slot_addr: np.ndarray) -> bytes:
    """Trap then one `jmp *slot(%rip); int3; int3` per import."""
    n = len(slot_addr)
    out = np.full(TRAP_SIZE + STUB_SIZE * n, 0xCC, np.uint8)
    t = trap_code()
    out[:len(t)] = np.frombuffer(t, np.uint8)
    st = out[TRAP_SIZE:].reshape(n, STUB_SIZE)
    st[:, 0], st[:, 1] = 0xFF, 0x25
    stub_addr = base + TRAP_SIZE + STUB_SIZE * np.arange(n, dtype=np.int64)
    st[:, 2:6] = (slot_addr - (stub_addr + 6)).astype("<i4").view(np.uint8).reshape(n, 4)
    return out.tobytes()
