"""``snap check --deep``: the image's ELF structure verified by two independent readers.

The snap linker's own reader and LIEF must agree on sections, segments, exports
and the image directory; segment permissions must be sane (no W+X).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

from ..image.manifest import MANIFEST_SECTION, PAYLOAD_SECTION

from .info import _sec_flags, _seg_flags
from .read import OpenedFile, elf_name, enum_name, lief_parse


@dataclass
class DeepCheck:
    name: str
    ok: bool
    detail: str = ""


def deep_checks(op: OpenedFile) -> list[DeepCheck]:
    """Full verification: checksum, LIEF parse and layout, sections in segments, directory, exports."""
    out: list[DeepCheck] = []
    add = lambda name, ok, detail="": out.append(DeepCheck(name, bool(ok), detail))  # noqa: E731
    add("structure (snap linker reader)", True, f"{len(op.image.sections)} sections, {len(op.image.imports)} imports")
    add("checksum", op.checksum_error is None,
        op.checksum_error.split(": ", 1)[-1] if op.checksum_error else f"crc32 {op.image._dir['crc']:#010x}")
    add("manifest", True, f"format {op.manifest.format}, {len(op.manifest.entries)} entries")
    b = lief_parse(op.data)
    add("LIEF parse", b is not None, "" if b is not None else "LIEF cannot parse this file as ELF")
    if b is None:
        return out
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # LIEF warns on enum values it does not know
            _lief_checks(op, b, add)
    except Exception as e:  # noqa: BLE001 - a hostile file must give a report, not a traceback
        add("LIEF reading", False, f"{type(e).__name__}: {e}")
    return out


def _lief_checks(op: OpenedFile, b, add) -> None:
    import lief
    from linker import imagedir
    try:
        ok, msg = lief.ELF.check_layout(b)
    except Exception as e:  # noqa: BLE001
        ok, msg = False, f"{type(e).__name__}: {e}"
    add("LIEF check_layout", ok, msg.strip().replace("\n", "; "))
    add("ELF header", str(b.header.file_type).endswith("DYN") and str(b.header.machine_type).endswith("X86_64"),
        f"{enum_name(b.header.file_type)} {enum_name(b.header.machine_type)}")

    # every allocated section inside a PT_LOAD segment with compatible permissions
    loads = [g for g in b.segments if enum_name(g.type) == "LOAD"]
    bad = []
    for s in b.sections:
        flags = int(s.flags)
        if not s.name or not flags & 0x2 or s.size == 0:
            continue
        nobits = enum_name(s.type) == "NOBITS"
        va, size, off = int(s.virtual_address), int(s.size), int(s.offset)
        home = None
        for g in loads:
            gva, gmem, goff, gfile = (int(g.virtual_address), int(g.virtual_size), int(g.file_offset),
                                      int(g.physical_size))
            if not (gva <= va and va + size <= gva + gmem):
                continue
            if not nobits and not (goff <= off and off + size <= goff + gfile and off - goff == va - gva):
                continue
            home = g
            break
        if home is None:
            bad.append(f"{elf_name(s.name)} not covered by a LOAD segment")
            continue
        gf = int(home.flags)
        if (flags & 0x1 and not gf & 2) or (flags & 0x4 and not gf & 1):
            bad.append(f"{elf_name(s.name)} ({_sec_flags(flags)}) in a {_seg_flags(gf)} segment")
    add("segments cover sections", not bad, "; ".join(bad) or f"{len(loads)} LOAD segments")
    types = {enum_name(g.type) for g in b.segments}
    need = {"DYNAMIC", "GNU_STACK"}
    add("program headers", need <= types,
        "missing " + ", ".join(sorted(need - types)) if not need <= types else ", ".join(sorted(types)))
    if "GNU_STACK" in types:
        stack = next(g for g in b.segments if enum_name(g.type) == "GNU_STACK")
        add("non-executable stack", not int(stack.flags) & 1, _seg_flags(int(stack.flags)))

    # the image directory: section present, exported symbol pointing at it
    sec = b.get_section(imagedir.SECTION)
    sym = b.get_dynamic_symbol(imagedir.SYMBOL) if sec is not None else None
    add("image directory", sec is not None and sym is not None and int(sym.value) == int(sec.virtual_address),
        f"{imagedir.SECTION} at {int(sec.virtual_address):#x}, {imagedir.SYMBOL} exported" if sec is not None
        and sym is not None and int(sym.value) == int(sec.virtual_address)
        else f"{imagedir.SECTION} section or {imagedir.SYMBOL} symbol missing or inconsistent")

    # LIEF and the snap reader agree on the embedded sections
    agree = []
    for name in (MANIFEST_SECTION, PAYLOAD_SECTION):
        ls = b.get_section(name)
        if ls is None:
            agree.append(f"{name} missing")
            continue
        try:
            mine = bytes(op.image.section(name))
        except KeyError:
            agree.append(f"{name} missing")
            continue
        if bytes(ls.content) != mine:
            agree.append(f"{name} differs between readers")
    add("manifest and payload sections", not agree, "; ".join(agree) or "present, both readers agree")

    # every entry's symbols exported with a non-zero size (read by LIEF, independently of the linker)
    lief_exports = {elf_name(s.name): int(s.size) for s in b.dynamic_symbols if s.name and int(s.shndx) != 0}
    problems = []
    n = 0
    for e in op.manifest.entries:
        for sym_name in list(dict(e.symbols).values()) + list(e.envs):
            n += 1
            size = lief_exports.get(sym_name)
            if size is None:
                problems.append(f"{e.module}.{e.qualname}{e.signature}: {sym_name} not exported")
            elif size == 0:
                problems.append(f"{e.module}.{e.qualname}{e.signature}: {sym_name} has size 0")
    shown = "; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else "")
    add("entry symbols exported", not problems, shown or f"{n} symbols of {len(op.manifest.entries)} entries")
