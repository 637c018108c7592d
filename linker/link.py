"""The link driver: objects -> one PIC shared library (see layout.py for the shape)."""
from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Mapping, Sequence

import numpy as np

from . import elf, ehframe, imagedir, layout, relocs, writer
from .errors import LinkError
from .layout import OutSection, Segment
from .objects import InputSection, parse_object
from .symbols import ABS, DEF, Resolution, resolve

_RELRO_NAMES = re.compile(r"^\.(data\.rel\.ro|ctors|dtors|init_array|fini_array|preinit_array)(\.|$)")
_CTOR_NAMES = re.compile(r"^\.(ctors|init_array)(?:\.(\d+))?$")
_ARRAY_TYPES = {elf.SHT_INIT_ARRAY, elf.SHT_FINI_ARRAY, elf.SHT_PREINIT_ARRAY}
_RESERVED = {imagedir.SYMBOL}


def _is_eh(sec: InputSection) -> bool:
    return sec.name == ".eh_frame" or sec.type == elf.SHT_X86_64_UNWIND


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


def _check_user_sections(sections: Mapping[str, bytes]) -> list[tuple[str, bytes]]:
    out = []
    for name in sorted(sections):
        if not isinstance(name, str) or not name or "\0" in name:
            raise LinkError(f"bad extra section name {name!r}")
        if name.startswith((".text", ".data", ".rodata", ".bss", ".dyn", ".gnu", ".rela", ".eh_frame",
                            ".got", ".snap", ".symtab", ".strtab", ".shstrtab")):
            raise LinkError(f"extra section name {name!r} collides with a section the linker writes")
        out.append((name, bytes(sections[name])))
    return out


