"""`.eh_frame` pieces: drop FDEs of discarded COMDAT code, find FDEs for `.eh_frame_hdr`.

An input `.eh_frame` is a list of CIE and FDE records.  FDEs whose `pc_begin`
relocation targets a discarded section are removed (their relocations with
them) and the CIE pointers of the survivors are rewritten.  The result is a new
blob plus relocations with remapped offsets, applied like any other section.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from .errors import LinkError
from .symbols import BAD, Resolution

DW_EH_PE_pcrel_sdata4 = 0x1B


@dataclass
class EhPiece:
    data: bytes
    relas: np.ndarray       # RELA with offsets into ``data``
    fde_offsets: list[int]  # offsets of kept FDEs in ``data``


def _uleb(b: bytes, i: int) -> tuple[int, int]:
    r = shift = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return r, i


def _cie_fde_encoding(b: bytes, o: int, end: int, where: str) -> int:
    """The pointer encoding FDEs of the CIE at ``o`` use (augmentation 'R')."""
    version = b[o + 8]
    i = o + 9
    aug_end = b.index(b"\0", i, end)
    aug = b[i:aug_end].decode("ascii", "replace")
    i = aug_end + 1
    _, i = _uleb(b, i)              # code alignment
    _, i = _uleb(b, i)              # data alignment (sleb; skipping works the same)
    if version == 1:
        i += 1
    else:
        _, i = _uleb(b, i)
    if not aug.startswith("z"):
        return 0
    _, i = _uleb(b, i)
    for ch in aug[1:]:
        if ch == "R":
            return b[i]
        if ch == "L":
            i += 1
        elif ch == "P":
            enc = b[i]
            i += 1 + {0x00: 8, 0x03: 4, 0x04: 8, 0x0B: 4, 0x0C: 8}.get(enc & 0x0F, 8)
        elif ch in "SB":
            continue
        else:
            raise LinkError(f"{where}: unknown CIE augmentation {aug!r}")
    return 0


def split(data: bytes, relas: np.ndarray, tids: np.ndarray, res: Resolution, where: str) -> EhPiece:
    """Filter one input `.eh_frame`; ``tids`` maps the object's symbol indices to targets."""
    try:
        return _split(data, relas, tids, res, where)
    except (IndexError, ValueError, struct.error) as e:
        raise LinkError(f"{where}: malformed .eh_frame ({e})") from None


def _split(data: bytes, relas: np.ndarray, tids: np.ndarray, res: Resolution, where: str) -> EhPiece:
    records: list[tuple[int, int, bool, int]] = []      # (offset, total length, is_cie, cie_offset)
    o, n = 0, len(data)
    while o + 4 <= n:
        length = struct.unpack_from("<I", data, o)[0]
        if length == 0:
            o += 4
            continue
        if length == 0xFFFFFFFF:
            raise LinkError(f"{where}: 64-bit DWARF .eh_frame records are not supported")
        if o + 4 + length > n or length < 4:
            raise LinkError(f"{where}: .eh_frame record at {o:#x} runs past the section end")
        cid = struct.unpack_from("<I", data, o + 4)[0]
        records.append((o, 4 + length, cid == 0, o + 4 - cid))
        o += 4 + length
    roff = relas["offset"].astype(np.int64)
    rsym = (relas["info"] >> np.uint64(32)).astype(np.int64)
    rkind = res.t_kind[tids[rsym]] if len(relas) else np.zeros(0, np.int8)
    by_off = {int(off): int(k) for off, k in zip(roff, rkind)}
    enc_of: dict[int, int] = {}
    keep = np.zeros(len(records), bool)
    for k, (off, ln, is_cie, cie) in enumerate(records):
        if is_cie:
            enc_of[off] = _cie_fde_encoding(data, off, off + ln, where)
            keep[k] = True
            continue
        if cie not in enc_of:
            raise LinkError(f"{where}: FDE at {off:#x} points at no preceding CIE")
        keep[k] = by_off.get(off + 8, 0) != BAD
        if keep[k] and enc_of[cie] != DW_EH_PE_pcrel_sdata4:
            raise LinkError(f"{where}: FDE pointer encoding {enc_of[cie]:#x} is not supported "
                            "(need pcrel|sdata4, as LLVM emits for reloc='pic', codemodel='default')")
    out = bytearray()
    new_off: dict[int, int] = {}
    fdes: list[int] = []
    starts = np.array([r[0] for r in records], np.int64)
    delta = np.zeros(len(records), np.int64)
    for k, (off, ln, is_cie, cie) in enumerate(records):
        if not keep[k]:
            continue
        new_off[off] = len(out)
        delta[k] = len(out) - off
        out += data[off:off + ln]
        if not is_cie:
            struct.pack_into("<I", out, new_off[off] + 4, new_off[off] + 4 - new_off[cie])
            fdes.append(new_off[off])
    if len(roff):
        rec = np.searchsorted(starts, roff, side="right") - 1
        ok = (rec >= 0) & keep[np.maximum(rec, 0)]
        relas = relas[ok].copy()
        relas["offset"] = (roff[ok] + delta[rec[ok]]).astype(np.uint64)
    return EhPiece(bytes(out), relas, fdes)


def build_hdr(hdr_addr: int, eh_addr: int, pcs: np.ndarray, fde_addrs: np.ndarray) -> bytes:
    """`.eh_frame_hdr`: version 1, pcrel eh_frame pointer, a sorted datarel table."""
    order = np.argsort(pcs, kind="stable")
    table = np.empty((len(pcs), 2), "<i4")
    table[:, 0] = pcs[order] - hdr_addr
    table[:, 1] = fde_addrs[order] - hdr_addr
    head = struct.pack("<BBBBiI", 1, DW_EH_PE_pcrel_sdata4, 0x03, 0x3B, eh_addr - (hdr_addr + 4), len(pcs))
    return head + table.tobytes()


HDR_HEADER_SIZE = 12
