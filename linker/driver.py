"""The link driver: objects -> one PIC shared library (see layout.py for the shape).

Phases, in order: parse and validate objects; resolve symbols (COMDAT, weak,
common, imports); cut `.eh_frame` into kept pieces; scan relocations; place
input sections into output sections and size the synthetic ones; assign
addresses; copy section contents and apply relocations; write the synthetic
sections, symbol tables and headers; seal with a checksum.
"""
from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Mapping, Sequence

import numpy as np

from . import dynamic, elf, ehframe, imagedir, layout, relocs, writer
from .errors import LinkError
from .layout import OutSection, Outputs
from .objects import InputSection, parse_object
from .symbols import ABS, DEF, IMP, Resolution, resolve

_CTOR_NAMES = re.compile(r"^\.(ctors|init_array)(?:\.(\d+))?$")
_RESERVED = {imagedir.SYMBOL}
_OWN_PREFIXES = (".text", ".data", ".rodata", ".bss", ".dyn", ".gnu", ".rela", ".eh_frame", ".got",
                 ".snap", ".symtab", ".strtab", ".shstrtab")


def link(objects: Sequence[bytes], *, sections: Mapping[str, bytes] = {}) -> bytes:
    """ELF x86-64 PIC relocatable objects -> ELF shared object bytes (deterministic)."""
    user = _check_user_sections(sections)
    res = resolve([parse_object(b, i) for i, b in enumerate(objects)])
    for g in res.globals:
        if g.name in _RESERVED and g.defined:
            raise LinkError(f"{g.obj.name}: symbol {g.name!r} is reserved for the linker")
    relas, fde_offsets = _relocation_sets(res)
    rs = relocs.scan(res, res.sections, relas)

    out = Outputs(user)
    for sec in res.sections:
        out.place(sec, sec.gid in rs.fixup_secs, sec.gid in rs.dyn_secs)
    ctors = _ctor_order([s for s in res.sections if _CTOR_NAMES.match(s.name)])

    # Sizes of the synthetic sections.
    dsyms = dynamic.DynSymbols([g for g in res.globals if g.exported], [imagedir.SYMBOL])
    out.dynsym.size, out.dynstr.size, out.gnuhash.size = dsyms.symtab_size, len(dsyms.strtab), dsyms.hash.size
    kind = res.t_kind[rs.tid]
    is64 = rs.type == elf.R_X86_64_64
    n_imp, n_fix = len(res.imports), int((is64 & (kind == IMP)).sum())
    # RELATIVE relocations: import slots and unfilled fixups (-> trap), GOT entries, local R_X86_64_64.
    n_rel = n_imp + n_fix + int((res.t_kind[rs.got_tids] == DEF).sum()) + int((is64 & (kind == DEF)).sum())
    out.reladyn.size = elf.RELA.itemsize * n_rel
    plan = imagedir.DirPlan(res.imports, res.weak_imports, n_fix, len(ctors), [n for n, _ in user])
    out.dir.size = plan.size
    out.ehhdr.size = ehframe.HDR_HEADER_SIZE + 8 * sum(len(v) for v in fde_offsets.values())
    out.ehframe.size += 4                                    # zero terminator
    out.stubs.size = layout.TRAP_SIZE + layout.STUB_SIZE * n_imp
    out.got.size = 8 * len(rs.got_tids)
    out.got.keep_empty = res.got_tid >= 0 or bool(np.isin(rs.type, [elf.R_X86_64_GOTOFF64,
                                                                    elf.R_X86_64_GOTPC32]).any())
    out.slots.size = 8 * n_imp
    out.dynamic.size = dynamic.dynamic_size(n_rel)

    n_extra_ph = 4                      # DYNAMIC, GNU_RELRO, GNU_EH_FRAME, GNU_STACK
    phnum = len(out.segments) + n_extra_ph
    file_size = layout.assign_addresses(out.segments, elf.EHDR.itemsize + elf.PHDR.itemsize * phnum)
    allsecs = [s for seg in out.segments for s in seg.sections if s.present]
    symtab_s = OutSection(".symtab", elf.SHT_SYMTAB, 0, 8, entsize=24)
    strtab_s = OutSection(".strtab", elf.SHT_STRTAB, 0, 1)
    shstr_s = OutSection(".shstrtab", elf.SHT_STRTAB, 0, 1)
    symtab_s.link = strtab_s
    allsecs += [symtab_s, strtab_s, shstr_s]
    for k, s in enumerate(allsecs, 1):
        s.index = k
    sec_addr, sec_out = out.input_addresses(len(res.sections))
    slot_addr = out.slots.addr + 8 * np.arange(n_imp, dtype=np.int64)
    stub_addr = out.stubs.addr + layout.TRAP_SIZE + layout.STUB_SIZE * np.arange(n_imp, dtype=np.int64)
    trap_addr = out.stubs.addr

    # Contents: input sections, then relocations.
    buf = np.zeros(file_size, np.uint8)
    for o in out.with_inputs:
        for m, off in zip(o.members, o.offsets):
            if m.data is not None:
                _put(buf, o.addr + off, m.data)
    ap = relocs.apply(buf, rs, res, sec_addr, slot_addr, stub_addr, out.got.addr)

    # GOT, import slots and fixups (-> trap until filled), with their RELATIVE relocations.
    gk = res.t_kind[rs.got_tids]
    gval = np.where(gk == DEF, sec_addr[np.maximum(res.t_sec[rs.got_tids], 0)] + res.t_val[rs.got_tids],
                    np.where(gk == ABS, res.t_val[rs.got_tids], 0))
    got_slot = out.got.addr + 8 * np.arange(len(rs.got_tids), dtype=np.int64)
    trap_at = np.concatenate([slot_addr, ap.fix_off])
    relocs.put(buf, got_slot, gval, 8)
    relocs.put(buf, trap_at, np.full(len(trap_at), trap_addr, np.int64), 8)
    _put(buf, out.reladyn.addr, dynamic.rela_relative(
        np.concatenate([trap_at, got_slot[gk == DEF], ap.rel_off]),
        np.concatenate([np.full(len(trap_at), trap_addr, np.int64), gval[gk == DEF], ap.rel_add])))
    _put(buf, out.stubs.addr, layout.stubs(out.stubs.addr, slot_addr))
    _put(buf, out.ehhdr.addr, _eh_frame_hdr(buf, out, sec_addr, fde_offsets))

    # Dynamic symbols and .dynamic.
    d = out.dir
    _put(buf, out.dynsym.addr, dsyms.symtab(sec_addr, sec_out,
                                            {imagedir.SYMBOL: (elf.STT_OBJECT, d.addr, d.size, d.index)}))
    _put(buf, out.dynstr.addr, dsyms.strtab)
    _put(buf, out.gnuhash.addr, dsyms.hash.build(1))
    _put(buf, out.dynamic.addr, dynamic.dynamic(n_rel, {
        elf.DT_GNU_HASH: out.gnuhash.addr, elf.DT_STRTAB: out.dynstr.addr, elf.DT_SYMTAB: out.dynsym.addr,
        elf.DT_STRSZ: out.dynstr.size, elf.DT_RELA: out.reladyn.addr, elf.DT_RELASZ: out.reladyn.size}))

    # User sections and the image directory.
    for o, (_, blob) in zip(out.users, user):
        _put(buf, o.addr, blob)
    fix = np.zeros(n_fix, imagedir.FIXUP)
    fix["addr"], fix["slot"], fix["addend"] = ap.fix_off, ap.fix_imp, ap.fix_add
    _put(buf, d.addr, plan.build(
        d.addr, slots_addr=out.slots.addr, region=out.import_region, fixups=fix,
        ctor_slots=np.array([sec_addr[s.gid] + 8 * e for s, e in ctors], np.int64),
        user_sections=[(o.addr, o.size) for o in out.users]))

    # Non-allocated tail: .symtab .strtab .shstrtab, section headers; then the headers up front.
    extra_locals = [("__snap_trap", elf.STT_FUNC, trap_addr, layout.TRAP_SIZE, out.stubs.index)]
    extra_locals += [(f"{n}@snapimport", elf.STT_FUNC, int(a), layout.STUB_SIZE, out.stubs.index)
                     for n, a in zip(res.imports, stub_addr)]
    extra_locals += [(f"{n}@snapslot", elf.STT_OBJECT, int(a), 8, out.slots.index)
                     for n, a in zip(res.imports, slot_addr)]
    extra_globals = [(imagedir.SYMBOL, elf.STT_OBJECT, d.addr, d.size, d.index)]
    st, strs, first_global = writer.symtab(res, sec_addr, sec_out, extra_locals, extra_globals)
    symtab_s.size, symtab_s.info, strtab_s.size = len(st), first_global, len(strs)
    shstr = writer.StringTable()
    name_offs = [shstr.add(s.name) for s in allsecs]
    shstr_blob = shstr.bytes()
    shstr_s.size = len(shstr_blob)
    offsets, tail, pos = {}, [], elf.align_up(file_size, 8)
    for s, blob in ((symtab_s, st), (strtab_s, strs), (shstr_s, shstr_blob)):
        pos = elf.align_up(pos, s.align)
        offsets[s.index] = pos
        tail.append((pos, blob))
        pos += len(blob)
    shoff = elf.align_up(pos, 8)
    sh = writer.section_headers(allsecs, offsets)
    sh["name"][1:] = name_offs

    rw = out.segments[2]
    ph = writer.program_headers(out.segments, [
        (elf.PT_DYNAMIC, elf.PF_R | elf.PF_W, out.dynamic.addr, out.dynamic.size),
        (elf.PT_GNU_RELRO, elf.PF_R, rw.start, out.relro_end - rw.start),
        (elf.PT_GNU_EH_FRAME, elf.PF_R, out.ehhdr.addr, out.ehhdr.size),
        (elf.PT_GNU_STACK, elf.PF_R | elf.PF_W, 0, 0)], file_size)
    _put(buf, 0, writer.elf_header(phnum, shoff, len(allsecs) + 1, shstr_s.index) + ph)

    image = bytearray(buf.tobytes())
    for p, blob in tail:
        image += bytes(p - len(image))
        image += blob
    image += bytes(shoff - len(image))
    image += sh.tobytes()
    struct.pack_into("<I", image, d.addr + imagedir.CRC_OFFSET, zlib.crc32(image))
    return bytes(image)


