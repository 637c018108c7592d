"""Sections (and headers) the linker makes itself, each owning its size and its bytes.

Like lld's ``SyntheticSection`` (``getSize()`` + ``writeTo()``) or mold's chunks:
a chunk's size is computed once, before addresses are assigned (``finalize``),
and its bytes are produced later (``contents``) by the same class from the same
inputs, and checked against that size when written, so the layout and the
contents cannot drift apart.  The byte layouts themselves stay in the modules
that own the formats (dynamic, ehframe, imagedir, layout, writer); this module
only says which inputs each section is made from.

Allocated sections are sized by ``size_synthetic_sections``; the non-allocated
tail (`.symtab` `.strtab` `.shstrtab`, section headers) takes no address
space and is sized once addresses are known, because the symbol table is built
from them.
"""
from __future__ import annotations

import numpy as np

from . import dynamic, ehframe, elf, imagedir, layout, writer
from .context import LinkContext
from .dynamic import DynSymbols
from .errors import LinkError
from .layout import OutSection
from .symbols import ABS, DEF


def put(buf: np.ndarray, offset: int, blob: bytes | memoryview) -> None:
    """Copy ``blob`` into the image buffer at file offset ``offset``."""
    buf[offset:offset + len(blob)] = np.frombuffer(blob, np.uint8)


class Chunk:
    """A piece of the output file the linker writes itself: it declares its size, then writes that many bytes."""
    name = ""
    size = 0                            # declared by finalize, before any byte is written
    offset = 0                          # file offset
    align = 8

    def compute_size(self, ctx: LinkContext) -> int:
        raise NotImplementedError

    def contents(self, ctx: LinkContext) -> bytes:
        raise NotImplementedError

    def finalize(self, ctx: LinkContext) -> None:
        """Fix the size (and whatever else layout needs to know) before addresses are assigned."""
        self.size = self.compute_size(ctx)

    def write(self, ctx: LinkContext) -> None:
        blob = self.contents(ctx)
        if len(blob) != self.size:
            raise LinkError(f"{self.name}: internal error: {len(blob)} bytes written but {self.size} "
                            "declared when sizing; this is a linker bug, please report it with the input objects")
        put(ctx.buf, self.offset, blob)


def _of_out(attr: str, doc: str) -> property:
    """A property that reads and writes ``self.out.<attr>``: the OutSection stays the one record of layout."""
    return property(lambda self: getattr(self.out, attr), lambda self, v: setattr(self.out, attr, v), doc=doc)


