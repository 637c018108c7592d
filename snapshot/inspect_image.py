"""``snap info`` and ``snap check``: read an image without running anything from it.

Everything here is safe on an untrusted file: the image is read as bytes,
checked by the linker's own reader (``linker.ImageFile``: structure, checksum)
and by an independent one (LIEF), and only the JSON manifest is decoded.
Nothing is ``dlopen``ed, the pickled payload is never unpickled (only its size
is reported) and the modules the image's functions came from are never
imported: freshness is decided from the recorded source files, which are read
and compiled (never executed).

The functions return plain dataclasses; ``*_dict`` turns them into JSON-ready
dicts. The CLI (``snapshot/cli.py``) only renders them.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import SnapError
from .freshness import Freshness
from .manifest import MANIFEST_SECTION, PAYLOAD_SECTION, Manifest, ManifestError

# Entry symbol roles that are code (the others, "env", are 8-byte data slots).
_DATA_ROLES = frozenset({"env"})


class ImageReadError(SnapError):
    """The file is missing, not an image, or corrupt (one-line message)."""


# ----------------------------------------------------------------- reading
@dataclass
class _Opened:
    path: str
    data: bytes
    image: Any                 # linker.ImageFile (no descriptor kept: never loadable from here)
    manifest: Manifest
    checksum_error: str | None = None


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except IsADirectoryError:
        raise ImageReadError(f"{path}: is a directory, not a snap image") from None
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except OSError as e:
        raise ImageReadError(f"{path}: cannot read: {e.strerror or e}") from None


def _parse(path: str, data: bytes, verify: bool):
    import linker
    try:
        # fd -1: the ImageFile holds the bytes read here and no descriptor, so it can never be loaded.
        return linker.ImageFile(path, -1, data, verify)
    except linker.LinkError as e:
        raise ImageReadError(str(e)) from None
    except Exception as e:  # noqa: BLE001 - a hostile file must give a message, not a traceback
        raise ImageReadError(f"{path}: corrupt image ({type(e).__name__}: {e})") from None


def _open(path: str, *, verify: bool = True) -> _Opened:
    """Read and check an image; with ``verify=False`` a bad checksum is recorded, not raised."""
    path = os.fspath(path)
    data = _read_bytes(path)
    image = _parse(path, data, verify=False)
    checksum_error = None
    try:
        _parse(path, data, verify=True)
    except ImageReadError as e:
        if verify:
            raise
        checksum_error = str(e)
    try:
        try:
            raw = image.section(MANIFEST_SECTION)
        except KeyError:
            raise ImageReadError(f"{path}: not a snap image (no {MANIFEST_SECTION} section)") from None
        try:
            manifest = Manifest.from_bytes(raw)
        except ManifestError as e:
            raise ImageReadError(f"{path}: {e}") from None
        except Exception as e:  # noqa: BLE001
            raise ImageReadError(f"{path}: corrupted manifest ({type(e).__name__}: {e})") from None
        problem = _type_problem(manifest)
        if problem:
            raise ImageReadError(f"{path}: corrupted manifest ({problem})")
    except ImageReadError:
        if checksum_error:      # the root cause: the file was damaged or edited
            raise ImageReadError(checksum_error) from None
        raise
    return _Opened(path, data, image, manifest, checksum_error)


def _type_problem(m: Manifest) -> str | None:
    """What in a decoded manifest has the wrong type (the JSON is untrusted), or None."""
    def strs(obj, names, what):
        for n in names:
            if not isinstance(getattr(obj, n), str):
                return f"{what}.{n} is not a string"
        return None
    if not isinstance(m.prefix, str):
        return "prefix is not a string"
    for e in m.entries:
        p = strs(e, ("kind", "module", "qualname", "options", "code", "signature"), "entry")
        if p:
            return p
        if not isinstance(e.symbols, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                       for k, v in e.symbols.items()):
            return "entry.symbols is not a map of strings"
        if not isinstance(e.envs, list) or not all(isinstance(v, str) for v in e.envs):
            return "entry.envs is not a list of strings"
        if not isinstance(e.argkeys, list) or not all(isinstance(v, str) for v in e.argkeys):
            return "entry.argkeys is not a list of strings"
        if not isinstance(e.globals, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                       for k, v in e.globals.items()):
            return "entry.globals is not a map of strings"
        if not isinstance(e.dynamic, dict) or not all(
                isinstance(k, str) and isinstance(v, dict) and all(isinstance(x, (str, bool)) for x in v.values())
                for k, v in e.dynamic.items()):
            return "entry.dynamic is not a map of address targets"
        for d in e.deps:
            p = strs(d, ("module", "qualname", "code"), "dep")
            if p:
                return p
    for sk in m.skipped:
        p = strs(sk, ("module", "qualname", "signature", "reason"), "skipped")
        if p:
            return p
    for so in m.sources:
        p = strs(so, ("module", "path"), "source")
        if p or not (so.digest is None or isinstance(so.digest, str)):
            return p or "source.digest is not a string"
    feats = m.cpu.get("features", [])
    if not isinstance(feats, list) or not all(isinstance(f, str) for f in feats):
        return "cpu.features is not a list of strings"
    for k, v in m.fingerprint.items():
        if isinstance(v, dict):
            if not all(isinstance(x, str) for x in v.values()):
                return f"fingerprint.{k} is not a map of strings"
        elif not isinstance(v, str):
            return f"fingerprint.{k} is not a string"
    return None


def _lief_parse(data: bytes):
    """Parse with LIEF (the independent ELF reader); None if it cannot."""
    import lief
    try:
        lief.logging.disable()
    except Exception:  # noqa: BLE001 - logging control is cosmetic
        pass
    try:
        return lief.ELF.parse(data)
    except Exception:  # noqa: BLE001
        return None


def _code_size(entry, exports: dict[str, int]) -> int:
    return sum(int(exports.get(sym, 0)) for role, sym in entry.symbols.items() if role not in _DATA_ROLES)


def _s(x: Any) -> str:
    return x if isinstance(x, str) else str(x)


def _text(x: Any) -> str:
    """A name read from the ELF file (LIEF returns bytes for names that are not UTF-8)."""
    if isinstance(x, (bytes, bytearray)):
        return bytes(x).decode("utf-8", "backslashreplace")
    return _s(x)


def _enum_name(v: Any) -> str:
    s = str(v)
    return s.rsplit(".", 1)[-1]


# -------------------------------------------------------------------- info
def _describe_target(doc: dict) -> str:
    """Readable text of a late-bound address target (plain JSON: nothing is imported)."""
    kind, module, name = (_s(doc.get(k, "")) for k in ("kind", "module", "name"))
    if kind == "capsule":
        return f"{module}.__pyx_capi__[{name!r}]"
    if kind == "symbol":
        return f"symbol {name}" + (f" ({module})" if module else "")
    return f"{kind} {module}.{name}"


@dataclass
class EntryInfo:
    function: str
    signature: str
    kind: str
    size: int                   # bytes of native code: sum of the ELF sizes of its code symbols
    parfors: bool
    options: str
    closure: str | None         # fingerprint of the closure cells (tells closures of one factory apart)
    symbols: dict[str, str]
    deps: list[str]
    addresses: dict[str, str] = field(default_factory=dict)   # late-bound slot -> what it names
    code: str = ""              # fingerprint of the function's code (part of its identity)
    globals: list[str] = field(default_factory=list)    # frozen globals checked at install
    explicit: bool = False      # compiled for an explicit return type (eager signature)
    generated: bool = False     # code without a source file (exec)


@dataclass
class SectionInfo:
    name: str
    type: str
    address: int
    offset: int
    size: int
    flags: str


@dataclass
class SegmentInfo:
    type: str
    flags: str
    address: int
    memsize: int
    offset: int
    filesize: int


@dataclass
class ImageInfo:
    path: str
    file_size: int
    format: int
    fingerprint: dict[str, Any]
    cpu: dict[str, Any]
    build: dict[str, Any]
    prefix: str
    entries: list[EntryInfo]
    skipped: list[dict[str, str]]
    sources: list[dict[str, Any]]
    imports: list[str]
    sections: list[SectionInfo]
    segments: list[SegmentInfo]
    payload_size: int
    code_size: int


def _sec_flags(flags: int) -> str:
    return "".join(c for bit, c in ((0x2, "A"), (0x1, "W"), (0x4, "X")) if flags & bit)


def _seg_flags(flags: int) -> str:
    return "".join(c if flags & bit else "-" for bit, c in ((4, "r"), (2, "w"), (1, "x")))


def read_info(path: str) -> ImageInfo:
    """Everything ``snap info`` shows. Raises ImageReadError on a bad file."""
    op = _open(path)
    b = _lief_parse(op.data)
    if b is None:
        raise ImageReadError(f"{op.path}: LIEF cannot parse this file as ELF")
    m = op.manifest
    try:
        exports = op.image.exports
    except Exception as e:  # noqa: BLE001
        raise ImageReadError(str(e) if str(e).startswith(op.path) else f"{op.path}: {e}") from None
    entries = [EntryInfo(function=f"{_s(e.module)}.{_s(e.qualname)}", signature=_s(e.signature), kind=_s(e.kind),
                         size=_code_size(e, exports), parfors=bool(e.parfors), options=_s(e.options),
                         closure=None if e.closure is None else _s(e.closure),
                         symbols={_s(k): _s(v) for k, v in dict(e.symbols).items()},
                         deps=[f"{_s(d.module)}.{_s(d.qualname)}" for d in e.deps],
                         addresses={_s(k): _describe_target(v) for k, v in dict(e.dynamic).items()},
                         code=_s(e.code), globals=sorted(_s(k) for k in dict(e.globals)),
                         explicit=bool(e.explicit), generated=bool(e.generated))
               for e in m.entries]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # LIEF warns on enum values it does not know
            sections = [SectionInfo(_text(s.name), _enum_name(s.type), int(s.virtual_address), int(s.offset),
                                    int(s.size), _sec_flags(int(s.flags)))
                        for s in b.sections if s.name]
            segments = [SegmentInfo(_enum_name(g.type), _seg_flags(int(g.flags)), int(g.virtual_address),
                                    int(g.virtual_size), int(g.file_offset), int(g.physical_size))
                        for g in b.segments]
    except Exception as e:  # noqa: BLE001
        raise ImageReadError(f"{op.path}: LIEF cannot read the ELF headers ({type(e).__name__}: {e})") from None
    return ImageInfo(
        path=op.path, file_size=len(op.data), format=m.format, fingerprint=m.fingerprint, cpu=m.cpu,
        build=m.build, prefix=m.prefix, entries=entries,
        skipped=[{"function": f"{_s(s.module)}.{_s(s.qualname)}", "signature": _s(s.signature),
                  "reason": _s(s.reason)} for s in m.skipped],
        sources=[s._asdict() for s in m.sources],
        imports=list(op.image.imports),
        sections=sections, segments=segments,
        payload_size=op.image.sections.get(PAYLOAD_SECTION, 0),
        code_size=sum(e.size for e in entries),
    )


def info_dict(info: ImageInfo) -> dict[str, Any]:
    return asdict(info)


# ------------------------------------------------------------------- check
@dataclass
class EnvItem:
    name: str                   # "python", "numba", ..., "numba config OPT"
    image: Any
    here: Any
    ok: bool


@dataclass
class EntryStatus:
    function: str
    signature: str
    kind: str
    status: str                 # "fresh" | "stale" | "source missing"
    changed: list[str] = field(default_factory=list)   # functions (own or callee) that changed
    missing: list[str] = field(default_factory=list)   # modules whose source cannot be found


@dataclass
class DeepCheck:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class CheckReport:
    path: str
    ok: bool
    summary: str
    problems: list[str]                      # why the image would be refused as a whole (empty: it would not)
    environment: list[EnvItem]
    cpu: dict[str, Any]                      # image/here CPU names, missing features
    entries: list[EntryStatus]
    sources: list[dict[str, Any]]            # module, recorded path, path used, status
    deep: list[DeepCheck] | None = None


def find_module_file(module: str) -> str | None:
    """The source file of ``module`` on this sys.path, WITHOUT importing it or its parents.

    ``importlib.util.find_spec("a.b")`` imports ``a`` (runs its ``__init__``);
    here only the top-level name goes through the import system's finders, and
    submodules are searched in the parent's ``submodule_search_locations``.
    """
    import importlib.machinery
    import importlib.util
    if not module or module == "__main__":
        return None
    parts = module.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])
        for i in range(1, len(parts)):
            if spec is None or not spec.submodule_search_locations:
                return None
            spec = importlib.machinery.PathFinder.find_spec(".".join(parts[:i + 1]),
                                                            list(spec.submodule_search_locations))
    except (ImportError, ValueError, AttributeError, TypeError):
        return None
    if spec is None or not spec.has_location or not isinstance(spec.origin, str):
        return None
    return spec.origin if spec.origin.endswith(".py") and os.path.isfile(spec.origin) else None


class _Sources(Freshness):
    """Current state of the image's recorded source files (read and compiled, never imported)."""

    def __init__(self, manifest: Manifest) -> None:
        super().__init__(manifest, locate=self.path)
        self.recorded = {s.module: s for s in manifest.sources}
        self._path: dict[str, str | None] = {}

    def path(self, module: str) -> str | None:
        if module not in self._path:
            rec = self.recorded.get(module)
            p = rec.path if rec is not None and isinstance(rec.path, str) and os.path.isfile(rec.path) else None
            self._path[module] = p or find_module_file(module)
        return self._path[module]

    def status(self, module: str, qualname: str, code: str) -> str:
        """"fresh", "stale" or "missing" for one function."""
        if self.path(module) is None:
            return "missing"
        return "fresh" if self.fresh(module, qualname, code) else "stale"

    def report(self) -> list[dict[str, Any]]:
        out = []
        for module, rec in sorted(self.recorded.items()):
            p = self.path(module)
            out.append({"module": module, "recorded_path": rec.path, "path": p,
                        "status": "missing" if p is None else ("unchanged" if self.module_unchanged(module) else "changed")})
        return out