def link(objects: Sequence[bytes], *, sections: Mapping[str, bytes] = {}) -> bytes:
    """ELF x86-64 PIC relocatable objects -> ELF shared object bytes (deterministic)."""
    user = _check_user_sections(sections)
    objs = [parse_object(b, i) for i, b in enumerate(objects)]
    res = resolve(objs)
    for g in res.globals:
        if g.name in _RESERVED and g.defined:
            raise LinkError(f"{g.obj.name}: symbol {g.name!r} is reserved for the linker")

    # .eh_frame pieces and the relocation sets of every kept section.
    relas: dict[int, np.ndarray] = {}
    fde_offsets: dict[int, list[int]] = {}
    for sec in res.sections:
        if sec.index < 0:
            continue
        rel = sec.obj.relas.get(sec.index)
        if _is_eh(sec):
            piece = ehframe.split(bytes(sec.data), rel if rel is not None else np.zeros(0, elf.RELA),
                                  res.tid[sec.obj.index], res, sec.where)
            sec.data, sec.size, sec.align, sec.file_offset = memoryview(piece.data), len(piece.data), 4, -1
            fde_offsets[sec.gid] = piece.fde_offsets
            rel = piece.relas
        if rel is not None:
            relas[sec.gid] = rel
    rs = relocs.scan(res, res.sections, relas)

    # Output sections.
    A, W, X = elf.SHF_ALLOC, elf.SHF_WRITE, elf.SHF_EXECINSTR
    PB = elf.SHT_PROGBITS
    dynsym = OutSection(".dynsym", elf.SHT_DYNSYM, A, 8, entsize=24, info=1, keep_empty=True)
    dynstr = OutSection(".dynstr", elf.SHT_STRTAB, A, 1, keep_empty=True)
    dynsym.link = dynstr
    gnuhash = OutSection(".gnu.hash", elf.SHT_GNU_HASH, A, 8, link=dynsym, keep_empty=True)
    reladyn = OutSection(".rela.dyn", elf.SHT_RELA, A, 8, link=dynsym, entsize=24)
    rodata = OutSection(".rodata", PB, A)
    sdir = OutSection(imagedir.SECTION, PB, A, 8, keep_empty=True)
    users = [OutSection(n, PB, A, 16, size=len(b), keep_empty=True) for n, b in user]
    ehhdr = OutSection(".eh_frame_hdr", PB, A, 4, keep_empty=True)
    ehf = OutSection(".eh_frame", PB, A, 8, keep_empty=True)
    text = OutSection(".text", PB, A | X, 16)
    stubs = OutSection(".snap.stubs", PB, A | X, 16, keep_empty=True)
    relro = OutSection(".data.rel.ro", PB, A | W)
    got = OutSection(".got", PB, A | W, 8)
    dyn = OutSection(".dynamic", elf.SHT_DYNAMIC, A | W, 8, link=dynstr, entsize=16, keep_empty=True)
    slots = OutSection(".snap.imports", PB, A | W, 8, page_start=True)
    impdata = OutSection(".snap.importdata", PB, A | W, 8)
    data = OutSection(".data", PB, A | W, page_start=True)
    bss = OutSection(".bss", elf.SHT_NOBITS, A | W, page_start=True)
    ctor_secs = []
    for sec in res.sections:
        fl = sec.flags
        if fl & X:
            text.add(sec)
        elif sec.type == elf.SHT_NOBITS:
            bss.add(sec)
        elif _is_eh(sec):
            ehf.add(sec)
        elif fl & W and not (_RELRO_NAMES.match(sec.name) or sec.type in _ARRAY_TYPES):
            data.add(sec)               # truly mutable: import fixups here are written, never protected
        elif sec.gid in rs.fixup_secs:
            impdata.add(sec)            # read-only after the loader wrote its import fixups
        elif fl & W or sec.gid in rs.dyn_secs:
            relro.add(sec)              # read-only after ld.so applied its RELATIVE relocations
        else:
            rodata.add(sec)
        if _CTOR_NAMES.match(sec.name):
            ctor_secs.append(sec)
    ctors = _ctor_order(ctor_secs)

    # Sizes of the synthetic sections.
    exports = [g for g in res.globals if g.exported]
    names = [g.name.encode() for g in exports] + [imagedir.SYMBOL.encode()]
    gh = layout.GnuHash.plan(names)
    order = gh.order.tolist()
    dynstr_blob = b"\0" + b"".join(names[i] + b"\0" for i in order)
    dynsym.size = 24 * (len(names) + 1)
    dynstr.size = len(dynstr_blob)
    gnuhash.size = gh.size
    kind = res.t_kind[rs.tid]
    n_imp = len(res.imports)
    n_got_rel = int((res.t_kind[rs.got_tids] == DEF).sum())
    n_dyn64 = int(((rs.type == elf.R_X86_64_64) & (kind == DEF)).sum())
    n_fix = int(((rs.type == elf.R_X86_64_64) & (kind == relocs.IMP)).sum())
    n_rel = n_imp + n_got_rel + n_dyn64 + n_fix       # unfilled fixups point at the trap too
    reladyn.size = 24 * n_rel
    imp_names = b"".join(n.encode() + b"\0" for n in res.imports)
    user_names = b"".join(n.encode() + b"\0" for n, _ in user)
    d_names = imagedir.HEADER.size
    d_fix = elf.align_up(d_names + len(imp_names), 8)
    d_ctor = d_fix + imagedir.FIXUP.itemsize * n_fix
    d_sect = d_ctor + 8 * len(ctors)
    d_unames = d_sect + imagedir.SECTAB.itemsize * len(user)
    d_weak = d_unames + len(user_names)
    sdir.size = d_weak + n_imp
    n_fde = sum(len(v) for v in fde_offsets.values())
    ehhdr.size = ehframe.HDR_HEADER_SIZE + 8 * n_fde
    ehf.size += 4                                           # zero terminator
    stubs.size = layout.TRAP_SIZE + layout.STUB_SIZE * n_imp
    got.size = 8 * len(rs.got_tids)
    got.keep_empty = bool(np.isin(rs.type, [elf.R_X86_64_GOTOFF64, elf.R_X86_64_GOTPC32]).any())
    slots.size = 8 * n_imp
    dyn_entries = [(elf.DT_GNU_HASH, 0), (elf.DT_STRTAB, 0), (elf.DT_SYMTAB, 0), (elf.DT_STRSZ, 0),
                   (elf.DT_SYMENT, 24)]
    if n_rel:
        dyn_entries += [(elf.DT_RELA, 0), (elf.DT_RELASZ, 0), (elf.DT_RELAENT, 24), (elf.DT_RELACOUNT, 0)]
    dyn_entries += [(elf.DT_FLAGS_1, elf.DF_1_NODELETE)]
    dyn.size = 16 * (len(dyn_entries) + 1)

    segs = [Segment(elf.PF_R, [dynsym, dynstr, gnuhash, reladyn, rodata, sdir, *users, ehhdr, ehf]),
            Segment(elf.PF_R | elf.PF_X, [text, stubs]),
            Segment(elf.PF_R | elf.PF_W, [relro, got, dyn, slots, impdata, data, bss])]
    extra_ph = 4                      # DYNAMIC, GNU_RELRO, GNU_EH_FRAME, GNU_STACK
    header_size = elf.EHDR.itemsize + elf.PHDR.itemsize * (len(segs) + extra_ph)
    file_size = layout.assign_addresses(segs, header_size)

    # Addresses of input sections.
    sec_addr = np.zeros(len(res.sections), np.int64)
    for out in (text, rodata, relro, impdata, data, bss, ehf):
        for m, off in zip(out.members, out.offsets):
            sec_addr[m.gid] = out.addr + off
    slot_addr = slots.addr + 8 * np.arange(n_imp, dtype=np.int64)
    stub_addr = stubs.addr + layout.TRAP_SIZE + layout.STUB_SIZE * np.arange(n_imp, dtype=np.int64)
    trap_addr = stubs.addr

    buf = np.zeros(file_size, np.uint8)
    for out in (text, rodata, relro, impdata, data, ehf):
        for m, off in zip(out.members, out.offsets):
            a = out.addr + off
            buf[a:a + m.size] = np.frombuffer(m.data, np.uint8)
    ap = relocs.apply(buf, rs, res, sec_addr, slot_addr, stub_addr, got.addr)

    # GOT and import slots: initial values plus their RELATIVE relocations.
    gk = res.t_kind[rs.got_tids]
    gval = np.where(gk == DEF, sec_addr[np.maximum(res.t_sec[rs.got_tids], 0)] + res.t_val[rs.got_tids],
                    np.where(gk == ABS, res.t_val[rs.got_tids], 0))
    got_slot = got.addr + 8 * np.arange(len(rs.got_tids), dtype=np.int64)
    relocs.put(buf, got_slot, gval, 8)
    relocs.put(buf, slot_addr, np.full(n_imp, trap_addr, np.int64), 8)
    relocs.put(buf, ap.fix_off, np.full(n_fix, trap_addr, np.int64), 8)
    rel_off = np.concatenate([slot_addr, got_slot[gk == DEF], ap.rel_off, ap.fix_off])
    rel_add = np.concatenate([np.full(n_imp, trap_addr, np.int64), gval[gk == DEF], ap.rel_add,
                              np.full(n_fix, trap_addr, np.int64)])
    o = np.argsort(rel_off, kind="stable")
    rela = np.zeros(n_rel, elf.RELA)
    rela["offset"], rela["info"], rela["addend"] = rel_off[o], elf.R_X86_64_RELATIVE, rel_add[o]
    _put(buf, reladyn.addr, rela.tobytes())

    # Stubs, eh_frame_hdr.
    _put(buf, stubs.addr, layout.stubs(stubs.addr, slot_addr))
    fde_addr = np.array([sec_addr[gid] + o for gid, offs in fde_offsets.items() for o in offs], np.int64)
    if len(fde_addr):
        pcs = fde_addr + 8 + buf[(fde_addr + 8)[:, None] + np.arange(4)].copy().view("<i4").ravel()
    else:
        pcs = np.zeros(0, np.int64)
    _put(buf, ehhdr.addr, ehframe.build_hdr(ehhdr.addr, ehf.addr, pcs, fde_addr))

    # Section indices (needed by the symbol tables).
    allsecs = [s for seg in segs for s in seg.sections if s.present]
    symtab_s = OutSection(".symtab", elf.SHT_SYMTAB, 0, 8, entsize=24)
    strtab_s = OutSection(".strtab", elf.SHT_STRTAB, 0, 1)
    shstr_s = OutSection(".shstrtab", elf.SHT_STRTAB, 0, 1)
    symtab_s.link = strtab_s
    allsecs += [symtab_s, strtab_s, shstr_s]
    for k, s in enumerate(allsecs, 1):
        s.index = k
    sec_out = np.zeros(len(res.sections), np.int64)
    for out in (text, rodata, relro, impdata, data, bss, ehf):
        for m in out.members:
            sec_out[m.gid] = out.index

    # .dynsym / .dynstr / .gnu.hash
    ds = np.zeros(len(names) + 1, elf.SYM)
    name_off = 1
    for k, i in enumerate(order, 1):
        if i < len(exports):
            g = exports[i]
            typ = elf.STT_OBJECT if g.type == elf.STT_COMMON else g.type
            if g.absolute:
                shndx, value = elf.SHN_ABS, g.value
            else:
                shndx, value = sec_out[g.sec.gid], sec_addr[g.sec.gid] + g.value
            ds[k] = (name_off, (g.bind << 4) | typ, g.visibility, shndx, value, g.size)
        else:
            ds[k] = (name_off, (elf.STB_GLOBAL << 4) | elf.STT_OBJECT, 0, sdir.index, sdir.addr, sdir.size)
        name_off += len(names[i]) + 1
    _put(buf, dynsym.addr, ds.tobytes())
    _put(buf, dynstr.addr, dynstr_blob)
    _put(buf, gnuhash.addr, gh.build(1))
    vals = {elf.DT_GNU_HASH: gnuhash.addr, elf.DT_STRTAB: dynstr.addr, elf.DT_SYMTAB: dynsym.addr,
            elf.DT_STRSZ: dynstr.size, elf.DT_RELA: reladyn.addr, elf.DT_RELASZ: reladyn.size,
            elf.DT_RELACOUNT: n_rel}
    _put(buf, dyn.addr, layout.dynamic([(t, vals.get(t, v)) for t, v in dyn_entries]))

    # User sections and the image directory.
    for out, (_, blob) in zip(users, user):
        _put(buf, out.addr, blob)
    region_addr = slots.addr if n_imp else 0
    region_end = max(slots.end, impdata.end if impdata.present else 0)
    region_size = elf.align_up(region_end, elf.PAGE) - region_addr if n_imp else 0
    fix = np.zeros(n_fix, imagedir.FIXUP)
    fix["addr"], fix["slot"], fix["addend"] = ap.fix_off, ap.fix_imp, ap.fix_add
    ctor_slots = np.array([sec_addr[s.gid] + 8 * e for s, e in ctors], "<u8")
    sectab = np.zeros(len(user), imagedir.SECTAB)
    uoff = sdir.addr + d_unames
    for k, (out, (n, _)) in enumerate(zip(users, user)):
        ln = len(n.encode())
        sectab[k] = (uoff, ln, out.addr, out.size)
        uoff += ln + 1
    head = imagedir.HEADER.pack(imagedir.MAGIC, imagedir.VERSION, 0, sdir.addr, n_imp, slots.addr,
                                sdir.addr + d_names, len(imp_names), region_addr, region_size, n_fix,
                                sdir.addr + d_fix, int(bool((ap.fix_off % 8 == 0).all())), len(ctors),
                                sdir.addr + d_ctor, len(user), sdir.addr + d_sect, sdir.addr + d_weak)
    _put(buf, sdir.addr, head)
    _put(buf, sdir.addr + d_names, imp_names)
    _put(buf, sdir.addr + d_fix, fix.tobytes())
    _put(buf, sdir.addr + d_ctor, ctor_slots.tobytes())
    _put(buf, sdir.addr + d_sect, sectab.tobytes())
    _put(buf, sdir.addr + d_unames, user_names)
    _put(buf, sdir.addr + d_weak, bytes(res.weak_imports))

    # Non-allocated tail: .symtab .strtab .shstrtab, section headers.
    extra_locals = [("__snap_trap", elf.STT_FUNC, trap_addr, layout.TRAP_SIZE, stubs.index)]
    extra_locals += [(f"{n}@snapimport", elf.STT_FUNC, int(a), layout.STUB_SIZE, stubs.index)
                     for n, a in zip(res.imports, stub_addr)]
    extra_locals += [(f"{n}@snapslot", elf.STT_OBJECT, int(a), 8, slots.index)
                     for n, a in zip(res.imports, slot_addr)]
    extra_globals = [(imagedir.SYMBOL, elf.STT_OBJECT, sdir.addr, sdir.size, sdir.index)]
    st, strs, first_global = writer.symtab(res, sec_addr, sec_out, extra_locals, extra_globals)
    symtab_s.size, symtab_s.info = len(st), first_global
    strtab_s.size = len(strs)
    shstr = writer.StringTable()
    name_offs = [shstr.add(s.name) for s in allsecs]
    shstr_blob = shstr.bytes()
    shstr_s.size = len(shstr_blob)
    tail_off = elf.align_up(file_size, 8)
    offsets = {}
    pos = tail_off
    tail = []
    for s, blob in ((symtab_s, st), (strtab_s, strs), (shstr_s, shstr_blob)):
        pos = elf.align_up(pos, s.align)
        offsets[s.index] = pos
        tail.append((pos, blob))
        pos += len(blob)
    shoff = elf.align_up(pos, 8)
    for s in allsecs:
        if s.type == elf.SHT_NOBITS:
            offsets[s.index] = s.addr
    sh = writer.section_headers(allsecs, offsets)
    sh["name"][1:] = name_offs

    after = [s for s in (slots, data, bss) if s.present]
    relro_end = after[0].addr if after else dyn.end
    rw = segs[2]
    ph = writer.program_headers(segs, [
        (elf.PT_DYNAMIC, elf.PF_R | elf.PF_W, dyn.addr, dyn.size),
        (elf.PT_GNU_RELRO, elf.PF_R, rw.start, relro_end - rw.start),
        (elf.PT_GNU_EH_FRAME, elf.PF_R, ehhdr.addr, ehhdr.size),
        (elf.PT_GNU_STACK, elf.PF_R | elf.PF_W, 0, 0)], file_size)
    eh = writer.elf_header(len(segs) + extra_ph, shoff, len(allsecs) + 1, shstr_s.index)
    _put(buf, 0, eh + ph)

    out = bytearray(buf.tobytes())
    for p, blob in tail:
        out += bytes(p - len(out))
        out += blob
    out += bytes(shoff - len(out))
    out += sh.tobytes()
    crc = zlib.crc32(out)
    struct.pack_into("<I", out, sdir.addr + imagedir.CRC_OFFSET, crc)
    return bytes(out)


def _put(buf: np.ndarray, addr: int, blob: bytes) -> None:
    buf[addr:addr + len(blob)] = np.frombuffer(blob, np.uint8)
