"""Symbol resolution across objects: COMDAT groups, weak/strong/common, imports.

Every symbol reference in every object is mapped to a *target id* (tid); the
target table says what the tid is: a definition in a kept input section
(DEF: section gid + offset), an absolute value (ABS), an import-table entry
(IMP; weak references become weak imports, 0 if unresolved) or a symbol in a discarded
section (BAD, an error if a kept relocation uses it).  Globals get tids
``0..G-1`` in first-seen order; each object's locals follow.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import elf
from .errors import LinkError
from .objects import InputSection, ObjectFile

DEF, ABS, IMP, BAD = 0, 1, 2, 3
GOT_SYMBOL = "_GLOBAL_OFFSET_TABLE_"


@dataclass(eq=False)
class Global:
    name: str
    obj: ObjectFile | None = None       # defining (or first referencing) object
    sym: int = -1
    sec: InputSection | None = None
    value: int = 0
    size: int = 0
    type: int = elf.STT_NOTYPE
    bind: int = elf.STB_GLOBAL
    visibility: int = elf.STV_DEFAULT
    defined: bool = False
    absolute: bool = False
    common_align: int = 0                # > 0: a common symbol not (yet) overridden
    strong_ref: bool = False             # referenced by a non-weak undefined symbol
    first_ref: ObjectFile | None = None

    @property
    def exported(self) -> bool:
        return self.defined and self.visibility in (elf.STV_DEFAULT, elf.STV_PROTECTED)


@dataclass(eq=False)
class Resolution:
    objects: list[ObjectFile]
    sections: list[InputSection]            # kept input sections, index = gid
    globals: list[Global]
    imports: list[str]
    weak_imports: list[bool]                # per import: only weak references
    tid: list[np.ndarray]                   # per object: symbol index -> target id
    t_kind: np.ndarray
    t_sec: np.ndarray                       # section gid for DEF
    t_val: np.ndarray                       # offset in section (DEF), value (ABS), import index (IMP)
    local_base: list[int] = field(default_factory=list)
    got_tid: int = -1                       # `_GLOBAL_OFFSET_TABLE_`, if referenced: the .got address

    def describe(self, tid: int) -> str:
        """Human name of a target for error messages."""
        tid = int(tid)
        if tid < len(self.globals):
            return self.globals[tid].name
        for obj, base in zip(self.objects, self.local_base):
            if base <= tid < base + obj.first_global:
                return obj.sym_name(tid - base)
        return f"<target {tid}>"


def _merge_visibility(cur: int, new: int) -> int:
    if new == elf.STV_DEFAULT:
        return cur
    return new if cur == elf.STV_DEFAULT else min(cur, new)


def resolve(objects: list[ObjectFile]) -> Resolution:
    # COMDAT: the first object that brings a group signature keeps its members.
    seen: set[str] = set()
    for obj in objects:
        for sig, members in obj.groups:
            if sig in seen:
                for m in members:
                    if m in obj.sections:
                        obj.sections[m].discarded = True
            seen.add(sig)
    sections: list[InputSection] = []
    secmaps = []
    for obj in objects:
        sm = np.full(len(obj.shdrs), -1, np.int64)
        for i, s in obj.sections.items():
            if s.discarded:
                sm[i] = -2
            else:
                s.gid = len(sections)
                sections.append(s)
                sm[i] = s.gid
        secmaps.append(sm)

    table: dict[str, int] = {}
    gl: list[Global] = []
    obj_gids: list[np.ndarray] = []
    for obj, sm in zip(objects, secmaps):
        syms, shndx, strtab = obj.syms, obj.sym_shndx, obj.strtab
        n = len(syms)
        gids = np.zeros(max(0, n - obj.first_global), np.int64)
        info = syms["info"][obj.first_global:].tolist()
        other = syms["other"][obj.first_global:].tolist()
        nameoffs = syms["name"][obj.first_global:].tolist()
        shx = shndx[obj.first_global:].tolist()
        for k, (inf, oth, no, sh) in enumerate(zip(info, other, nameoffs, shx)):
            i = obj.first_global + k
            end = strtab.find(b"\0", no)
            name = strtab[no:end].decode("utf-8", "replace")
            bind, typ, vis = inf >> 4, inf & 0xF, oth & 3
            if bind == elf.STB_LOCAL:
                raise LinkError(f"{obj.name}: local symbol {name!r} after the first global in the symbol table")
            g_i = table.get(name)
            if g_i is None:
                g_i = table[name] = len(gl)
                gl.append(Global(name, first_ref=obj))
            g = gl[g_i]
            gids[k] = g_i
            g.visibility = _merge_visibility(g.visibility, vis)
            sec = None
            if sh == elf.SHN_COMMON:
                kind = "common"
            elif sh == elf.SHN_ABS:
                kind = "def"
            elif 0 < sh < elf.SHN_LORESERVE and sm[sh] >= 0:
                kind, sec = "def", obj.sections[sh]
            elif 0 < sh < elf.SHN_LORESERVE and sm[sh] == -2:
                kind = "undef"            # definition in a discarded COMDAT copy: use the kept one
            elif 0 < sh < elf.SHN_LORESERVE:
                kind = "undef" if bind == elf.STB_WEAK else "dropped"
            else:
                kind = "undef"
            if kind == "dropped":
                raise LinkError(f"{obj.name}: symbol {name!r} is defined in non-allocated section "
                                f"{obj.section_names[sh]!r}")
            if kind == "undef":
                if bind != elf.STB_WEAK:
                    g.strong_ref = True
                continue
            if typ == elf.STT_GNU_IFUNC:
                raise LinkError(f"{obj.name}: symbol {name!r} is an IFUNC (STT_GNU_IFUNC); not supported")
            s = syms[i]
            value, size = int(s["value"]), int(s["size"])
            if value >= 1 << 63:
                value -= 1 << 64            # absolute values are addresses modulo 2**64
            if kind == "common":
                if g.defined:
                    continue
                if g.common_align:
                    g.common_align = max(g.common_align, value)
                    if size > g.size:
                        g.size, g.obj, g.sym = size, obj, i
                    continue
                g.common_align, g.size, g.obj, g.sym, g.type, g.bind = max(1, value), size, obj, i, typ, bind
                continue
            strong = bind == elf.STB_GLOBAL
            if g.defined:
                if not strong:           # weak or linkonce duplicate: first definition wins
                    continue
                if g.bind == elf.STB_GLOBAL:
                    raise LinkError(f"duplicate symbol {name!r}: strong definitions in {g.obj.name} "
                                    f"(section {g.sec.name if g.sec else 'ABS'!r}) and {obj.name} "
                                    f"(section {sec.name if sec else 'ABS'!r})")
            g.obj, g.sym, g.sec, g.value, g.size, g.type, g.bind = obj, i, sec, value, size, typ, bind
            g.defined, g.absolute, g.common_align = True, sec is None, 0
        obj_gids.append(gids)

    # Commons that nothing defined: each gets a zero-filled .bss piece of its own.
    for g in gl:
        if g.common_align and not g.defined:
            sec = InputSection(g.obj, -1, ".bss", elf.SHT_NOBITS, elf.SHF_ALLOC | elf.SHF_WRITE,
                               g.common_align, g.size, None, gid=len(sections))
            sections.append(sec)
            g.sec, g.value, g.defined, g.common_align = sec, 0, True, 0
            if g.type == elf.STT_COMMON:
                g.type = elf.STT_OBJECT

    imports: list[str] = []
    weak_imports: list[bool] = []
    got_tid = -1
    ng = len(gl)
    kinds = np.empty(ng, np.int8)
    secs = np.full(ng, -1, np.int64)
    vals = np.zeros(ng, np.int64)
    for k, g in enumerate(gl):
        if g.defined:
            if g.absolute:
                kinds[k], vals[k] = ABS, g.value
            else:
                kinds[k], secs[k], vals[k] = DEF, g.sec.gid, g.value
        elif g.name == GOT_SYMBOL:
            kinds[k], got_tid = ABS, k      # value patched in by the relocation pass
        elif g.visibility in (elf.STV_HIDDEN, elf.STV_INTERNAL):
            if g.strong_ref:
                raise LinkError(f"{g.first_ref.name}: undefined hidden symbol {g.name!r}")
            kinds[k], vals[k] = ABS, 0      # hidden weak reference nobody defines
        else:
            kinds[k], vals[k] = IMP, len(imports)
            imports.append(g.name)
            weak_imports.append(not g.strong_ref)   # a weak import may stay unresolved (-> 0)

    tids, local_base = [], []
    k_parts, s_parts, v_parts = [kinds], [secs], [vals]
    base = ng
    for obj, sm, gids in zip(objects, secmaps, obj_gids):
        nl = obj.first_global
        sh = obj.sym_shndx[:nl]
        inrange = (sh > 0) & (sh < len(sm))
        gid = np.where(inrange, sm[np.where(inrange, sh, 0)], -3)
        lk = np.where(sh == elf.SHN_ABS, ABS, np.where(sh == 0, ABS, np.where(gid >= 0, DEF, BAD)))
        lv = np.where(sh == 0, 0, obj.syms["value"][:nl].astype(np.uint64).view(np.int64))
        k_parts.append(lk.astype(np.int8))
        s_parts.append(np.where(lk == DEF, gid, -1))
        v_parts.append(lv)
        tids.append(np.concatenate([base + np.arange(nl, dtype=np.int64), gids]))
        local_base.append(base)
        base += nl
    return Resolution(objects, sections, gl, imports, weak_imports, tids, np.concatenate(k_parts),
                      np.concatenate(s_parts), np.concatenate(v_parts), local_base, got_tid)
