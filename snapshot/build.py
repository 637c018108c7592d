"""Build: recorded specializations -> ONE LLVM module -> ONE PIC object -> ONE image.

Stages, one direction: `plan` decides what is served and why not (pure data),
`merge_modules` links the code libraries into one module, `finish_module`
resolves recursion placeholders and gives every definition the image-unique
prefix, `emit_object` runs the backend, and `linker.link` writes the ELF with
the manifest and payload embedded.
"""
from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import llvmlite.binding as ll

import linker

from . import numba_seam
from .cpu import CpuTarget
from .numba_seam import addresses, record as seam
from .fingerprint import (Unfingerprintable, canonical_options, closure_fingerprint,
                          code_fingerprint, file_digest, machine_fingerprint)
from .manifest import (MANIFEST_SECTION, PAYLOAD_SECTION, Dep, Entry, Manifest, Skipped,
                       Source)
from .gufuncs import builder_options_text
from .numba_seam import GUFUNC_KINDS
from .payload import dumps_entry, pack_payloads

Progress = Callable[[str], None]


class BuildError(Exception):
    """The image cannot be built; the message says why."""


@dataclass
class Planned:
    spec: seam.Specialization
    entry: Entry
    blob: bytes                        # pickled payload of this entry
    modules: list                      # LLVM modules that carry its code
    raw_symbols: dict[str, str]        # role -> symbol as Numba named it
    raw_envs: list[str]


@dataclass
class BuildResult:
    image: bytes
    manifest: Manifest
    internal: int                      # Numba-internal helpers compiled into callers
    timings: dict[str, float]


class StableNames:
    """Replaces process addresses embedded in symbol names by counters (reproducible builds).

    Numba names array-expression kernels after their object's address
    (``__numba_array_expr_0x7f...``). The replacement keeps the length, so the
    Itanium length prefixes of mangled names stay valid.
    """
    _HEX = re.compile(r"0x[0-9a-f]{6,}")
    # parallel ufunc/gufunc wrappers: ".kernel.<id(env) in decimal>_<inner wrapper>"
    _KERNEL = re.compile(r"(?<=\.kernel\.)[0-9]{6,}(?=_)")
    _DYNAMIC = "numba.dynamic.globals."    # + hex address (jitclass box slots)

    def __init__(self) -> None:
        self._map: dict[str, str] = {}

    def __call__(self, name: str) -> str:
        if name.startswith(self._DYNAMIC):
            return self._map.setdefault(name, "%sslot%d" % (self._DYNAMIC, len(self._map)))
        if ".kernel." in name:
            name = self._KERNEL.sub(self._sub_dec, name)
        return self._HEX.sub(self._sub, name) if "0x" in name else name

    # string constants: ".bytes.<hash(bytes)>", and Python's bytes hash is salted per process
    _BYTES = re.compile(r"^\.bytes\.-?[0-9]+")

    def local(self, name: str) -> str:
        """Stable name for a local (internal) constant whose name Numba derived from hash()."""
        return self._BYTES.sub(lambda m: self._map.setdefault("bytes:" + m.group(0),
                                                              ".bytes.snap%d" % len(self._map)), name)

    def _sub_dec(self, m: re.Match) -> str:
        key = "dec:" + m.group(0)
        if key not in self._map:
            self._map[key] = str(len(self._map)).rjust(len(m.group(0)), "0")
        return self._map[key]

    def _sub(self, m: re.Match) -> str:
        addr = m.group(0)
        if addr not in self._map:
            self._map[addr] = "0x" + format(len(self._map), "x").rjust(len(addr) - 2, "0")
        return self._map[addr]


# ------------------------------------------------------------------ planning
def _defined(module) -> set[str]:
    return {f.name for f in module.functions if not f.is_declaration}


