"""The dynamic linking view: `.dynsym`, `.dynstr`, `.gnu.hash`, `.rela.dyn`, `.dynamic`.

ld.so only ever sees R_X86_64_RELATIVE relocations (imports go through the
snap import table), so `.dynsym` exists for lookups: glibc's dlsym walks
DT_GNU_HASH, whose chains need the symbols sorted by bucket.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from . import elf
from .symbols import Global


def gnu_hashes(names: list[bytes]) -> np.ndarray:
    """dl_new_hash (h = h*33 + c) of every name, one vector step per character position.

    Names are visited longest first, so the names still going at position c are a prefix."""
    n = len(names)
    if not n:
        return np.zeros(0, np.uint32)
    lens = np.fromiter(map(len, names), np.int64, n)
    flat = np.frombuffer(b"".join(names), np.uint8).astype(np.uint32)
    starts = np.cumsum(lens) - lens
    order = np.argsort(-lens, kind="stable")
    slens, sstarts = lens[order], starts[order]
    h = np.full(n, 5381, np.uint32)
    live = n
    for c in range(int(slens[0]) if n else 0):
        while live and slens[live - 1] <= c:
            live -= 1
        h[:live] = h[:live] * np.uint32(33) + flat[sstarts[:live] + c]
    out = np.empty(n, np.uint32)
    out[order] = h
    return out


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



@dataclass
class DynSymbols:
    """Exported globals plus linker-defined extras, in GNU-hash order."""
    exports: list[Global]
    extras: list[str]

    def __post_init__(self) -> None:
        self.names = [g.name.encode() for g in self.exports] + [n.encode() for n in self.extras]
        self.hash = GnuHash.plan(self.names)
        self.order = self.hash.order.tolist()
        self.strtab = b"\0" + b"".join(self.names[i] + b"\0" for i in self.order)

    @property
    def symtab_size(self) -> int:
        return elf.SYM.itemsize * (len(self.names) + 1)

    def symtab(self, sec_addr: np.ndarray, sec_out: np.ndarray,
               extra: dict[str, tuple[int, int, int, int]]) -> bytes:
        """``extra``: name -> (type, address, size, section index)."""
        ds = np.zeros(len(self.names) + 1, elf.SYM)
        name_off = 1
        for k, i in enumerate(self.order, 1):
            if i < len(self.exports):
                g = self.exports[i]
                typ = elf.STT_OBJECT if g.type == elf.STT_COMMON else g.type
                if g.absolute:
                    shndx, value = elf.SHN_ABS, g.value
                else:
                    shndx, value = sec_out[g.sec.gid], sec_addr[g.sec.gid] + g.value
                ds[k] = (name_off, (g.bind << 4) | typ, g.visibility, shndx, value, g.size)
            else:
                typ, value, size, shndx = extra[self.extras[i - len(self.exports)]]
                ds[k] = (name_off, (elf.STB_GLOBAL << 4) | typ, 0, shndx, value, size)
            name_off += len(self.names[i]) + 1
        return ds.tobytes()


def rela_relative(offsets: np.ndarray, addends: np.ndarray) -> bytes:
    """`.rela.dyn`: R_X86_64_RELATIVE entries sorted by address (what DT_RELACOUNT promises)."""
    o = np.argsort(offsets, kind="stable")
    rela = np.zeros(len(offsets), elf.RELA)
    rela["offset"], rela["info"], rela["addend"] = offsets[o], elf.R_X86_64_RELATIVE, addends[o]
    return rela.tobytes()


def dynamic_tags(n_rel: int) -> list[int]:
    tags = [elf.DT_GNU_HASH, elf.DT_STRTAB, elf.DT_SYMTAB, elf.DT_STRSZ, elf.DT_SYMENT]
    if n_rel:
        tags += [elf.DT_RELA, elf.DT_RELASZ, elf.DT_RELAENT, elf.DT_RELACOUNT]
    return tags + [elf.DT_FLAGS_1]


def dynamic_size(n_rel: int) -> int:
    return elf.DYN.itemsize * (len(dynamic_tags(n_rel)) + 1)


def dynamic(n_rel: int, values: dict[int, int]) -> bytes:
    """`.dynamic`; constant tags are filled in here, addresses come from ``values``."""
    fixed = {elf.DT_SYMENT: elf.SYM.itemsize, elf.DT_RELAENT: elf.RELA.itemsize,
             elf.DT_FLAGS_1: elf.DF_1_NODELETE, elf.DT_RELACOUNT: n_rel}
    entries = [(t, fixed[t] if t in fixed else values[t]) for t in dynamic_tags(n_rel)]
    return b"".join(struct.pack("<qQ", t, v) for t, v in entries + [(elf.DT_NULL, 0)])
