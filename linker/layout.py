"""Output sections, segments and the synthetic sections of a shared library.

Addresses equal file offsets (every segment starts on a page boundary), which
keeps the writer and the loader trivial.  Segment order::

    R   : ELF+program headers, .dynsym .dynstr .gnu.hash .rela.dyn .rodata .snap.dir
          user sections, .eh_frame_hdr .eh_frame
    RX  : .text .snap.stubs (trap + one `jmp *slot(%rip)` per import)
    RW  : RELRO(.data.rel.ro .got .dynamic) | import region (slots + data with
          import fixups; the loader protects it after filling) | .data .bss
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from . import elf
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
    addr: int = 0
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


# --- GNU hash ---------------------------------------------------------------------------

def gnu_hashes(names: list[bytes]) -> np.ndarray:
    """dl_new_hash of every name, computed column by column over a padded byte matrix."""
    n = len(names)
    if not n:
        return np.zeros(0, np.uint32)
    lens = np.fromiter(map(len, names), np.int64, n)
    flat = np.frombuffer(b"".join(names), np.uint8)
    mat = np.zeros((n, int(lens.max())), np.uint32)
    starts = np.cumsum(lens) - lens
    rows = np.repeat(np.arange(n), lens)
    mat[rows, np.arange(len(flat)) - np.repeat(starts, lens)] = flat
    h = np.full(n, 5381, np.uint32)
    for c in range(mat.shape[1]):
        live = c < lens
        h[live] = h[live] * np.uint32(33) + mat[live, c]
    return h


@dataclass
class GnuHash:
    order: np.ndarray      # permutation of the exported names into dynsym order
    nbuckets: int
    maskwords: int
    hashes: np.ndarray     # in dynsym order

    @classmethod
    def plan(cls, names: list[bytes]) -> "GnuHash":
        h = gnu_hashes(names)
        n = len(names)
        nb = max(1, n // 4)
        mw = 1
        while mw < max(1, n * 12 // 64):
            mw *= 2
        order = np.argsort(h % np.uint32(nb), kind="stable")
        return cls(order, nb, mw, h[order])

    @property
    def size(self) -> int:
        return 16 + 8 * self.maskwords + 4 * self.nbuckets + 4 * len(self.hashes)

    def build(self, symoffset: int = 1) -> bytes:
        h = self.hashes.astype(np.uint64)
        n = len(h)
        shift2 = 26
        bloom = np.zeros(self.maskwords, np.uint64)
        word = (h // np.uint64(64)) % np.uint64(self.maskwords)
        bits = (np.uint64(1) << (h % np.uint64(64))) | (np.uint64(1) << ((h >> np.uint64(shift2)) % np.uint64(64)))
        np.bitwise_or.at(bloom, word.astype(np.int64), bits)
        bucket_of = (self.hashes % np.uint32(self.nbuckets)).astype(np.int64)
        buckets = np.zeros(self.nbuckets, np.uint32)
        if n:
            firsts = np.flatnonzero(np.r_[True, bucket_of[1:] != bucket_of[:-1]])
            buckets[bucket_of[firsts]] = firsts + symoffset
        chain = self.hashes & np.uint32(0xFFFFFFFE)
        if n:
            lasts = np.flatnonzero(np.r_[bucket_of[1:] != bucket_of[:-1], True])
            chain[lasts] |= np.uint32(1)
        head = struct.pack("<IIII", self.nbuckets, symoffset, self.maskwords, shift2)
        return head + bloom.astype("<u8").tobytes() + buckets.astype("<u4").tobytes() + chain.astype("<u4").tobytes()


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


def dynamic(entries: list[tuple[int, int]]) -> bytes:
    return b"".join(struct.pack("<qQ", t, v) for t, v in entries + [(elf.DT_NULL, 0)])