def plan(specs: list[seam.Specialization], libraries: list, names: StableNames
         ) -> tuple[list[Planned], list[Skipped], int, dict[str, str]]:
    """Decide what the image serves; every other specialization gets a reason."""
    # name -> library that defines it externally (wrapper libraries of ufunc loops)
    by_symbol: dict[str, Any] = {}
    for lib in libraries:
        try:
            mod = seam.library_module(lib)
        except Exception:
            continue
        for name in _defined(mod):
            by_symbol.setdefault(name, lib)
    # Callees are tracked only outside numba itself (its code is pinned by the fingerprint).
    by_library = {id(s.library): s for s in specs
                  if not s.module.startswith("numba.") and s.py_func is not None}

    planned: list[Planned] = []
    skipped: list[Skipped] = []
    files: dict[str, str] = {}
    internal = 0
    seen: set[tuple] = set()
    for spec in specs:
        if spec.internal:
            internal += 1
            continue
        if spec.reason is not None:
            skipped.append(Skipped(spec.module, spec.qualname, _safe_signature(spec), spec.reason))
            continue
        try:
            identity = _identity(spec)
        except Exception as e:  # noqa: BLE001 - one specialization never costs the whole build
            identity = f"cannot identify it ({type(e).__name__}: {e})"
        if isinstance(identity, str):
            skipped.append(Skipped(spec.module, spec.qualname, _safe_signature(spec), identity))
            continue
        if identity in seen:
            continue
        seen.add(identity)
        try:
            done = _plan_one(spec, identity, by_symbol, by_library, names)
        except Exception as e:  # noqa: BLE001 - one specialization never costs the whole build
            done = f"cannot record it ({type(e).__name__}: {e})"
        if isinstance(done, str):
            skipped.append(Skipped(spec.module, spec.qualname, spec.signature, done))
            continue
        p, callees = done
        planned.append(p)
        for s in [spec, *callees]:
            path = s.py_func.__code__.co_filename
            if not path.startswith("<") and (s.module not in files or not os.path.isfile(files[s.module])):
                files[s.module] = path      # a real source file (exec'd code has none)
    planned.sort(key=lambda p: (p.entry.module, p.entry.qualname, p.entry.options,
                                p.entry.closure or "", p.entry.signature, p.entry.kind,
                                p.entry.code, p.entry.explicit, sorted(p.entry.globals.items())))
    skipped.sort(key=lambda s: (s.module, s.qualname, s.signature, s.reason))
    return planned, skipped, internal, files


def _safe_signature(spec: seam.Specialization) -> str:
    try:
        return spec.signature
    except Exception as e:  # noqa: BLE001 - e.g. a freed dispatcher in an argument type
        return f"(unprintable: {type(e).__name__})"


class _Identity(NamedTuple):
    """Everything that tells this specialization apart (validity.py): the plan's dedup key."""
    kind: str
    module: str
    qualname: str
    options: str
    closure: str | None
    code: str
    argkeys: tuple[str, ...]
    ret: str
    explicit: bool
    globals: tuple[tuple[str, str], ...]


def _identity(spec: seam.Specialization) -> "_Identity | str":
    """The identity of a specialization, or why it cannot be matched in another process."""
    # the closure as it was when compiled (a cell may be bound only afterwards)
    closure = spec.extra["closure"] if "closure" in spec.extra else _closure_now(spec.py_func)
    if closure is not None and closure.startswith("?"):
        return f"closure: {closure[1:]}"
    frozen = spec.extra.get("globals", {})
    if isinstance(frozen, str):
        return f"frozen globals cannot be fingerprinted: {frozen}"
    if spec.kind in GUFUNC_KINDS:
        options = builder_options_text(spec.options, spec.extra["builder"])
    else:
        options = spec.extra.get("compile_options") or canonical_options(spec.options)
    options += spec.extra.get("options_suffix", "")     # jitclass: class spec + part
    argkeys = tuple(numba_seam.type_key(t) for t in spec.args)
    for t, k in zip(spec.args, argkeys):
        if numba_seam.PROCESS_ADDRESS.search(k):
            return (f"argument type {numba_seam.type_str(t)} names an object of the training "
                    "process (its key differs in every process)")
    return _Identity(spec.kind, spec.module, spec.qualname, options, closure,
                     code_fingerprint(spec.py_func.__code__), argkeys,
                     numba_seam.type_key(spec.return_type), bool(spec.extra.get("explicit_return")),
                     tuple(sorted(frozen.items())))


def _closure_now(py_func) -> str | None:
    try:
        return closure_fingerprint(py_func)
    except Unfingerprintable as e:
        return f"?{e}"


