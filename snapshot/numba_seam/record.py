"""Recording (trace side): see every specialization, extract what the build needs."""
from __future__ import annotations

import hashlib
import itertools
import re
import weakref
import types as pytypes
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any

from . import ENV_PREFIX, Patches, compile_options, objmode_block, owner_py_func, signature_text


@dataclass
class Recorded:
    """A compile result as it was produced, plus whose it is."""
    owner: Any            # the Dispatcher / DUFunc / LiftedCode that compiled it
    cres: Any
    kind: str             # "dispatcher" | "dufunc"
    # the frozen globals and closure cells when it was compiled (validity.frozen_globals,
    # closure_fingerprint), or why not: a workload may rebind them between compilations
    globals: Any = None
    closure: Any = None
    spec: Any = None      # extracted when compiled (then ``owner`` is dropped: see Recorder.keep)


def frozen_now(owner) -> "tuple[dict[str, str] | str, str | None]":
    """The frozen globals and the closure fingerprint of what ``owner`` compiles, taken at
    compile time (an error text instead of globals if they cannot be fingerprinted)."""
    from numba.core import dispatcher as nbdisp
    py_func = owner_py_func(owner)
    if not isinstance(py_func, pytypes.FunctionType):
        return {}, None
    from ..fingerprint import Unfingerprintable, closure_fingerprint
    from ..validity import frozen_globals
    try:
        closure = closure_fingerprint(py_func)
    except Unfingerprintable as e:
        closure = f"?{e}"
    if isinstance(owner, nbdisp.ObjModeLiftedWith):
        return {}, closure   # the block runs in object mode: it reads its globals at run time
    try:
        return frozen_globals(py_func), closure
    except Exception as e:  # noqa: BLE001 - the entry is then not servable, with this reason
        return f"{type(e).__name__}: {e}", closure


