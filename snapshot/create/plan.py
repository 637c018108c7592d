"""Plan: which recorded specializations the image serves, and why not the others (pure data).

Every specialization gets its identity (``image.identity`` and the frozen globals
of ``image.validity``), its symbols (its kind's roles), its address slots and
its pickled payload, or the reason it is left to the JIT. Nothing here
generates code.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..image.fingerprint import PROCESS_ADDRESS, closure_fingerprint, code_fingerprint, type_key
from ..image import inputs
from ..image import kinds as K
from ..image.freshness import current_file
from ..image.identity import generated
from ..image.manifest import Dep, Entry, Skipped
from ..errors import Unfingerprintable
from ..numba_seam import addresses, type_str
from ..numba_seam.jitclass import slot_role
from ..numba_seam.kinds import KINDS
from ..numba_seam.library import base_entry, library_module, linked_libraries, referenced_envs
from ..numba_seam.pickling import dumps_entry
from ..numba_seam.specialization import Specialization, arg_keys, class_trackers


@dataclass
class Planned:
    spec: Specialization
    entry: Entry
    blob: bytes                        # pickled payload of this entry
    libraries: list                    # the code libraries that carry its code
    modules: list                      # their LLVM modules (as the training run compiled them)
    raw_symbols: dict[str, str]        # role -> symbol as Numba named it
    raw_envs: list[str]
    settings: dict[str, str]           # the numba.config settings its compilation read


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


def _defined(module) -> set[str]:
    return {f.name for f in module.functions if not f.is_declaration}


def _calls_threading_layer(modules: list) -> bool:
    """Does this code import an entry point of Numba's threading layer (a parfor's
    ``numba_parallel_for``, a ``get_thread_id()`` call...)? Callees are linked in, so this
    is transitive. (``get_num_threads()`` reads a ctypes pointer: a late-bound slot, whose
    resolving starts the layer, see numba_seam/addresses.py.)"""
    from ..numba_seam.resolver import THREADING_SYMBOLS
    return any(f.is_declaration and f.name in THREADING_SYMBOLS for m in modules for f in m.functions)


# Numba's own methods of typed containers used from Python (numba.typed: len, [], iteration
# of a typed.Dict / typed.List): kept in a library image when its workload compiled them.
# The library's users call them on the containers its functions return, with the library's
# types; they are Numba's code (pinned by the fingerprint), not another library's.
CONTAINER_HELPERS = ("numba.typed.",)


def in_package(module: str, package: str | None) -> bool:
    """Is a function of ``module`` part of ``package`` (None: every module is)?"""
    return package is None or module == package or module.startswith(package + ".")


def plan(specs: list[Specialization], libraries: list, names: StableNames, package: str | None = None,
         settings: dict[str, str] | None = None, volatile: frozenset[str] = frozenset()
         ) -> tuple[list[Planned], list[Skipped], int, dict[str, str]]:
    """Decide what the image serves; every other specialization gets a reason.

    With ``package`` (a library image, ``snap create --package``) only the
    specializations of functions defined in that package are entries: the rest of
    what the workload compiled is the application's or another library's, which
    that library's users may not have. Callees stay compiled into the entries
    that call them, whatever package they come from. ``settings``: the numba.config settings
    the training run's compilations read (the first compilation reads some once for all);
    ``volatile``: values code run while compiling changed itself (its own state, no input).
    """
    # name -> library that defines it externally (wrapper libraries of ufunc loops)
    by_symbol: dict[str, Any] = {}
    for lib in libraries:
        try:
            mod = library_module(lib)
        except Exception:
            continue
        for name in _defined(mod):
            by_symbol.setdefault(name, lib)
    # Every jitted function's library -> its specialization: what an entry's code links. As
    # dependencies only callees outside numba itself count (its code is pinned by the
    # fingerprint); as callees installed with their caller, every dispatcher's (the JIT leaves
    # its state so, whichever package defines it: numba's own tests live in ``numba.tests``).
    by_library = {id(s.library): s for s in specs if s.py_func is not None}

    planned: list[Planned] = []
    skipped: list[Skipped] = []
    files: dict[str, str] = {}
    internal = 0
    seen: set[tuple] = set()
    for spec in specs:
        if spec.internal:
            internal += 1
            continue
        if not in_package(spec.module, package) and not spec.module.startswith(CONTAINER_HELPERS):
            skipped.append(Skipped(spec.module, spec.qualname, _safe_signature(spec), f"not in package {package}"))
            continue
        if spec.reason is not None:
            if base_entry(spec.library) is not None:
                continue    # a base image serves it (--base): neither this image's nor the JIT's
            skipped.append(Skipped(spec.module, spec.qualname, _safe_signature(spec), spec.reason))
            continue
        try:
            identity = _identity(spec, settings, volatile)
        except ReferenceError:
            identity = FREED
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
        consulted = {d.module for d in p.entry.deps} | {
            loc.split("|")[1] for loc in p.entry.values if loc[0] in (inputs.GLOBAL, inputs.ATTR)}
        for module in consulted - files.keys():
            # code it ran or compiled elsewhere, modules whose values it read: the file's digest
            # (what vouches for a module the running process has not imported: validity.py)
            path = current_file(module)
            if path is not None and os.path.isfile(path):
                files[module] = path
    planned.sort(key=lambda p: (p.entry.module, p.entry.qualname, p.entry.options,
                                p.entry.closure or "", p.entry.signature, p.entry.kind,
                                p.entry.code, p.entry.explicit, sorted(p.entry.values.items()),
                                sorted(p.entry.deps)))
    skipped.sort(key=lambda s: (s.module, s.qualname, s.signature, s.reason))
    return planned, skipped, internal, files


# Numba's Dispatcher type holds its dispatcher weakly: a jitted function made inside another
# function and passed as an argument (a sort key) is gone once the program dropped it. Its
# identity is taken when its caller compiles (``key_passed_functions``); this is left for a
# specialization whose identity could not be taken then
FREED = ("its argument types name a jitted function the program freed before the image was built "
         "(one made inside another function, passed as an argument), whose identity could not be "
         "taken when it compiled; servable once that function is defined at module level, where "
         "every process finds it by name")


def _safe_signature(spec: Specialization) -> str:
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
    values: tuple[tuple[str, str], ...]          # what its compilation read (image.inputs)
    consulted: frozenset                         # the code it compiled or ran: (module, qualname, fp)
    settings: tuple[tuple[str, str], ...]        # the numba.config settings it read
    # the classes its code raises that Numba pickled by value (their tracker ids): two closures
    # of one factory holding two such classes of one body compiled two codes, one per class
    classes: tuple[str, ...]


def _identity(spec: Specialization, settings: dict[str, str] | None = None,
              volatile: frozenset[str] = frozenset()) -> "_Identity | str":
    """The identity of a specialization, or why it cannot be matched in another process."""
    # the closure as it was when compiled (a cell may be bound only afterwards)
    closure = spec.extra["closure"] if "closure" in spec.extra else _closure_now(spec.py_func)
    if closure is not None and closure.startswith("?"):
        return f"closure: {closure[1:]}"
    observed = spec.extra.get("inputs")
    if observed is None:
        return "its compilation was not observed (compiled before the recorder was installed)"
    values = {loc: fp for loc, fp in observed.values.items() if loc not in volatile}
    for loc, fp in values.items():
        if fp.startswith(inputs.UNFINGERPRINTABLE):
            return f"it read {inputs.describe(loc)}, which cannot be fingerprinted ({fp[1:]})"
        if fp == inputs.CONFLICT:
            return f"it read {inputs.describe(loc)} with two different values while it compiled"
    options = spec.extra["compile_options"]     # its kind's identity, as the runtime computes it
    argkeys = arg_keys(spec)        # (a jitted function passed in: keyed when it compiled)
    for t, k in zip(spec.args, argkeys):
        if PROCESS_ADDRESS.search(k):
            return (f"argument type {type_str(t)} names an object of the training "
                    "process (its key differs in every process)")
    code = code_fingerprint(spec.py_func.__code__)
    own = (spec.module, spec.qualname, code)
    try:
        spec.extra["class_ids"] = class_trackers(spec.py_func, spec.args)
    except ReferenceError:
        if "class_ids" not in spec.extra:       # (taken when it compiled, if a function passed
            raise                               # in is gone since)
    consulted = frozenset(c for c in observed.code if c != own and _locatable(c[0]))
    return _Identity(spec.kind, spec.module, spec.qualname, options, closure, code, argkeys,
                     # (an object-mode entry: the return type it was requested with)
                     type_key(spec.extra.get("requested_return") or spec.return_type),
                     bool(spec.extra.get("explicit_return")),
                     tuple(sorted(values.items())), consulted,
                     tuple(sorted({**(settings or {}), **observed.settings}.items())),
                     tuple(sorted(spec.extra["class_ids"])))


def _locatable(module: str) -> bool:
    """Code of ``module`` can be compared in the user's process (by the module's source file or
    its live objects); code made by ``exec`` in a module of no file is covered by its maker."""
    return current_file(module) is not None


def _closure_now(py_func) -> str | None:
    try:
        return closure_fingerprint(py_func)
    except Unfingerprintable as e:
        return f"?{e}"


def _plan_one(spec: Specialization, ident: _Identity, by_symbol: dict, by_library: dict,
              names: "StableNames") -> "tuple[Planned, list] | str":
    """The planned entry of one servable specialization and its callees (or why not servable)."""
    libraries = [spec.library]
    modules = [library_module(spec.library)]
    symbols = {"function": spec.mangled, "env": spec.env_name}
    defined = _defined(modules[0])
    symbols.update(KINDS[spec.kind].roles(spec, defined))
    if "loop" in symbols:           # a ufunc loop: its wrapper's library carries the loop code
        loop_lib = by_symbol.get(spec.loop)
        if loop_lib is None:
            return "ufunc loop wrapper not found"
        libraries.append(loop_lib)
        modules.append(library_module(loop_lib))
    symbols.update(spec.extra.get("generator", {}).get("roles", {}))
    for name, typ in spec.extra.get("box_slots", {}).items():
        symbols[slot_role(typ)] = name
    dynamic = _dynamic_slots(spec, modules)
    if isinstance(dynamic, str):
        return dynamic
    envs = set()
    for m in modules:
        envs.update(referenced_envs(m))
    try:
        blob = dumps_entry(spec, sorted(envs), names)
    except Exception as e:  # noqa: BLE001 - any pickling failure means "not servable"
        return f"cannot record types/constants: {type(e).__name__}: {e}"
    # Generated code (exec'd by Numba: jitclass/structref helpers, ``<string>``) has no
    # source file to check by name in the user's process (as a dependency it would always
    # read as stale); what it does is fixed by its maker (Numba's, pinned by the
    # fingerprint) and the caller's own types, whose identity is the entry's.
    linked = linked_libraries(spec.library)
    linked_specs = [d for lib in linked
                    if (d := by_library.get(id(lib))) is not None and d is not spec
                    and not generated(d.py_func)]
    callees = [d for d in linked_specs if not d.module.startswith("numba.")]
    deps = {(d.module, d.qualname, code_fingerprint(d.py_func.__code__)) for d in callees}
    deps.update(ident.consulted)       # code it compiled (inlined too) or ran while compiling
    # callees a base image served (``--base``): their code is the base's, as it was built
    deps.update(e for e in map(base_entry, linked) if e is not None)
    deps = sorted(deps)
    entry = Entry(
        kind=spec.kind, module=spec.module, qualname=spec.qualname, options=ident.options,
        closure=ident.closure, code=ident.code,
        signature=spec.signature, symbols=symbols, envs=sorted(envs),
        deps=[Dep(*d) for d in deps], parfors=spec.parfors, dynamic=dynamic,
        argkeys=list(ident.argkeys), ret=ident.ret, explicit=ident.explicit, values=dict(ident.values),
        generated=generated(spec.py_func), cells=dict(spec.extra.get("cells") or {}),
        threads=spec.parfors or _calls_threading_layer(modules),
        callees=_dispatcher_callees(linked_specs),
    )
    return Planned(spec, entry, blob, libraries, modules, dict(symbols), sorted(envs), dict(ident.settings)), callees


def _dispatcher_callees(callees: list) -> list:
    """[module, qualname, argkeys] of the plain dispatchers' specializations an entry's code
    links: compiling it made (or found) them, so under the JIT their dispatchers hold them
    once it is compiled; the runtime installs them with it (``Runtime._install_callees``)."""
    out = set()
    for d in callees:
        if d.kind not in (K.DISPATCHER, K.JITCLASS):
            continue
        try:
            out.add((d.module, d.qualname, arg_keys(d)))
        except Exception:  # noqa: BLE001 - a type without a stable key: not installed with it
            continue
    return [[m, q, list(a)] for m, q, a in sorted(out)]


def _dynamic_slots(spec: Specialization, modules: list) -> dict[str, dict] | str:
    """Slot name -> target for the process addresses in an entry's code (or why not servable).

    Every module of the entry is scanned (a ufunc loop wrapper carries its kernel's
    code); the global -> target map is kept in ``spec.extra["dynamic"]`` for the rewrite.
    """
    named = dict(spec.extra.get("dynamic", {}))
    if not any(addresses.dynamic_globals(mod) for mod in modules):
        spec.extra["dynamic"] = named
        return {t.slot_name(): t.to_json() for t in named.values()}
    # (a walk over the function's closure, own globals and jitted callees: only when needed)
    local = addresses.closure_targets(spec.py_func, spec.module, spec.qualname)
    # (those named when it compiled are kept: a jitted function Numba made then is gone now)
    skip = {*spec.extra.get("box_slots", {}), *named}
    for mod in modules:
        found, problem = addresses.name_dynamic_globals(mod, skip=skip, local=local)
        if problem is not None:
            return f"code embeds process addresses (dynamic globals): {problem}"
        named.update(found)
    spec.extra["dynamic"] = named
    return {t.slot_name(): t.to_json() for t in named.values()}