def _plan_one(spec: seam.Specialization, ident: _Identity, by_symbol: dict, by_library: dict,
              names: "StableNames") -> "tuple[Planned, list] | str":
    """The planned entry of one servable specialization and its callees (or why not servable)."""
    modules = [seam.library_module(spec.library)]
    symbols = {"function": spec.mangled, "env": spec.env_name}
    defined = _defined(modules[0])
    if spec.kind == "dufunc" or spec.kind in GUFUNC_KINDS:
        loop_lib = by_symbol.get(spec.loop)
        if loop_lib is None:
            return "ufunc loop wrapper not found"
        modules.append(seam.library_module(loop_lib))
        symbols["loop"] = spec.loop
    elif spec.kind == "cfunc":
        symbols["cfunc"] = spec.cfunc
    else:
        symbols["wrapper"] = spec.wrapper
        if spec.cfunc in defined:
            symbols["cfunc"] = spec.cfunc
    symbols.update(spec.extra.get("generator", {}).get("roles", {}))
    for name, typ in spec.extra.get("box_slots", {}).items():
        symbols[seam.box_slot_role(typ)] = name
    dynamic = _dynamic_slots(spec, modules)
    if isinstance(dynamic, str):
        return dynamic
    envs = set()
    for m in modules:
        envs.update(seam.referenced_envs(m))
    spec.extra["class_ids"] = seam.class_trackers(spec.py_func)
    try:
        blob = dumps_entry(spec, sorted(envs), names)
    except Exception as e:  # noqa: BLE001 - any pickling failure means "not servable"
        return f"cannot record types/constants: {type(e).__name__}: {e}"
    # Generated code (exec'd by Numba: jitclass/structref helpers) has no source
    # file to check; what it does is fixed by its maker, whose identity is the entry's.
    callees = [d for lib in seam.linked_libraries(spec.library)
               if (d := by_library.get(id(lib))) is not None and d is not spec
               and not _generated(d)]
    deps = sorted({(d.module, d.qualname, code_fingerprint(d.py_func.__code__)) for d in callees})
    entry = Entry(
        kind=spec.kind, module=spec.module, qualname=spec.qualname, options=ident.options,
        closure=ident.closure, code=ident.code,
        signature=spec.signature, symbols=symbols, envs=sorted(envs),
        deps=[Dep(*d) for d in deps], parfors=spec.parfors, dynamic=dynamic,
        argkeys=list(ident.argkeys), ret=ident.ret, explicit=ident.explicit, globals=dict(ident.globals),
        generated=_generated(spec),
    )
    return Planned(spec, entry, blob, modules, dict(symbols), sorted(envs)), callees


def _generated(spec: seam.Specialization) -> bool:
    """Code made by exec (a structref constructor, ``<string>``): no file, no name to look up.

    Such a callee cannot be checked by name in the user's process, so it is not
    a dependency of its callers (which would otherwise always read as stale);
    what it is made from is its generator's code (Numba's, pinned by the
    fingerprint) and the caller's own types.
    """
    return spec.py_func.__code__.co_filename.startswith("<")


def _dynamic_slots(spec: seam.Specialization, modules: list) -> dict[str, dict] | str:
    """Slot name -> target for the process addresses in an entry's code (or why not servable).

    Every module of the entry is scanned (a ufunc loop wrapper carries its kernel's
    code); the global -> target map is kept in ``spec.extra["dynamic"]`` for the rewrite.
    """
    named = dict(spec.extra.get("dynamic", {}))
    for mod in modules:
        found, problem = addresses.name_dynamic_globals(mod, skip=spec.extra.get("box_slots", {}))
        if problem is not None:
            return f"code embeds process addresses (dynamic globals): {problem}"
        named.update(found)
    spec.extra["dynamic"] = named
    return {t.slot_name(): t.to_json() for t in named.values()}


# ------------------------------------------------------------------ modules
def _defined_in(module, name: str) -> bool:
    for getter in (module.get_function, module.get_global_variable):
        try:
            return not getter(name).is_declaration
        except NameError:
            continue
    return False


def _module_order(libraries: list) -> dict[int, tuple[int, Any]]:
    """id(module) -> (finalization index, module) for every recorded code library."""
    order: dict[int, tuple[int, Any]] = {}
    for i, lib in enumerate(libraries):
        try:
            mod = seam.library_module(lib)
        except Exception:  # noqa: BLE001 - a library without usable IR donates nothing
            continue
        order.setdefault(id(mod), (i, mod))
    return order


def _non_local_definitions(module) -> list:
    return [gv for gv in list(module.functions) + list(module.global_variables)
            if not gv.is_declaration and gv.linkage not in _LOCAL_OR_COMMON]


_LOCAL_OR_COMMON = (ll.Linkage.internal, ll.Linkage.private, ll.Linkage.common,
                    ll.Linkage.available_externally)


