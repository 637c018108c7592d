"""Relocations: scan (validate, classify, decide GOT/relaxation) and apply, vectorised.

All relocations of all kept sections are concatenated into flat numpy arrays;
scan and apply then work per relocation *type* with masks, never with a
Python call per relocation.  Apply writes into the output image buffer and
returns the dynamic relocations (all R_X86_64_RELATIVE) and the import
fixups (R_X86_64_64 against an import, written by the loader).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import elf
from .errors import LinkError
from .symbols import ABS, BAD, DEF, IMP, Resolution

SUPPORTED = np.array([elf.R_X86_64_NONE, elf.R_X86_64_64, elf.R_X86_64_PC32, elf.R_X86_64_PLT32,
                      elf.R_X86_64_GOTPCREL, elf.R_X86_64_GOTPCRELX, elf.R_X86_64_REX_GOTPCRELX,
                      elf.R_X86_64_PC64, elf.R_X86_64_GOTOFF64, elf.R_X86_64_GOTPC32])
GOT_TYPES = np.array([elf.R_X86_64_GOTPCREL, elf.R_X86_64_GOTPCRELX, elf.R_X86_64_REX_GOTPCRELX])
RELAXABLE = np.array([elf.R_X86_64_GOTPCRELX, elf.R_X86_64_REX_GOTPCRELX])
WIDTH8 = np.array([elf.R_X86_64_64, elf.R_X86_64_PC64, elf.R_X86_64_GOTOFF64])
MOV, LEA = 0x8B, 0x8D


@dataclass
class Relocs:
    """Flat arrays, one element per kept relocation."""
    sec: np.ndarray      # gid of the section patched
    off: np.ndarray      # offset in that section
    type: np.ndarray
    addend: np.ndarray
    tid: np.ndarray      # target id (symbols.Resolution)
    relax: np.ndarray    # GOTPCRELX mov -> lea
    got_tids: np.ndarray  # sorted unique targets that need a synthesized GOT entry
    got_index: np.ndarray  # per relocation: GOT entry index, -1 if none
    dyn_secs: set[int]   # sections holding R_X86_64_64 to a local definition (RELRO candidates)
    fixup_secs: set[int]  # sections holding R_X86_64_64 to an import
    n_fixups: int         # R_X86_64_64 to an import: the loader writes them (the directory lists them)
    n_local_abs: int      # R_X86_64_64 to a local definition: one R_X86_64_RELATIVE each


def _where(res: Resolution, gid: int, off: int, tid: int, rtype: int) -> str:
    sec = res.sections[int(gid)]
    return (f"{sec.where}, offset {int(off):#x}: {elf.reloc_name(rtype)} against symbol "
            f"{res.describe(tid)!r}")


def _reject(res: Resolution, gid: int, off: int, tid: int, rtype: int) -> LinkError:
    rtype = int(rtype)
    at = _where(res, gid, off, tid, rtype)
    if rtype in elf.TLS_RELOCS:
        why = "thread-local storage (TLS) is not supported"
    elif rtype in elf.LARGE_MODEL_RELOCS:
        why = "large code model relocation; emit with codemodel='default'"
    elif rtype in elf.STATIC_RELOCS:
        why = "absolute 32-bit relocation (static relocation model); emit with reloc='pic'"
    else:
        why = "unknown/unsupported relocation type"
    return LinkError(f"{at}: {why}")


def scan(res: Resolution, sections: list, relas: dict[int, np.ndarray]) -> Relocs:
    """``relas``: gid -> RELA array of that section (symbol indices of its object)."""
    gids = [g for g in sorted(relas) if len(relas[g])]
    for g in gids:
        if sections[g].data is None:
            raise LinkError(f"{sections[g].where}: relocations in a NOBITS section")
    if gids:
        counts = np.array([len(relas[g]) for g in gids], np.int64)
        roff, rinfo, radd = elf.rela_columns([relas[g] for g in gids])
        gid = np.repeat(np.array(gids, np.int64), counts)
        off = roff.astype(np.int64)
        rtype = (rinfo & np.uint64(0xFFFFFFFF)).astype(np.int64)
        # Symbol index -> target id through one flat table of every object's map.
        tid_base = np.cumsum([0] + [len(t) for t in res.tid])
        alltids = np.concatenate(res.tid) if res.tid else np.zeros(0, np.int64)
        obj_of = np.array([sections[g].obj.index for g in gids], np.int64)
        tid = alltids[np.repeat(tid_base[obj_of], counts) + (rinfo >> np.uint64(32)).astype(np.int64)]
        add = radd.copy()
    else:
        gid = off = rtype = add = tid = np.zeros(0, np.int64)
    # GOTPCRELX on a `mov` whose target is ours becomes `lea`: look at the opcode byte in the input.
    relax = np.zeros(len(tid), bool)
    cand = np.flatnonzero(((rtype == elf.R_X86_64_GOTPCRELX) | (rtype == elf.R_X86_64_REX_GOTPCRELX))
                          & (off >= 2) & (res.t_kind[tid] == DEF))
    if len(cand):
        file_off = np.array([s.file_offset for s in sections], np.int64)
        obj_idx = np.array([s.obj.index for s in sections], np.int64)
        cgid = gid[cand]
        for oi in np.unique(obj_idx[cgid]).tolist():
            m = (obj_idx[cgid] == oi) & (file_off[cgid] >= 0)
            raw = np.frombuffer(res.objects[oi].data, np.uint8)
            relax[cand[m]] = raw[file_off[cgid[m]] + off[cand[m]] - 2] == MOV
    kind = res.t_kind[tid]

    def first(mask: np.ndarray) -> int | None:
        idx = np.flatnonzero(mask)
        return int(idx[0]) if len(idx) else None

    if (i := first(~np.isin(rtype, SUPPORTED))) is not None:
        raise _reject(res, gid[i], off[i], tid[i], rtype[i])
    live = rtype != elf.R_X86_64_NONE
    if (i := first(live & (kind == BAD))) is not None:
        raise LinkError(f"{_where(res, gid[i], off[i], tid[i], rtype[i])}: symbol is in a discarded "
                        "section (a COMDAT group another object provides)")
    if (i := first(np.isin(rtype, [elf.R_X86_64_PC32, elf.R_X86_64_PC64, elf.R_X86_64_GOTOFF64])
                   & (kind == IMP))) is not None:
        raise LinkError(f"{_where(res, gid[i], off[i], tid[i], rtype[i])}: direct PC-relative reference "
                        "to an undefined (imported) symbol; it must be reached through the GOT "
                        "(do not mark it dso_local)")
    is64 = rtype == elf.R_X86_64_64
    execsec = np.array([bool(s.flags & elf.SHF_EXECINSTR) for s in sections], bool)
    if (i := first(is64 & execsec[gid] & (kind != ABS))) is not None:
        raise LinkError(f"{_where(res, gid[i], off[i], tid[i], rtype[i])}: absolute address in code "
                        "(text relocation); emit with reloc='pic'")
    sizes = np.array([s.size for s in sections], np.int64)
    width = np.where(np.isin(rtype, WIDTH8), 8, 4)
    if (i := first(live & (off + width > sizes[gid]))) is not None:
        raise LinkError(f"{_where(res, gid[i], off[i], tid[i], rtype[i])}: relocation runs past the section end")
    needs_got = np.isin(rtype, GOT_TYPES) & (kind != IMP) & ~relax
    got_tids = np.unique(tid[needs_got])
    got_index = np.full(len(tid), -1, np.int64)
    got_index[needs_got] = np.searchsorted(got_tids, tid[needs_got])
    local_abs, fixups = is64 & (kind == DEF), is64 & (kind == IMP)
    dyn_secs = set(np.unique(gid[local_abs]).tolist())
    fixup_secs = set(np.unique(gid[fixups]).tolist())
    return Relocs(gid, off, rtype, add, tid, relax, got_tids, got_index, dyn_secs, fixup_secs,
                  int(fixups.sum()), int(local_abs.sum()))


def put(buf: np.ndarray, pos: np.ndarray, val: np.ndarray, width: int) -> None:
    """Store little-endian ``width``-byte values at arbitrary (unaligned) offsets."""
    if not len(pos):
        return
    raw = val.astype("<i8").view(np.uint8).reshape(-1, 8)[:, :width]
    buf[pos[:, None] + np.arange(width)] = raw


@dataclass
class Applied:
    rel_off: np.ndarray        # R_X86_64_RELATIVE: output address patched
    rel_add: np.ndarray        # and its addend (link-time address)
    fix_off: np.ndarray        # import fixups: address, import index, addend
    fix_imp: np.ndarray
    fix_add: np.ndarray


def apply(buf: np.ndarray, r: Relocs, res: Resolution, sec_addr: np.ndarray,
          slot_addr: np.ndarray, stub_addr: np.ndarray, got_addr: int) -> Applied:
    """Patch ``buf`` (file image, offset == address) for every relocation."""
    P = sec_addr[r.sec] + r.off
    kind = res.t_kind[r.tid]
    tval = res.t_val[r.tid]
    tsec = res.t_sec[r.tid]
    S = np.where(kind == DEF, sec_addr[np.maximum(tsec, 0)] + tval, np.where(kind == ABS, tval, 0))
    S[r.tid == res.got_tid] = got_addr
    imp = np.where(kind == IMP, tval, 0)
    A = r.addend
    t = r.type
    val = np.zeros(len(t), np.int64)

    m = (t == elf.R_X86_64_PLT32) | (t == elf.R_X86_64_PC32)
    tgt = np.where(kind == IMP, stub_addr[imp] if len(stub_addr) else 0, S)
    val[m] = (tgt + A - P)[m]
    m = t == elf.R_X86_64_PC64
    val[m] = (S + A - P)[m]
    m = np.isin(t, GOT_TYPES)
    gslot = got_addr + 8 * np.maximum(r.got_index, 0)
    via = np.where(kind == IMP, slot_addr[imp] if len(slot_addr) else 0, np.where(r.relax, S, gslot))
    val[m] = (via + A - P)[m]
    buf[P[m & r.relax] - 2] = LEA
    m = t == elf.R_X86_64_GOTOFF64
    val[m] = (S + A - got_addr)[m]
    m = t == elf.R_X86_64_GOTPC32
    val[m] = (got_addr + A - P)[m]
    is64 = t == elf.R_X86_64_64
    val[is64] = np.where(kind == IMP, 0, S + A)[is64]

    w8 = np.isin(t, WIDTH8)
    w4 = ~w8 & (t != elf.R_X86_64_NONE)
    bad = w4 & ((val < -(1 << 31)) | (val >= (1 << 31)))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise LinkError(f"{_where(res, r.sec[i], r.off[i], r.tid[i], t[i])}: value {int(val[i]):#x} "
                        "does not fit in 32 bits")
    put(buf, P[w4], val[w4], 4)
    put(buf, P[w8], val[w8], 8)
    dyn = is64 & (kind == DEF)
    fix = is64 & (kind == IMP)
    return Applied(P[dyn], (S + A)[dyn], P[fix], imp[fix], A[fix])
