"""``snap check``: would this image serve here? Decided without running or importing anything.

The environment verdict is the runtime's own (``image.compat``), so ``snap run``
and ``snap check`` agree by construction; freshness is decided from the
recorded source files, which are read and compiled (never executed).
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from ..image.compat import rows, verdict, what_next
from ..image.host import host_cpu
from ..image.variants import Choice, usable_features, variants_of
from ..image.freshness import CLOSURE, Freshness
from ..image.manifest import Manifest
from ..image.locate import find_spec
from ..image.packaged import PACKAGE_DIR
from ..numba_seam.cpu import jit_target
from .read import open_image
from .verify import DeepCheck, deep_checks


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
    package: str | None = None               # a library image's package (snap create --package)
    source_root: str | None = None           # where sources were looked for (None: where recorded)
    bases: list[dict[str, Any]] = field(default_factory=list)   # an incremental image's: file, path, status


def find_module_file(module: str) -> str | None:
    """The source file of ``module`` on this sys.path, WITHOUT importing it or its parents, and
    without asking the import system's finders (the name comes from an untrusted image)."""
    spec = find_spec(module, finders=False)
    if spec is None or not spec.has_location or not isinstance(spec.origin, str):
        return None
    return spec.origin if spec.origin.endswith(".py") and os.path.isfile(spec.origin) else None


def reroot(recorded: str, module: str, root: str) -> str | None:
    """Where the file recorded for ``module`` is under ``root``, by the module's name
    (``pkg.mod`` recorded at ``/build/src/pkg/mod.py`` -> ``root/pkg/mod.py``; a
    package's ``root/pkg/__init__.py``; a script's ``root/<its file name>``). None for
    names that are not a module's (the manifest is untrusted: no path leaves ``root``)."""
    name = os.path.basename(recorded.replace("\\", "/"))
    parts = module.split(".")
    if not name.endswith(".py") or name.startswith(".") or not all(p.isidentifier() for p in parts):
        return None
    if module == "__main__":
        return os.path.join(root, name)
    return os.path.join(root, *(parts if name == "__init__.py" else parts[:-1]), name)


def package_root(path: str, package: str | None) -> str | None:
    """The directory a library image sits in as ``<root>/<package as a path>/_snap/<file>``
    (None: not laid out so). Its sources are those next to it, as the library's users
    import them, wherever the image was built."""
    if not package:
        return None
    pkg_dir = os.path.dirname(os.path.dirname(os.path.abspath(path)))
    if os.path.basename(os.path.dirname(os.path.abspath(path))) != PACKAGE_DIR:
        return None
    parts = package.split(".")
    here = pkg_dir.split(os.sep)
    if here[-len(parts):] != parts:
        return None
    return os.sep.join(here[:-len(parts)]) or os.sep


class _Sources(Freshness):
    """Current state of the image's recorded source files (read and compiled, never imported).

    With ``root`` (``--source-root``, or the place of a library image in its package) the
    recorded paths are re-rooted under it: an image is checked where it is deployed, not
    where it was built; a module not found there is looked for on sys.path (not at the
    recorded path, which may be the build tree on this very machine).
    """

    def __init__(self, manifest: Manifest, root: str | None = None) -> None:
        super().__init__(manifest, locate=self.path)
        self.recorded = {s.module: s for s in manifest.sources}
        self.root = root
        self._path: dict[str, str | None] = {}

    def path(self, module: str) -> str | None:
        if module not in self._path:
            rec = self.recorded.get(module)
            where = rec.path if rec is not None and isinstance(rec.path, str) else None
            if where is not None and self.root is not None:
                where = reroot(where, module, self.root)   # never the recorded path itself
            p = where if where is not None and os.path.isfile(where) else None
            self._path[module] = p or find_module_file(module)
        return self._path[module]

    def fresh(self, module: str, qualname: str, code: str, own_globals: dict | None = None) -> bool:
        """Decided by the files alone: this process is not the program the image serves, and
        looking its objects up by the image's names would run their code (a module's or an
        object's ``__getattr__``, a property) on the image's say-so."""
        if CLOSURE in code:
            return self._closure_fresh(module, qualname, code)
        return self._in_file(module, qualname, code)

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


def _environment(manifest: Manifest, name: str, features: frozenset[str], limited_to: str | None,
                 choice: Choice) -> tuple[list[EnvItem], dict[str, Any]]:
    """Every row of the fingerprint comparison the runtime makes (``image.compat``), and the
    CPU: ``features`` this machine's (after SNAP_CPU), ``choice`` the verdict's variant."""
    from ..image.host import process_fingerprint
    items = [EnvItem(r.key if r.sub is None else f"{r.key.replace('_', ' ')} {r.sub}", r.image, r.here, r.ok)
             for r in rows(manifest.fingerprint, process_fingerprint())]
    required = manifest.cpu.get("features", [])
    required = [str(f) for f in required] if isinstance(required, list) else []
    # the lowest variant's target and needs (a single-target image: its only one), and the
    # variant this machine would run, with why (what activation decides, image/variants.py)
    cpu = {"target": manifest.cpu.get("target"), "image": manifest.cpu.get("name"), "here": name,
           "required": len(required), "missing": sorted(set(required) - features),
           "variants": len(variants_of(manifest)), "variant": choice.variant.target if choice.variant else None,
           "reason": choice.reason, "limited_to": limited_to}
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