def jit_definitions(libraries: list, names: set[str], exclude: set[int]) -> dict[str, Any]:
    """Symbol -> the module whose copy of it the JIT process runs.

    A library's module carries ``linkonce_odr`` copies of everything it links,
    optimized again inside it (after inlining into it, and with the IR the JIT's
    backend already rewrote): copies of one symbol differ from module to module,
    and with fast-math they compute different bits. MCJIT keeps the first
    definition it loaded of a weak symbol and resolves every later reference to
    it, i.e. the copy of the first library finalized that defines it (usually
    the function's own library: callees are finalized before their callers).
    Modules in ``exclude`` (code with process addresses no entry names) donate nothing.
    """
    chosen: dict[str, Any] = {}
    for i, lib in enumerate(libraries):
        try:
            mod = seam.library_module(lib)
        except Exception:  # noqa: BLE001
            continue
        if id(mod) in exclude:
            continue
        for gv in _non_local_definitions(mod):
            if gv.name in names and gv.name not in chosen:
                chosen[gv.name] = mod
    return chosen


def _link_in(big, mod, chosen: dict[str, Any], entry_names: set[str], slots: dict[str, str]) -> None:
    """Link a clone of ``mod``: its chosen definitions win, other copies only fill gaps."""
    clone = mod.clone()
    if addresses.dynamic_globals(clone):
        # named process addresses -> late-bound slots; jitclass box slots
        # keep their names and are nulled (both are filled at install)
        clone = seam.clear_dynamic_addresses(addresses.rewrite_module(clone, slots))
    for gv in _non_local_definitions(clone):
        owner = chosen.get(gv.name)
        if (owner is not None and owner is not mod and gv.linkage == ll.Linkage.external
                and gv.name not in entry_names and _defined_differently(big, gv)):
            # A strong definition that another library defines with other content (Numba's
            # __excinfo_unwrap_args<hash of arg types> reads its own function's environment):
            # the JIT keeps one per object; here it stays local to its module.
            gv.linkage = "internal"
            continue
        if owner is mod:
            # weak_odr: linked even before anything references it, and it stays
            # the definition when later modules bring their linkonce_odr copies
            gv.linkage = "external" if gv.name in entry_names else "weak_odr"
        elif owner is not None or _defined_in(big, gv.name):
            gv.linkage = "linkonce_odr"
        elif gv.name in entry_names:
            gv.linkage = "external"
            chosen[gv.name] = mod
    big.link_in(clone)


def _defined_differently(big, gv) -> bool:
    """``gv`` (a definition about to be linked) has a same-named definition in ``big`` whose
    text differs."""
    for getter in (big.get_function, big.get_global_variable):
        try:
            existing = getter(gv.name)
        except NameError:
            continue
        return not existing.is_declaration and str(existing) != str(gv)
    return False


def merge_modules(planned: list[Planned], libraries: list = ()):
    """Link the planned modules into one, each symbol defined by the copy the JIT runs.

    The modules to link are the planned entries' and those holding the JIT's copy
    of a symbol they define (see ``jit_definitions``), in the order the JIT
    finalized them. Entry points are made ``external`` (cache-loaded libraries
    mark everything ``linkonce_odr``, and the IR linker drops unreferenced
    linkonce definitions). A symbol pulled in only as a callee of a chosen copy
    gets its own JIT copy in a second round.
    """
    entry_names: set[str] = set()
    for p in planned:
        entry_names.update(p.raw_symbols.values())
    slots = {g: t.slot_name() for p in planned for g, t in p.spec.extra.get("dynamic", {}).items()}
    order = _module_order(libraries)
    planned_mods: dict[int, Any] = {}
    for p in planned:
        for mod in p.modules:
            planned_mods.setdefault(id(mod), mod)
    # donors with process addresses that no planned entry names cannot be relocated
    exclude = {key for key, (_, mod) in order.items()
               if key not in planned_mods and addresses.dynamic_globals(mod)}
    needed = {gv.name for mod in planned_mods.values() for gv in _non_local_definitions(mod)}
    while True:
        chosen = jit_definitions(libraries, needed, exclude)
        mods = {id(m): m for m in chosen.values()}
        mods.update(planned_mods)
        late = len(order)           # planned modules the recorder never saw go last, in plan order
        sequence = sorted(mods.values(), key=lambda m: order.get(id(m), (late,))[0])
        big = ll.parse_assembly("")
        big.triple = sequence[0].triple
        big.data_layout = sequence[0].data_layout
        owners = dict(chosen)       # + entry points no recorded library defines
        for mod in sequence:
            _link_in(big, mod, owners, entry_names, slots)
        pulled = {gv.name for gv in _non_local_definitions(big)} - needed
        if not pulled:
            return big
        needed |= pulled