class Recorder(Patches):
    """Wraps Numba's add_overload and library finalization while a workload runs."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[Recorded] = []
        self.libraries: list[Any] = []

    def keep(self, owner, cres, kind: str) -> None:
        """Record a compile result, extracted right away: the training run must not keep the
        program's objects alive (a dispatcher it drops, and through it the arguments and frames
        its failed compilations hold), so the record keeps what the build needs, not the owner."""
        rec = Recorded(owner, cres, kind, *frozen_now(owner))
        try:
            rec.spec = specialization(rec)
            rec.spec.owner = None
            rec.owner = None
        except Exception:  # noqa: BLE001 - extracted again, with the error kept, at build time
            pass
        self.records.append(rec)

    def install(self) -> None:
        from numba.core import codegen, dispatcher
        from numba.np.ufunc import dufunc

        rec = self

        def add_overload(orig, self, cres):
            rec.keep(self, cres, "dispatcher")
            return orig(self, cres)

        def function_compile(orig, self, args, return_type):
            # The warnings this compilation gives (NumbaTypeSafetyWarning, performance
            # warnings...) are part of what the JIT does: kept with the entry and given again
            # when it is installed. They are shown here as usual, after the compile.
            with warnings.catch_warnings(record=True) as given:
                cres = orig(self, args, return_type)
            for w in given:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
            md = getattr(cres, "metadata", None)
            if isinstance(md, dict):
                # an explicit return type (eager @njit("f8(f8)")) is a compile input of its own
                md["snap_explicit_return"] = return_type is not None
                md["snap_warnings"] = [(w.category, str(w.message), w.filename, w.lineno) for w in given]
            return cres

        def finalize_final_module(orig, self):
            rec.libraries.append(self)
            # The JIT's backend mutates the module it compiles (CodeGenPrepare, loop
            # strength reduction, constant hoisting run on the IR in place), and
            # compiling that mutated IR again can give other code. The image compiles
            # the IR exactly as the JIT's backend received it.
            self._snap_jit_ir = self._final_module.clone()
            return orig(self)

        def compile_for_argtys(orig, self, argtys, return_type=None):
            cres = orig(self, argtys, return_type)
            if cres is not None and (not rec.records or rec.records[-1].cres is not cres):
                rec.keep(self, cres, "dufunc")
            return cres

        # Reproducible builds: Numba puts object addresses into symbol names and
        # type names (array-expression kernels, dispatcher-typed arguments). In
        # the training process they become first-seen counters instead.
        seen: dict[int, int] = {}
        # Dispatchers are numbered through weak references: the training run must free what
        # the program frees (a dispatcher made inside a function holds, through its failed
        # compilations' tracebacks, the frames and arguments of the call that made it).
        numbered: "weakref.WeakKeyDictionary[Any, int]" = weakref.WeakKeyDictionary()
        counter = itertools.count()

        def stable_hex(value: int) -> str:
            return "0x%x" % seen.setdefault(value, len(seen))

        def dispatcher_repr(orig, self):
            n = numbered.get(self)
            if n is None:
                n = numbered[self] = next(counter)
            return "%s(<function %s #%d>)" % (type(self).__name__, self.py_func.__qualname__, n)

        # Compile everything afresh in the training run (cache-loaded libraries
        # carry no callee graph, needed to tell when an entry is stale, and keep
        # only linkonce copies of their code), and leave the user's caches as they were.
        from . import cache_guard
        cache_guard.leave_caches_alone(self)

        from numba.np.ufunc import array_exprs
        array_exprs.hex = stable_hex
        self._undo.append(lambda: delattr(array_exprs, "hex"))
        def cfunc_compile(orig, self):
            cres = orig(self)
            rec.keep(self, cres, "cfunc")
            return cres

        from numba.core import ccallback
        self.wrap(ccallback.CFunc, "_compile_uncached", cfunc_compile)
        from . import addresses
        addresses.watch_symbols(self)
        # `with objmode` blocks: the code that calls them embeds the pickled block
        # dispatcher, uuid included; a first-seen-order uuid keeps images reproducible.
        memo = dispatcher._MemoMixin
        orig_uuid = memo.__dict__["_uuid"]
        counts: dict[str, int] = {}

        def stable_uuid(self):
            u = self._MemoMixin__uuid
            if u is None:
                f = getattr(self, "py_func", None)
                loc = getattr(getattr(self, "func_ir", None), "loc", None)
                key = "%s:%s:%s:%s" % (type(self).__qualname__, getattr(f, "__module__", ""),
                                       getattr(f, "__qualname__", ""), getattr(loc, "line", ""))
                counts[key] = n = counts.get(key, -1) + 1
                digest = hashlib.blake2b(f"{key}:{n}".encode(), digest_size=16).digest()
                u = str(uuid.UUID(bytes=digest))
                self._set_uuid(u)
            return u

        memo._uuid = property(stable_uuid)
        self._undo.append(lambda: setattr(memo, "_uuid", orig_uuid))
        self.wrap(dispatcher._DispatcherBase, "__repr__", dispatcher_repr)

        def generator_init(orig, self, *a, **kw):
            # the name shows the Python function with its address; the key does not use it
            orig(self, *a, **kw)
            self.name = _FUNC_ADDR.sub(">", self.name)

        from numba.core import types
        self.wrap(types.Generator, "__init__", generator_init)
        self.wrap(dispatcher._DispatcherBase, "add_overload", add_overload)
        self.wrap(dispatcher._FunctionCompiler, "compile", function_compile)
        self.wrap(codegen.CPUCodeLibrary, "_finalize_final_module", finalize_final_module)
        self.wrap(dufunc.DUFunc, "_compile_for_argtys", compile_for_argtys)
        from . import gufunc_record
        gufunc_record.install_recording(self)
        from . import jitclass
        jitclass_hooks = jitclass.TraceHooks()
        jitclass_hooks.install()
        self._undo.append(jitclass_hooks.uninstall)


# --------------------------------------------------------------------------
# extraction
# --------------------------------------------------------------------------
@dataclass
class Specialization:
    """What the build needs to know about one compiled specialization."""
    kind: str
    owner: Any
    py_func: pytypes.FunctionType | None
    module: str
    qualname: str
    options: dict
    args: tuple
    return_type: Any
    library: Any
    environment: Any
    mangled: str
    wrapper: str | None        # CPython wrapper symbol (dispatchers)
    cfunc: str | None          # C wrapper symbol, for first-class function use
    env_name: str
    loop: str | None = None    # ufunc loop symbol (dufunc)
    parfors: bool = False
    internal: bool = False     # a Numba-internal helper only ever called from compiled code
    reason: str | None = None  # why it cannot be served (None = servable)
    extra: dict = field(default_factory=dict)

    @property
    def signature(self) -> str:
        return signature_text(self.args, self.return_type)


def specializations(records: list[Recorded]) -> list[Specialization]:
    """Every record extracted; one that cannot be (e.g. its dispatcher was freed) is kept
    as not servable, with the reason: one specialization never costs the whole build."""
    out = []
    for rec in records:
        if rec.spec is not None:
            out.append(rec.spec)
            continue
        try:
            out.append(specialization(rec))
        except Exception as e:  # noqa: BLE001
            py_func = getattr(rec.owner, "py_func", None)
            out.append(Specialization(
                kind=rec.kind, owner=None, py_func=None,
                module=getattr(py_func, "__module__", None) or "<unknown>",
                qualname=getattr(py_func, "__qualname__", None) or repr(type(rec.owner).__name__),
                options={}, args=(), return_type=None, library=None, environment=None, mangled="",
                wrapper=None, cfunc=None, env_name="",
                reason=f"cannot be extracted ({type(e).__name__}: {e})"))
    return out


def specialization(rec: Recorded) -> Specialization:
    from numba.core import dispatcher as nbdisp
    if rec.kind in ("gufunc", "ufunc"):          # @guvectorize / parallel @vectorize builders
        from . import gufunc_record
        return gufunc_record.specialization(rec)

    from . import jitclass
    cres, owner = rec.cres, rec.owner
    fndesc = cres.fndesc
    py_func = getattr(owner, "py_func", None)
    kind = rec.kind
    if isinstance(owner, nbdisp.ObjModeLiftedWith):
        kind = "objmode"          # a `with objmode` block: object-mode code, served on its own
    if py_func is None and rec.kind == "dufunc":
        py_func = owner._dispatcher.py_func
    if py_func is None and rec.kind == "cfunc":
        py_func = owner._pyfunc
    options = dict(getattr(owner, "targetoptions", {}) or {})
    if kind == "objmode":
        options = objmode_block(owner)
    module = getattr(py_func, "__module__", None) or fndesc.modname
    qualname = getattr(py_func, "__qualname__", None) or fndesc.qualname
    spec = Specialization(
        kind=kind, owner=owner, py_func=py_func, module=module, qualname=qualname,
        options=options, args=tuple(cres.signature.args), return_type=cres.signature.return_type,
        library=cres.library, environment=cres.environment, mangled=fndesc.mangled_name,
        wrapper=fndesc.llvm_cpython_wrapper_name, cfunc=fndesc.llvm_cfunc_wrapper_name,
        env_name=fndesc.env_name, parfors=bool(cres.reload_init),
    )
    spec.extra["fndesc"] = {"modname": fndesc.modname, "qualname": fndesc.qualname,
                            "uid": fndesc.uid, "abi_tags": tuple(fndesc.abi_tags),
                            "argnames": tuple(fndesc.args)}
    spec.extra["globals"] = rec.globals if rec.globals is not None else {}
    spec.extra["closure"] = rec.closure
    md = getattr(cres, "metadata", None) or {}
    spec.extra["explicit_return"] = bool(md.get("snap_explicit_return"))
    if md.get("snap_warnings"):
        spec.extra["warnings"] = md["snap_warnings"]
    spec.extra["compile_options"] = compile_options(owner, kind)
    part = jitclass.part_of(owner) if rec.kind == "dispatcher" else None
    if part is not None:
        spec.kind = "jitclass"
        spec.module, spec.qualname, spec.extra["options_suffix"] = jitclass.part_identity(owner, *part)
    if rec.kind == "cfunc":
        spec.wrapper = None
        spec.options = dict(owner._compiler.targetoptions)
    if rec.kind == "dufunc":
        spec.wrapper = None
        spec.loop = "__ufunc__." + fndesc.llvm_func_name
        spec.extra["identity"] = owner.identity
    spec.reason = _unservable_reason(rec, spec, nbdisp)
    return spec


def _unservable_reason(rec: Recorded, spec: Specialization, nbdisp) -> str | None:
    from numba.core import types
    cres, owner = rec.cres, rec.owner
    if spec.kind == "objmode":
        pass            # object-mode code, but a block the image serves (see install: lifted_compile)
    elif isinstance(owner, nbdisp.LiftedCode):
        return "lifted loop (object mode)"
    elif cres.objectmode:
        return "object mode"
    if cres.lifted and not all(isinstance(x, nbdisp.ObjModeLiftedWith) for x in cres.lifted):
        return "contains lifted loops (object mode)"
    mod = library_module(cres.library)
    defined = {f.name for f in mod.functions if not f.is_declaration}
    if rec.kind in ("dispatcher", "jitclass") and spec.wrapper not in defined:
        spec.internal = True
        return "internal helper (compiled into its callers, never called from Python)"
    if rec.kind == "cfunc" and spec.cfunc not in defined:
        return "cfunc wrapper not found in its library"
    if isinstance(spec.return_type, types.Generator):
        gendesc = cres.target_context.get_generator_desc(spec.return_type)
        names = {"next": gendesc.mangled_name, "next_wrapper": gendesc.llvm_cpython_wrapper_name}
        if spec.return_type.has_finalizer:
            names["finalizer"] = gendesc.llvm_finalizer_name
        missing = sorted(n for n in names.values() if n not in defined)
        if missing:
            return f"generator functions not found in its library: {', '.join(missing)}"
        # served: called from Python it returns a generator object running image code;
        # new JIT code iterating it gets the generator registered (install.register_generator)
        spec.extra["generator"] = {"roles": {"gen_" + k: v for k, v in names.items()},
                                   "qualname": gendesc.qualname, "unique_name": gendesc.unique_name}
    if cres.library.has_dynamic_globals:
        from . import addresses, jitclass
        slots = jitclass.box_slots(mod)
        if slots is not None:
            spec.extra["box_slots"] = slots   # only jitclass Box subclasses: filled at install
        else:
            named, problem = addresses.name_dynamic_globals(mod)
            if problem is not None:
                return f"code embeds process addresses (dynamic globals): {problem}"
            spec.extra["dynamic"] = named
    # jitclass parts made by Numba from templates (ctor, Box accessors) have exec'd
    # globals; nopython code reads only the environment's constants, which are kept.
    if cres.environment is not None and not cres.environment.can_cache() and spec.kind != "jitclass":
        return "environment of a dynamically created function"
    if spec.py_func is None:
        return "no Python function"
    pipeline = getattr(getattr(owner, "_compiler", None), "pipeline_class", None)
    if pipeline is not None and f"{pipeline.__module__}.{pipeline.__qualname__}" != "numba.core.compiler.Compiler":
        # its passes may leave results the image does not keep (e.g. preserved IR in metadata)
        return f"custom compiler pipeline ({pipeline.__module__}.{pipeline.__qualname__})"
    if type(owner).__module__.startswith("numba.experimental.jitclass"):
        return "jitclass method"
    return None


_FUNC_ADDR = re.compile(r" at 0x[0-9a-f]+>")
_DYNAMIC_INIT = re.compile(r'^(@"?numba\.dynamic\.globals\.[0-9a-f]+"? = .*?global ptr )inttoptr \(i64 -?\d+ to ptr\)',
                           re.MULTILINE)


def clear_dynamic_addresses(module):
    """``module`` with the training process's addresses in box slots replaced by null.

    They are filled at install time; left in, they would make images differ between builds.
    """
    if not any(g.name.startswith("numba.dynamic.globals.") for g in module.global_variables):
        return module
    import llvmlite.binding as ll
    text, n = _DYNAMIC_INIT.subn(r"\1null", str(module))
    return ll.parse_assembly(text) if n else module


def box_slot_role(typ) -> str:
    """Symbol role of a jitclass box slot (see jitclass.box_slots), stable across processes."""
    from . import jitclass
    return jitclass.slot_role(typ)


def class_trackers(py_func) -> dict[str, tuple[str, str]]:
    """Classes the function reaches through closure cells or globals that Numba pickled by
    value (cloudpickle: a class made inside a function, raised as an exception): their
    tracker id -> ("cell" | "global", name). Unpickling the same bytes in another process
    makes a new class unless the live one is registered under that id (install.track_classes):
    ``except LocalError`` would then miss what image code raises."""
    from numba.cloudpickle import cloudpickle as cp
    tracked = cp._DYNAMIC_CLASS_TRACKER_BY_CLASS
    out: dict[str, tuple[str, str]] = {}
    code = py_func.__code__
    for name, cell in zip(code.co_freevars, py_func.__closure__ or ()):
        try:
            v = cell.cell_contents
        except ValueError:
            continue
        if isinstance(v, type) and v in tracked:
            out[tracked[v]] = ("cell", name)
    for name in code.co_names:
        v = py_func.__globals__.get(name)
        if isinstance(v, type) and v in tracked:
            out[tracked[v]] = ("global", name)
    return out


def library_module(library) -> Any:
    """The LLVM module holding a library's code (handles cache-loaded libraries).

    Libraries loaded from Numba's disk cache have an empty ``_final_module``;
    their IR is in ``_shared_module`` with every definition ``linkonce_odr``.
    """
    jit_ir = getattr(library, "_snap_jit_ir", None)      # recorded before the JIT's backend ran
    if jit_ir is not None:
        return jit_ir
    mod = library._final_module
    if library._shared_module is not None and not any(not f.is_declaration for f in mod.functions):
        mod = library._shared_module
    return mod


def linked_libraries(library) -> list:
    """Every library whose code was linked into ``library`` (transitively).

    This is the callee graph as Numba saw it before inlining, so a callee that
    was inlined away still counts as a dependency of its callers.
    """
    seen: dict[int, Any] = {}
    stack = list(getattr(library, "_linking_libraries", ()))
    while stack:
        lib = stack.pop()
        if id(lib) not in seen:
            seen[id(lib)] = lib
            stack.extend(getattr(lib, "_linking_libraries", ()))
    return list(seen.values())


def referenced_envs(module) -> list[str]:
    return sorted(g.name for g in module.global_variables if g.name.startswith(ENV_PREFIX))


def env_consts(env) -> list:
    return list(env.consts) if env is not None else []


def lookup_environment(name: str):
    from numba.core.environment import lookup_environment as _lookup
    return _lookup(name)