def _environment(manifest: Manifest) -> tuple[list[EnvItem], dict[str, Any]]:
    from . import numba_seam
    from .fingerprint import host_cpu, machine_fingerprint
    here = {**machine_fingerprint(), "numba_config": numba_seam.numba_config()}
    items = []
    for key in sorted(set(manifest.fingerprint) | set(here)):
        want, have = manifest.fingerprint.get(key), here.get(key)
        if isinstance(want, dict) or isinstance(have, dict):
            w = want if isinstance(want, dict) else {}
            h = have if isinstance(have, dict) else {}
            for k in sorted(set(w) | set(h)):
                items.append(EnvItem(f"{key.replace('_', ' ')} {k}", w.get(k), h.get(k), w.get(k) == h.get(k)))
            if not isinstance(want, dict) or not isinstance(have, dict):
                items.append(EnvItem(key, want, have, False))
        else:
            items.append(EnvItem(key, want, have, want == have))
    name, features = host_cpu()
    required = manifest.cpu.get("features", [])
    required = [str(f) for f in required] if isinstance(required, list) else []
    cpu = {"target": manifest.cpu.get("target"), "image": manifest.cpu.get("name"), "here": name,
           "required": len(required), "missing": sorted(set(required) - features)}
    return items, cpu


def _entry_status(e, sources: _Sources) -> EntryStatus:
    st = EntryStatus(function=f"{e.module}.{e.qualname}", signature=str(e.signature), kind=str(e.kind),
                     status="fresh")
    # generated code (exec) has no source file: its identity (code and frozen globals) is
    # checked at run time, like every entry's frozen globals
    own = [] if getattr(e, "generated", False) else [(e.module, e.qualname, e.code)]
    for module, qualname, code in own + [(d.module, d.qualname, d.code) for d in e.deps]:
        s = sources.status(module, qualname, code)
        if s == "stale":
            name = f"{module}.{qualname}"
            if name not in st.changed:
                st.changed.append(name)
        elif s == "missing" and module not in st.missing:
            st.missing.append(module)
    if st.changed:
        st.status = "stale"
    elif st.missing:
        st.status = "source missing"
    return st