def _check_user_sections(sections: Mapping[str, bytes]) -> list[tuple[str, bytes]]:
    out = []
    for name in sorted(sections):
        if not isinstance(name, str) or not name or "\0" in name:
            raise LinkError(f"bad extra section name {name!r}")
        if name.startswith(_OWN_PREFIXES):
            raise LinkError(f"extra section name {name!r} collides with a section the linker writes")
        out.append((name, bytes(sections[name])))
    return out


def _relocation_sets(res: Resolution) -> tuple[dict[int, np.ndarray], dict[int, list[int]]]:
    """RELA array per kept section gid; `.eh_frame` sections are replaced by their kept pieces."""
    relas: dict[int, np.ndarray] = {}
    fde_offsets: dict[int, list[int]] = {}
    for sec in res.sections:
        if sec.index < 0:
            continue
        rel = sec.obj.relas.get(sec.index)
        if layout.is_eh_frame(sec):
            piece = ehframe.split(bytes(sec.data), rel if rel is not None else np.zeros(0, elf.RELA),
                                  res.tid[sec.obj.index], res, sec.where)
            sec.data, sec.size, sec.align, sec.file_offset = memoryview(piece.data), len(piece.data), 4, -1
            fde_offsets[sec.gid] = piece.fde_offsets
            rel = piece.relas
        if rel is not None:
            relas[sec.gid] = rel
    return relas, fde_offsets