def _resolve_recursion_placeholders(big) -> None:
    """Numba's `.numba.unresolved$X` pointer globals become `@X` (they are filled at run time in the JIT)."""
    defined = _defined(big)
    lines = []
    for gv in big.global_variables:
        if gv.name.startswith(numba_seam.UNRESOLVED_PREFIX) and gv.is_declaration:
            target = gv.name[len(numba_seam.UNRESOLVED_PREFIX):]
            if target not in defined:
                raise BuildError(f"recursive call target {target!r} is not in the image")
            lines.append(f'declare void @"{target}"()')
            lines.append(f'@"{gv.name}" = global ptr @"{target}"')
    if lines:
        patch = ll.parse_assembly("\n".join(lines))
        patch.triple = big.triple
        patch.data_layout = big.data_layout
        big.link_in(patch)


def finish_module(big, prefix: str, exported: set[str], names: StableNames) -> None:
    """Prefix every global definition, make it strong, and hide what need not be exported.

    The prefix keeps image symbols distinct from same-named code the JIT may
    compile later in the process (Numba's mangled names repeat across processes).
    """
    _resolve_recursion_placeholders(big)
    for gv in list(big.functions) + list(big.global_variables):
        if gv.is_declaration:
            continue
        if gv.linkage in (ll.Linkage.internal, ll.Linkage.private):
            if gv.name.startswith(".bytes."):
                gv.name = names.local(gv.name)
            continue
        name = gv.name
        gv.linkage = "external"
        gv.name = prefix + names(name)
        gv.visibility = "default" if name in exported else "hidden"


def make_target_machine(cpu: CpuTarget):
    """The backend for image code: PIC, default code model, the CPU the JIT optimized for."""
    from numba.core import config
    ll.initialize_native_target()
    ll.initialize_native_asmprinter()
    target = ll.Target.from_triple(ll.get_process_triple())
    return target.create_target_machine(cpu=cpu.name, features=cpu.features,
                                        opt=config.OPT, reloc="pic", codemodel="default")


# ------------------------------------------------------------------ driver
def build_image(specs: list[seam.Specialization], libraries: list, *, cpu: CpuTarget,
                build_info: dict | None = None, progress: Progress = lambda s: None) -> BuildResult:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    progress("collecting")
    names = StableNames()
    planned, skipped, internal, files = plan(specs, libraries, names)
    if not planned:
        raise BuildError("the workload compiled nothing the image can serve"
                         + (f" ({len(skipped)} specialization(s) left to the JIT)" if skipped else ""))
    entries = [p.entry._replace(payload=i) for i, p in enumerate(planned)]
    fingerprint = {**machine_fingerprint(), "numba_config": numba_seam.numba_config()}
    cpu_info = {"target": cpu.option, "name": cpu.name, "features": sorted(cpu.required)}
    # The prefix is a pure function of what the image holds: reproducible, yet unique per image.
    ident = hashlib.blake2b(digest_size=6)
    for e in entries:
        ident.update(repr((e.kind, e.module, e.qualname, e.options, e.closure, e.code, e.signature)).encode())
    prefix = f"_snap{ident.hexdigest()}_"
    entries = [e._replace(symbols={role: prefix + names(name) for role, name in e.symbols.items()},
                          envs=[prefix + names(n) for n in e.envs],
                          dynamic={prefix + names(n): t for n, t in e.dynamic.items()})
               for e in entries]
    sources = [Source(m, files[m], file_digest(files[m])) for m in sorted(files)]
    manifest = Manifest(fingerprint=fingerprint, cpu=cpu_info, prefix=prefix, entries=entries,
                        skipped=skipped, sources=sources, build=dict(build_info or {}))
    timings["collect"] = time.perf_counter() - t0

    progress("code generation")
    t = time.perf_counter()
    big = merge_modules(planned, libraries)
    exported = {n for p in planned for n in list(p.raw_symbols.values()) + p.raw_envs}
    exported.update(t.slot_name() for p in planned for t in p.spec.extra.get("dynamic", {}).values())
    finish_module(big, prefix, exported, names)
    big.verify()
    obj = make_target_machine(cpu).emit_object(big)
    timings["codegen"] = time.perf_counter() - t

    progress("linking")
    t = time.perf_counter()
    payload = pack_payloads([p.blob for p in planned])
    image = linker.link([obj], sections={MANIFEST_SECTION: manifest.to_bytes(),
                                         PAYLOAD_SECTION: payload})
    timings["link"] = time.perf_counter() - t
    return BuildResult(image=image, manifest=manifest, internal=internal, timings=timings)