def _bases(path: str, manifest: Manifest, others: list[str]) -> list[dict[str, Any]]:
    """Each base an incremental image was built on (snap create --base), looked for where
    the runtime looks (next to the image, or a library's in its package) and among the
    images checked with it (which a program would activate first); the runtime refuses the
    image without them, or with another build of one of them."""
    from ..image.fingerprint import sha256_file
    from ..image.locate import package_directory
    out = []
    recorded = manifest.build.get("bases", [])
    for b in recorded if isinstance(recorded, list) else []:
        if not isinstance(b, dict):
            continue
        name = os.path.basename(str(b.get("file")))
        where = [os.path.join(os.path.dirname(os.path.abspath(path)), name)]
        if isinstance(b.get("package"), str):
            try:
                where.append(os.path.join(package_directory(b["package"]), PACKAGE_DIR, name))
            except ValueError:
                pass
        where += [os.path.abspath(o) for o in others if os.path.basename(o) == name]
        found = [w for w in where if os.path.isfile(w)]
        status, at = "missing", None
        for w in found:
            try:
                same = sha256_file(w) == b.get("sha256")
            except OSError:
                continue
            status, at = ("ok" if same else "another build"), w
            if same:
                break
        out.append({"file": name, "path": at, "status": status})
    return out


def check_image(path: str, *, deep: bool = False, source_root: str | None = None,
                others: list[str] = ()) -> CheckReport:
    """Would this image serve here? Raises ImageReadError if the file cannot be read as an image.

    Sources are looked for under ``source_root`` if given, else, for a library image
    inside its package (``<root>/<pkg>/_snap/``), under that package's root, else
    where they were recorded.
    """
    op = open_image(path, verify=not deep)
    m = op.manifest
    package = m.build.get("package") if isinstance(m.build.get("package"), str) else None
    root = os.path.abspath(source_root) if source_root is not None else package_root(op.path, package)
    verified = deep_checks(op) if deep else None
    name, host_features = host_cpu()          # asked of LLVM, not the per-boot cache
    features, limited_to = usable_features(host_features)
    try:
        problems, choice = verdict(m, features=host_features, jit=jit_target())
    except Exception as e:  # noqa: BLE001 - an odd manifest must give a verdict, not a traceback
        problems = [f"cannot compare the fingerprint ({type(e).__name__}: {e})"]
        choice = Choice(None, problems[0])
    environment, cpu = _environment(m, name, features, limited_to, choice)
    sources = _Sources(m, root)
    entries = [_entry_status(e, sources) for e in m.entries]
    stale = [e for e in entries if e.status == "stale"]
    missing = [e for e in entries if e.status == "source missing"]
    reasons = []
    if verified is not None:
        failed = [c.name for c in verified if not c.ok]
        if failed:
            reasons.append("verification failed: " + ", ".join(failed))
    if problems:
        reasons.append("built for another environment: " + "; ".join(problems) + what_next(problems, choice))
    if stale:
        changed = sorted({f for e in stale for f in e.changed})
        reasons.append(f"{len(stale)} of {len(entries)} entries stale ({', '.join(changed)} changed)")
    if missing:
        mods = sorted({x for e in missing for x in e.missing})
        reasons.append(f"{len(missing)} of {len(entries)} entries cannot be checked (source missing: "
                       f"{', '.join(mods)})")
    bases = _bases(op.path, m, list(others))
    for b in bases:
        if b["status"] == "missing":
            reasons.append(f"built on the image {b['file']}, which is not next to it (keep {b['file']} next "
                           "to it, or check and activate it first)")
        elif b["status"] == "another build":
            reasons.append(f"built on another build of {b['file']} than the one at {b['path']} (rebuild it "
                           f"with --base {b['path']})")
    ok = not reasons
    if ok:
        summary = (f"ok: {op.path} would be served here (environment compatible, "
                   f"{len(entries)} of {len(entries)} entries fresh"
                   + (f", CPU variant {cpu['reason']}" if cpu["variants"] > 1 else "") + ")")
    elif len(reasons) == len(stale and [1]) + len(missing and [1]) and len(stale) < len(entries):
        # the image itself would be used: the fresh entries serve, the stale ones go to the JIT
        fresh = sum(e.status == "fresh" for e in entries)
        summary = (f"partly served: {op.path}: {fresh} of {len(entries)} entries fresh, served; "
                   + "; ".join(reasons) + (", left to the JIT" if stale else ""))
    else:
        summary = f"not served: {op.path}: " + "; ".join(reasons)
    return CheckReport(path=op.path, ok=ok, summary=summary, problems=problems, environment=environment,
                       cpu=cpu, entries=entries, sources=sources.report(), deep=verified,
                       package=package, source_root=root, bases=bases)


def check_dict(rep: CheckReport) -> dict[str, Any]:
    return asdict(rep)
