"""The link driver: objects -> one PIC shared library, as a list of passes over one LinkContext.

Each pass reads what earlier ones left in the context and adds its own results
(see context.py for who fills what); the sections the linker makes itself own
their size and their bytes (synthetic.py).  The passes, in order (``PASSES``, run by ``link``):

    parse_inputs, resolve_symbols, split_eh_frame, scan_relocations,
    place_sections, size_synthetic_sections, assign_addresses, place_tail,
    write_contents, write_synthetic_sections, write_dynamic_section,
    write_symbol_tables_and_headers, seal

Every pass is timed into ``LinkContext.timings`` (see ``link_context``);
``SNAP_LINK_TIMINGS=1`` prints them to stderr after each link.
"""
from __future__ import annotations

import os
import re
import struct
import sys
import time
import zlib
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from . import ehframe, elf, imagedir, layout, relocs
from .context import LinkContext
from .errors import LinkError
from .layout import Outputs
from .objects import InputSection, parse_object
from .symbols import Resolution, resolve
from .synthetic import SyntheticSections, put

_CTOR_NAMES = re.compile(r"^\.(ctors|init_array)(?:\.(\d+))?$")
_RESERVED = {imagedir.SYMBOL}
_OWN_PREFIXES = (".text", ".data", ".rodata", ".bss", ".dyn", ".gnu", ".rela", ".eh_frame", ".got",
                 ".snap", ".symtab", ".strtab", ".shstrtab")


def parse_inputs(ctx: LinkContext) -> None:
    """Check the extra sections' names and parse every object (headers, sections, symbols, relocations)."""
    ctx.user = _check_user_sections(ctx.extra_sections)
    ctx.objects = [parse_object(b, i) for i, b in enumerate(ctx.inputs)]


def resolve_symbols(ctx: LinkContext) -> None:
    """COMDAT, weak/strong/common, imports: every symbol reference gets a target."""
    ctx.res = resolve(ctx.objects)
    for g in ctx.res.globals:
        if g.name in _RESERVED and g.defined:
            raise LinkError(f"{g.obj.name}: symbol {g.name!r} is reserved for the linker")


def split_eh_frame(ctx: LinkContext) -> None:
    """Cut each `.eh_frame` down to the records of kept code; collect every kept section's relocations."""
    ctx.relas, ctx.fde_offsets = _relocation_sets(ctx.res)


def scan_relocations(ctx: LinkContext) -> None:
    """Validate and classify every relocation: GOT entries, relaxations, dynamic and import fixups."""
    ctx.rs = relocs.scan(ctx.res, ctx.res.sections, ctx.relas)


def place_sections(ctx: LinkContext) -> None:
    """Input sections -> output sections (RELRO, import data, ...); constructors in execution order."""
    ctx.out = out = Outputs(ctx.user)
    for sec in ctx.res.sections:
        out.place(sec, sec.gid in ctx.rs.fixup_secs, sec.gid in ctx.rs.dyn_secs)
    out.ehframe.size += 4                                    # zero terminator (the buffer starts zeroed)
    ctx.ctors = _ctor_order([s for s in ctx.res.sections if _CTOR_NAMES.match(s.name)])


def size_synthetic_sections(ctx: LinkContext) -> None:
    """Make the linker's own sections and fix their sizes, before anything has an address."""
    ctx.syn = SyntheticSections(ctx)
    ctx.syn.headers.finalize(ctx)                           # the first segment starts with them
    for sec in ctx.syn.allocated:
        sec.finalize(ctx)


def assign_addresses(ctx: LinkContext) -> None:
    """Addresses (== file offsets) for every allocated section, header indexes, input section addresses."""
    ctx.alloc_size = layout.assign_addresses(ctx.out.segments, ctx.syn.headers.size)
    ctx.sections = ctx.out.number_sections()
    ctx.sec_addr, ctx.sec_out = ctx.out.input_addresses(len(ctx.res.sections))


def place_tail(ctx: LinkContext) -> None:
    """Size the non-allocated tail (symbol tables are built from final addresses) and give it file offsets."""
    pos = elf.align_up(ctx.alloc_size, 8)
    for chunk in ctx.syn.tail:
        chunk.finalize(ctx)
        chunk.offset = pos = elf.align_up(pos, chunk.align)
        pos += chunk.size
    ctx.file_size = pos


def write_contents(ctx: LinkContext) -> None:
    """Copy input sections into the image, apply relocations; import fixups point at the trap until filled."""
    ctx.buf = buf = np.zeros(ctx.file_size, np.uint8)
    for o in ctx.out.with_inputs:
        for m, off in zip(o.members, o.offsets):
            if m.data is not None:
                put(buf, o.addr + off, m.data)
    syn = ctx.syn
    ctx.applied = ap = relocs.apply(buf, ctx.rs, ctx.res, ctx.sec_addr, syn.slots.addrs(), syn.stubs.stub_addrs(),
                                    syn.got.addr)
    relocs.put(buf, ap.fix_off, np.full(len(ap.fix_off), syn.stubs.trap_addr, np.int64), 8)


def write_synthetic_sections(ctx: LinkContext) -> None:
    """The allocated sections the linker makes (`.eh_frame_hdr` reads the relocated `.eh_frame`)."""
    for sec in ctx.syn.allocated:
        if sec is not ctx.syn.dynamic:
            sec.write(ctx)


def write_dynamic_section(ctx: LinkContext) -> None:
    """`.dynamic`, which points ld.so at the other dynamic sections."""
    ctx.syn.dynamic.write(ctx)


def write_symbol_tables_and_headers(ctx: LinkContext) -> None:
    """`.symtab` `.strtab` `.shstrtab` and section headers at the end; ELF and program headers up front."""
    for chunk in ctx.syn.tail:
        chunk.write(ctx)
    ctx.syn.headers.write(ctx)


def seal(ctx: LinkContext) -> None:
    """Checksum the whole file into the image directory (its crc field is zero while summing)."""
    crc = zlib.crc32(ctx.buf)
    struct.pack_into("<I", ctx.buf, ctx.syn.dir.addr + imagedir.CRC_OFFSET, crc)
    ctx.image = ctx.buf.tobytes()


PASSES: tuple[Callable[[LinkContext], None], ...] = (
    parse_inputs, resolve_symbols, split_eh_frame, scan_relocations, place_sections,
    size_synthetic_sections, assign_addresses, place_tail, write_contents, write_synthetic_sections,
    write_dynamic_section, write_symbol_tables_and_headers, seal)


def link(objects: Sequence[bytes], *, sections: Mapping[str, bytes] = {}) -> bytes:
    """ELF x86-64 PIC relocatable objects -> ELF shared object bytes (deterministic)."""
    return link_context(objects, sections=sections).image


def link_context(objects: Sequence[bytes], *, sections: Mapping[str, bytes] = {}) -> LinkContext:
    """``link``, returning the whole context: the image, the layout, every synthetic section and
    ``timings`` (seconds per pass), for debugging and tests."""
    ctx = LinkContext(objects, sections)
    for run in PASSES:
        t = time.perf_counter()
        run(ctx)
        ctx.timings[run.__name__] = time.perf_counter() - t
    if os.environ.get("SNAP_LINK_TIMINGS", "") not in ("", "0"):
        print("snap link: " + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in ctx.timings.items()),
              file=sys.stderr)
    return ctx


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