def _ctor_order(ctor_secs: list[InputSection]) -> list[tuple[InputSection, int]]:
    """(section, entry index) in execution order: ascending priority; `.ctors` arrays run backwards."""
    keyed = []
    for seq, s in enumerate(ctor_secs):
        m = _CTOR_NAMES.match(s.name)
        n = s.size // 8
        if m.group(1) == "ctors":
            prio = 65535 - int(m.group(2)) if m.group(2) else 65535
            entries = range(n - 1, -1, -1)
        else:
            prio = int(m.group(2)) if m.group(2) else 65535
            entries = range(n)
        keyed += [((prio, seq, k), s, e) for k, e in enumerate(entries)]
    keyed.sort(key=lambda x: x[0])
    return [(s, e) for _, s, e in keyed]


def _eh_frame_hdr(buf: np.ndarray, out: Outputs, sec_addr: np.ndarray,
                  fde_offsets: dict[int, list[int]]) -> bytes:
    """Read each FDE's relocated pc_begin (pcrel sdata4 at FDE+8) and build the sorted table."""
    fde_addr = np.array([sec_addr[gid] + o for gid, offs in fde_offsets.items() for o in offs], np.int64)
    pcs = np.zeros(0, np.int64)
    if len(fde_addr):
        pcs = fde_addr + 8 + buf[(fde_addr + 8)[:, None] + np.arange(4)].copy().view("<i4").ravel()
    return ehframe.build_hdr(out.ehhdr.addr, out.ehframe.addr, pcs, fde_addr)


def _put(buf: np.ndarray, addr: int, blob: bytes | memoryview) -> None:
    buf[addr:addr + len(blob)] = np.frombuffer(blob, np.uint8)