def check_image(path: str, *, deep: bool = False) -> CheckReport:
    """Would this image serve here? Raises ImageReadError if the file cannot be read as an image."""
    op = _open(path, verify=not deep)
    m = op.manifest
    deep_checks = _deep_checks(op) if deep else None
    from .runtime import incompatibilities      # the runtime's own verdict, so check and run agree
    try:
        problems = list(incompatibilities(m))
    except Exception as e:  # noqa: BLE001 - an odd manifest must give a verdict, not a traceback
        problems = [f"cannot compare the fingerprint ({type(e).__name__}: {e})"]
    environment, cpu = _environment(m)
    sources = _Sources(m)
    entries = [_entry_status(e, sources) for e in m.entries]
    stale = [e for e in entries if e.status == "stale"]
    missing = [e for e in entries if e.status == "source missing"]
    reasons = []
    if deep_checks is not None:
        failed = [c.name for c in deep_checks if not c.ok]
        if failed:
            reasons.append("verification failed: " + ", ".join(failed))
    if problems:
        reasons.append("built for another environment: " + "; ".join(problems))
    if stale:
        changed = sorted({f for e in stale for f in e.changed})
        reasons.append(f"{len(stale)} of {len(entries)} entries stale ({', '.join(changed)} changed)")
    if missing:
        mods = sorted({x for e in missing for x in e.missing})
        reasons.append(f"{len(missing)} of {len(entries)} entries cannot be checked (source missing: "
                       f"{', '.join(mods)})")
    ok = not reasons
    if ok:
        summary = (f"ok: {op.path} would be served here (environment compatible, "
                   f"{len(entries)} of {len(entries)} entries fresh)")
    else:
        summary = f"not served: {op.path}: " + "; ".join(reasons)
    return CheckReport(path=op.path, ok=ok, summary=summary, problems=problems, environment=environment,
                       cpu=cpu, entries=entries, sources=sources.report(), deep=deep_checks)