class SyntheticSection(Chunk):
    """A chunk with a section header: size and address live in its OutSection (placed by layout.Outputs)."""
    size = _of_out("size", "declared size")
    align = _of_out("align", "alignment")
    addr = _of_out("addr", "address (allocated sections: set by layout.assign_addresses)")
    offset = _of_out("addr", "file offset == address; the non-allocated tail's is set by driver.place_tail")

    def __init__(self, out: OutSection) -> None:
        self.out = out
        self.name = out.name

    def entry_addrs(self, width: int, start: int = 0) -> np.ndarray:
        """Address of each ``width``-byte entry of a table that starts ``start`` bytes into the section."""
        return self.addr + start + width * np.arange((self.size - start) // width, dtype=np.int64)


# --- the import table: trap + stubs, slots, GOT ------------------------------------------

class ImportSlots(SyntheticSection):
    """`.snap.imports`: one 8-byte slot per import, holding the trap address until the loader fills it."""

    def compute_size(self, ctx: LinkContext) -> int:
        return 8 * len(ctx.res.imports)

    def addrs(self) -> np.ndarray:
        return self.entry_addrs(8)

    def contents(self, ctx: LinkContext) -> bytes:
        return np.full(self.size // 8, ctx.syn.stubs.trap_addr, "<i8").tobytes()


class Stubs(SyntheticSection):
    """`.snap.stubs`: the trap, then one `jmp *slot(%rip)` per import (calls to imports land here)."""

    def compute_size(self, ctx: LinkContext) -> int:
        return layout.TRAP_SIZE + layout.STUB_SIZE * len(ctx.res.imports)

    @property
    def trap_addr(self) -> int:
        return self.addr

    def stub_addrs(self) -> np.ndarray:
        return self.entry_addrs(layout.STUB_SIZE, layout.TRAP_SIZE)

    def contents(self, ctx: LinkContext) -> bytes:
        return layout.stubs(self.addr, ctx.syn.slots.addrs())

    def symbols(self, ctx: LinkContext) -> list[tuple[str, int, int, int, int]]:
        """Local `.symtab` names for the trap, stubs and slots, so debuggers and profilers name them."""
        slots = ctx.syn.slots
        syms = [("__snap_trap", elf.STT_FUNC, self.trap_addr, layout.TRAP_SIZE, self.out.index)]
        syms += [(f"{n}@snapimport", elf.STT_FUNC, int(a), layout.STUB_SIZE, self.out.index)
                 for n, a in zip(ctx.res.imports, self.stub_addrs())]
        syms += [(f"{n}@snapslot", elf.STT_OBJECT, int(a), 8, slots.out.index)
                 for n, a in zip(ctx.res.imports, slots.addrs())]
        return syms


class Got(SyntheticSection):
    """`.got`: an entry per non-imported GOT target that was not relaxed (imports use their slot)."""

    def __init__(self, out: OutSection) -> None:
        super().__init__(out)
        self._values: np.ndarray | None = None

    def compute_size(self, ctx: LinkContext) -> int:
        return 8 * len(ctx.rs.got_tids)

    def finalize(self, ctx: LinkContext) -> None:
        super().finalize(ctx)
        # GOT-relative code needs a .got address even with no entry in it.
        self.out.keep_empty = ctx.res.got_tid >= 0 or bool(np.isin(
            ctx.rs.type, [elf.R_X86_64_GOTOFF64, elf.R_X86_64_GOTPC32]).any())

    def local(self, ctx: LinkContext) -> np.ndarray:
        """Per entry: true if it holds the address of a definition of ours (needs a RELATIVE relocation)."""
        return ctx.res.t_kind[ctx.rs.got_tids] == DEF

    def values(self, ctx: LinkContext) -> np.ndarray:
        """Link-time value of each entry (computed once: the contents and `.rela.dyn` both need it)."""
        if self._values is None:
            res, tids = ctx.res, ctx.rs.got_tids
            kind = res.t_kind[tids]
            self._values = np.where(kind == DEF, ctx.sec_addr[np.maximum(res.t_sec[tids], 0)] + res.t_val[tids],
                                    np.where(kind == ABS, res.t_val[tids], 0))
        return self._values

    def addrs(self) -> np.ndarray:
        return self.entry_addrs(8)

    def contents(self, ctx: LinkContext) -> bytes:
        return self.values(ctx).astype("<i8").tobytes()


# --- the dynamic linking view -------------------------------------------------------------

class RelaDyn(SyntheticSection):
    """`.rela.dyn`: the R_X86_64_RELATIVE relocations ld.so applies (the only kind it ever sees).

    One per import slot and per import fixup (both point at the trap until filled), per GOT entry of a
    definition of ours and per R_X86_64_64 against one."""

    def compute_size(self, ctx: LinkContext) -> int:
        n = len(ctx.res.imports) + ctx.rs.n_fixups + int(ctx.syn.got.local(ctx).sum()) + ctx.rs.n_local_abs
        return elf.RELA.itemsize * n

    @property
    def count(self) -> int:
        return self.size // elf.RELA.itemsize

    def contents(self, ctx: LinkContext) -> bytes:
        got, ap, trap = ctx.syn.got, ctx.applied, ctx.syn.stubs.trap_addr
        trap_at = np.concatenate([ctx.syn.slots.addrs(), ap.fix_off])
        local = got.local(ctx)
        return dynamic.rela_relative(
            np.concatenate([trap_at, got.addrs()[local], ap.rel_off]),
            np.concatenate([np.full(len(trap_at), trap, np.int64), got.values(ctx)[local], ap.rel_add]))


class _DynSymbolsSection(SyntheticSection):
    """Base of the three sections made from one DynSymbols (names, their GNU-hash order)."""

    def __init__(self, out: OutSection, dsyms: DynSymbols) -> None:
        super().__init__(out)
        self.dsyms = dsyms


class DynSym(_DynSymbolsSection):
    """`.dynsym`: exported globals plus the directory symbol, in GNU-hash order (for dlsym)."""

    def compute_size(self, ctx: LinkContext) -> int:
        return self.dsyms.symtab_size

    def contents(self, ctx: LinkContext) -> bytes:
        return self.dsyms.symtab(ctx.sec_addr, ctx.sec_out, {imagedir.SYMBOL: ctx.syn.dir.symbol()[1:]})


class DynStr(_DynSymbolsSection):
    """`.dynstr`: the names of `.dynsym`."""

    def compute_size(self, ctx: LinkContext) -> int:
        return len(self.dsyms.strtab)

    def contents(self, ctx: LinkContext) -> bytes:
        return self.dsyms.strtab


class GnuHash(_DynSymbolsSection):
    """`.gnu.hash`: the DT_GNU_HASH table over `.dynsym` (its first symbol is index 1)."""

    def compute_size(self, ctx: LinkContext) -> int:
        return self.dsyms.hash.size

    def contents(self, ctx: LinkContext) -> bytes:
        return self.dsyms.hash.build(1)


class Dynamic(SyntheticSection):
    """`.dynamic`: where ld.so finds the sections above; its tags depend on whether `.rela.dyn` is empty."""

    def compute_size(self, ctx: LinkContext) -> int:
        return dynamic.dynamic_size(ctx.syn.reladyn.count)

    def contents(self, ctx: LinkContext) -> bytes:
        s = ctx.syn
        return dynamic.dynamic(s.reladyn.count, {
            elf.DT_GNU_HASH: s.gnuhash.addr, elf.DT_STRTAB: s.dynstr.addr, elf.DT_SYMTAB: s.dynsym.addr,
            elf.DT_STRSZ: s.dynstr.size, elf.DT_RELA: s.reladyn.addr, elf.DT_RELASZ: s.reladyn.size})


# --- snap's own sections and unwinding ----------------------------------------------------

class ImageDir(SyntheticSection):
    """`.snap.dir`: the loader's table (imports, fixups, constructors, user sections; the checksum)."""

    def __init__(self, out: OutSection, ctx: LinkContext) -> None:
        super().__init__(out)
        self.plan = imagedir.DirPlan(ctx.res.imports, ctx.res.weak_imports, ctx.rs.n_fixups, len(ctx.ctors),
                                     [n for n, _ in ctx.user])

    def compute_size(self, ctx: LinkContext) -> int:
        return self.plan.size

    def symbol(self) -> tuple[str, int, int, int, int]:
        """(name, type, address, size, section index) of `__snap_image_dir`, in `.dynsym` and `.symtab`."""
        return imagedir.SYMBOL, elf.STT_OBJECT, self.addr, self.size, self.out.index

    def contents(self, ctx: LinkContext) -> bytes:
        ap, out = ctx.applied, ctx.out
        fix = np.zeros(ctx.rs.n_fixups, imagedir.FIXUP)
        fix["addr"], fix["slot"], fix["addend"] = ap.fix_off, ap.fix_imp, ap.fix_add
        return self.plan.build(
            self.addr, slots_addr=ctx.syn.slots.addr, region=out.import_region, fixups=fix,
            ctor_slots=np.array([ctx.sec_addr[s.gid] + 8 * e for s, e in ctx.ctors], np.int64),
            user_sections=[(o.addr, o.size) for o in out.users])


class EhFrameHdr(SyntheticSection):
    """`.eh_frame_hdr`: the sorted pc -> FDE table unwinders binary-search (PT_GNU_EH_FRAME)."""

    def compute_size(self, ctx: LinkContext) -> int:
        return ehframe.HDR_HEADER_SIZE + 8 * sum(len(v) for v in ctx.fde_offsets.values())

    def contents(self, ctx: LinkContext) -> bytes:
        """Reads each FDE's relocated pc_begin (pcrel sdata4 at FDE+8): call after relocations are applied."""
        fde_addr = np.array([ctx.sec_addr[gid] + o for gid, offs in ctx.fde_offsets.items() for o in offs],
                            np.int64)
        pcs = np.zeros(0, np.int64)
        if len(fde_addr):
            pcs = fde_addr + 8 + ctx.buf[(fde_addr + 8)[:, None] + np.arange(4)].copy().view("<i4").ravel()
        return ehframe.build_hdr(self.addr, ctx.out.ehframe.addr, pcs, fde_addr)


# --- the non-allocated tail and the headers -----------------------------------------------

class BlobSection(SyntheticSection):
    """A section whose bytes exist before it is placed: an extra section given to ``link(sections=...)``,
    `.strtab` (filled by `.symtab`), and the tables below, which build theirs when they are sized."""

    def __init__(self, out: OutSection, blob: bytes = b"") -> None:
        super().__init__(out)
        self.blob = blob

    def compute_size(self, ctx: LinkContext) -> int:
        return len(self.blob)

    def contents(self, ctx: LinkContext) -> bytes:
        return self.blob


class SymTab(BlobSection):
    """`.symtab`: every symbol, for debuggers and profilers; built from final addresses, with its `.strtab`."""

    def __init__(self, out: OutSection, strtab: BlobSection) -> None:
        super().__init__(out)
        self.strtab = strtab

    def finalize(self, ctx: LinkContext) -> None:
        self.blob, self.strtab.blob, self.out.info = writer.symtab(
            ctx.res, ctx.sec_addr, ctx.sec_out, ctx.syn.stubs.symbols(ctx), [ctx.syn.dir.symbol()])
        super().finalize(ctx)


class ShStrTab(BlobSection):
    """`.shstrtab`: section names, one per header, in index order."""

    def finalize(self, ctx: LinkContext) -> None:
        table = writer.StringTable()
        self.name_offsets = [table.add(s.name) for s in ctx.sections]
        self.blob = table.bytes()
        super().finalize(ctx)


class SectionHeaders(Chunk):
    """The section header table, last in the file."""
    name = "section headers"

    def compute_size(self, ctx: LinkContext) -> int:
        return elf.SHDR.itemsize * (len(ctx.sections) + 1)

    def contents(self, ctx: LinkContext) -> bytes:
        return writer.section_headers(ctx.sections, ctx.syn.shstrtab.name_offsets)


class FileHeaders(Chunk):
    """ELF header and program headers at offset 0: one PT_LOAD per segment, then EXTRA_SEGMENTS."""
    name = "ELF and program headers"
    EXTRA_SEGMENTS = (elf.PT_DYNAMIC, elf.PT_GNU_RELRO, elf.PT_GNU_EH_FRAME, elf.PT_GNU_STACK)

    def compute_size(self, ctx: LinkContext) -> int:
        self.phnum = len(ctx.out.segments) + len(self.EXTRA_SEGMENTS)
        return elf.EHDR.itemsize + elf.PHDR.itemsize * self.phnum

    def contents(self, ctx: LinkContext) -> bytes:
        out, s = ctx.out, ctx.syn
        rw = out.segments[2]
        extra = {elf.PT_DYNAMIC: (elf.PF_R | elf.PF_W, out.dynamic.addr, out.dynamic.size),
                 elf.PT_GNU_RELRO: (elf.PF_R, rw.start, out.relro_end - rw.start),
                 elf.PT_GNU_EH_FRAME: (elf.PF_R, out.ehhdr.addr, out.ehhdr.size),
                 elf.PT_GNU_STACK: (elf.PF_R | elf.PF_W, 0, 0)}
        ph = writer.program_headers(out.segments, [(t, *extra[t]) for t in self.EXTRA_SEGMENTS],
                                    ctx.alloc_size)
        return writer.elf_header(self.phnum, s.shdrs.offset, len(ctx.sections) + 1, s.shstrtab.out.index) + ph


class SyntheticSections:
    """Every chunk of one link, by name, and the order each group is sized and written in."""

    def __init__(self, ctx: LinkContext) -> None:
        out = ctx.out
        dsyms = DynSymbols([g for g in ctx.res.globals if g.exported], [imagedir.SYMBOL])
        self.headers = FileHeaders()
        self.dir = ImageDir(out.dir, ctx)
        self.dynsym, self.dynstr, self.gnuhash = (DynSym(out.dynsym, dsyms), DynStr(out.dynstr, dsyms),
                                                  GnuHash(out.gnuhash, dsyms))
        self.users = [BlobSection(o, blob) for o, (_, blob) in zip(out.users, ctx.user)]
        self.ehhdr = EhFrameHdr(out.ehhdr)
        self.stubs = Stubs(out.stubs)
        self.got = Got(out.got)
        self.slots = ImportSlots(out.slots)
        self.reladyn = RelaDyn(out.reladyn)             # after .got and the slots: counts their entries
        self.dynamic = Dynamic(out.dynamic)             # after .rela.dyn: its tags depend on that size
        self.strtab = BlobSection(out.strtab)           # .symtab fills it (finalize .symtab first)
        self.symtab, self.shstrtab = SymTab(out.symtab, self.strtab), ShStrTab(out.shstrtab)
        self.shdrs = SectionHeaders()
        # the headers and then these are sized before addresses, in this order (later ones read earlier sizes)
        self.allocated: list[SyntheticSection] = [self.dir, self.dynsym, self.dynstr, self.gnuhash, *self.users,
                                                  self.ehhdr, self.stubs, self.got, self.slots, self.reladyn,
                                                  self.dynamic]
        # sized once addresses are known, placed after the loadable part in this order
        self.tail: list[Chunk] = [self.symtab, self.strtab, self.shstrtab, self.shdrs]