def check_dict(rep: CheckReport) -> dict[str, Any]:
    return asdict(rep)


# -------------------------------------------------------------------- deep
def _deep_checks(op: _Opened) -> list[DeepCheck]:
    """Full verification: checksum, LIEF parse and layout, sections in segments, directory, exports."""
    out: list[DeepCheck] = []
    add = lambda name, ok, detail="": out.append(DeepCheck(name, bool(ok), detail))  # noqa: E731
    add("structure (snap linker reader)", True, f"{len(op.image.sections)} sections, {len(op.image.imports)} imports")
    add("checksum", op.checksum_error is None,
        op.checksum_error.split(": ", 1)[-1] if op.checksum_error else f"crc32 {op.image._dir['crc']:#010x}")
    add("manifest", True, f"format {op.manifest.format}, {len(op.manifest.entries)} entries")
    b = _lief_parse(op.data)
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


def _lief_checks(op: _Opened, b, add) -> None:
    import lief
    from linker import imagedir
    try:
        ok, msg = lief.ELF.check_layout(b)
    except Exception as e:  # noqa: BLE001
        ok, msg = False, f"{type(e).__name__}: {e}"
    add("LIEF check_layout", ok, msg.strip().replace("\n", "; "))
    add("ELF header", str(b.header.file_type).endswith("DYN") and str(b.header.machine_type).endswith("X86_64"),
        f"{_enum_name(b.header.file_type)} {_enum_name(b.header.machine_type)}")

    # every allocated section inside a PT_LOAD segment with compatible permissions
    loads = [g for g in b.segments if _enum_name(g.type) == "LOAD"]
    bad = []
    for s in b.sections:
        flags = int(s.flags)
        if not s.name or not flags & 0x2 or s.size == 0:
            continue
        nobits = _enum_name(s.type) == "NOBITS"
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
            bad.append(f"{_text(s.name)} not covered by a LOAD segment")
            continue
        gf = int(home.flags)
        if (flags & 0x1 and not gf & 2) or (flags & 0x4 and not gf & 1):
            bad.append(f"{_text(s.name)} ({_sec_flags(flags)}) in a {_seg_flags(gf)} segment")
    add("segments cover sections", not bad, "; ".join(bad) or f"{len(loads)} LOAD segments")
    types = {_enum_name(g.type) for g in b.segments}
    need = {"DYNAMIC", "GNU_STACK"}
    add("program headers", need <= types,
        "missing " + ", ".join(sorted(need - types)) if not need <= types else ", ".join(sorted(types)))
    if "GNU_STACK" in types:
        stack = next(g for g in b.segments if _enum_name(g.type) == "GNU_STACK")
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
    lief_exports = {_text(s.name): int(s.size) for s in b.dynamic_symbols if s.name and int(s.shndx) != 0}
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
