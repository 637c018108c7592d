"""The ONE place that touches Numba internals (supported: numba 0.68.x).

Everything else in snapshot/ works on the plain records defined here, so a Numba
upgrade is a change to this module (and its tests), not a hunt through the code.
Three groups of functions:

* recording (trace side): hooks that see every specialization and code library;
* extraction (build side): turn a live compile result into a `Specialization`;
* installation (runtime side): hooks on dispatcher creation, and the pieces
  needed to put an image function into a dispatcher without compiling.
"""
from __future__ import annotations

import ctypes
import functools
import types as pytypes
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import llvmlite.binding as ll

SUPPORTED_NUMBA = ("0.68",)

ENV_PREFIX = "_ZN08NumbaEnv"
UNRESOLVED_PREFIX = ".numba.unresolved$"


# --------------------------------------------------------------------------
# compiler entry points (tests make these raise to prove zero compilation)
# --------------------------------------------------------------------------
def compiler_entry_points() -> list[tuple[Any, str]]:
    """(owner, attribute) of every way Numba can start compiling native code."""
    from numba.core import codegen, compiler, dispatcher
    from numba.np.ufunc import ufuncbuilder
    return [
        (compiler, "compile_extra"),
        (compiler, "compile_ir"),
        (dispatcher._FunctionCompiler, "_compile_core"),
        (ufuncbuilder.UFuncDispatcher, "_compile_core"),
        (codegen.CPUCodeLibrary, "finalize"),
    ]


def numba_config() -> dict[str, Any]:
    """The Numba settings that change generated code (part of the image fingerprint)."""
    from numba.core import config
    names = ("OPT", "LOOP_VECTORIZE", "SLP_VECTORIZE", "ENABLE_AVX", "CPU_NAME", "CPU_FEATURES",
             "BOUNDSCHECK", "FASTMATH", "DEBUGINFO_DEFAULT", "NRT_STATS", "DISABLE_JIT",
             "LLVM_REFPRUNE_PASS", "USE_LLVMLITE_MEMORY_MANAGER", "THREADING_LAYER")
    return {n: str(getattr(config, n, None)) for n in names}


# --------------------------------------------------------------------------
# recording
# --------------------------------------------------------------------------
@dataclass
class Recorded:
    """A compile result as it was produced, plus whose it is."""
    owner: Any            # the Dispatcher / DUFunc / LiftedCode that compiled it
    cres: Any
    kind: str             # "dispatcher" | "dufunc"


class Recorder:
    """Wraps Numba's add_overload and library finalization while a workload runs."""

    def __init__(self) -> None:
        self.records: list[Recorded] = []
        self.libraries: list[Any] = []
        self._undo: list[Callable[[], None]] = []

    def install(self) -> None:
        from numba.core import codegen, dispatcher
        from numba.np.ufunc import dufunc

        rec = self

        def add_overload(orig, self, cres):
            rec.records.append(Recorded(self, cres, "dispatcher"))
            return orig(self, cres)

        def finalize_final_module(orig, self):
            rec.libraries.append(self)
            return orig(self)

        def compile_for_argtys(orig, self, argtys, return_type=None):
            cres = orig(self, argtys, return_type)
            if cres is not None and (not rec.records or rec.records[-1].cres is not cres):
                rec.records.append(Recorded(self, cres, "dufunc"))
            return cres

        # Reproducible builds: Numba puts object addresses into symbol names and
        # type names (array-expression kernels, dispatcher-typed arguments). In
        # the training process they become first-seen counters instead.
        seen: dict[int, int] = {}
        keep: list = []

        def stable_hex(value: int) -> str:
            return "0x%x" % seen.setdefault(value, len(seen))

        def dispatcher_repr(orig, self):
            keep.append(self)
            return "%s(<function %s #%d>)" % (type(self).__name__, self.py_func.__qualname__,
                                             seen.setdefault(id(self), len(seen)))

        from numba.np.ufunc import array_exprs
        array_exprs.hex = stable_hex
        self._undo.append(lambda: delattr(array_exprs, "hex"))
        self._wrap(dispatcher._DispatcherBase, "__repr__", dispatcher_repr)
        self._wrap(dispatcher._DispatcherBase, "add_overload", add_overload)
        self._wrap(codegen.CPUCodeLibrary, "_finalize_final_module", finalize_final_module)
        self._wrap(dufunc.DUFunc, "_compile_for_argtys", compile_for_argtys)

    def _wrap(self, owner: Any, name: str, hook: Callable) -> None:
        orig = owner.__dict__[name]

        @functools.wraps(orig)
        def wrapper(*args, **kw):
            return hook(orig, *args, **kw)

        setattr(owner, name, wrapper)
        self._undo.append(lambda: setattr(owner, name, orig))

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()


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
        return "(%s) -> %s" % (", ".join(map(type_str, self.args)), type_str(self.return_type))


def type_str(t) -> str:
    """Readable and stable text of a Numba type (no object addresses)."""
    from numba.core import types
    if isinstance(t, types.Dispatcher):
        f = t.dispatcher.py_func
        return f"dispatcher({f.__module__}.{f.__qualname__})"
    return str(t)


def specialization(rec: Recorded) -> Specialization:
    from numba.core import dispatcher as nbdisp
    cres, owner = rec.cres, rec.owner
    fndesc = cres.fndesc
    py_func = getattr(owner, "py_func", None)
    if py_func is None and rec.kind == "dufunc":
        py_func = owner._dispatcher.py_func
    options = dict(getattr(owner, "targetoptions", {}) or {})
    module = getattr(py_func, "__module__", None) or fndesc.modname
    qualname = getattr(py_func, "__qualname__", None) or fndesc.qualname
    spec = Specialization(
        kind=rec.kind, owner=owner, py_func=py_func, module=module, qualname=qualname,
        options=options, args=tuple(cres.signature.args), return_type=cres.signature.return_type,
        library=cres.library, environment=cres.environment, mangled=fndesc.mangled_name,
        wrapper=fndesc.llvm_cpython_wrapper_name, cfunc=fndesc.llvm_cfunc_wrapper_name,
        env_name=fndesc.env_name, parfors=bool(cres.reload_init),
    )
    spec.extra["fndesc"] = {"modname": fndesc.modname, "qualname": fndesc.qualname,
                            "uid": fndesc.uid, "abi_tags": tuple(fndesc.abi_tags),
                            "argnames": tuple(fndesc.args)}
    if rec.kind == "dufunc":
        spec.wrapper = None
        spec.loop = "__ufunc__." + fndesc.llvm_func_name
        spec.extra["identity"] = owner.identity
    spec.reason = _unservable_reason(rec, spec, nbdisp)
    return spec


def _unservable_reason(rec: Recorded, spec: Specialization, nbdisp) -> str | None:
    cres, owner = rec.cres, rec.owner
    if isinstance(owner, nbdisp.LiftedCode):
        return "lifted loop or with-block (object mode)"
    if cres.objectmode:
        return "object mode"
    if cres.lifted:
        return "contains lifted code (object mode loops or objmode blocks)"
    mod = library_module(cres.library)
    defined = {f.name for f in mod.functions if not f.is_declaration}
    if rec.kind == "dispatcher" and spec.wrapper not in defined:
        spec.internal = True
        return "internal helper (compiled into its callers, never called from Python)"
    if cres.library.has_dynamic_globals:
        return "code embeds process addresses (dynamic globals)"
    if cres.environment is not None and not cres.environment.can_cache():
        return "environment of a dynamically created function"
    if spec.py_func is None:
        return "no Python function"
    if type(owner).__module__.startswith("numba.experimental.jitclass"):
        return "jitclass method"
    return None


def library_module(library) -> Any:
    """The LLVM module holding a library's code (handles cache-loaded libraries).

    Libraries loaded from Numba's disk cache have an empty ``_final_module``;
    their IR is in ``_shared_module`` with every definition ``linkonce_odr``.
    """
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


# --------------------------------------------------------------------------
# installation (runtime)
# --------------------------------------------------------------------------
def register_runtime_symbols(parfors: bool) -> None:
    """Make every helper the image imports resolvable by name, without compiling.

    Mirrors what ``rtsys.initialize`` (minus compiling the NRT module, which the
    image carries itself), ``_load_global_helpers`` and the threading layer do.
    """
    from numba.core import base  # noqa: F401  (registers PyExc_*, numba_* on import of a context)
    from numba.core.runtime import _nrt_python as _nrt
    base._load_global_helpers()
    for py_name, addr in _nrt.c_helpers.items():
        ll.add_symbol(py_name if py_name.startswith("_") else "NRT_" + py_name, addr)
    from numba import _helperlib
    from numba.core import intrinsics
    for fname in intrinsics.INTR_MATH:
        ll.add_symbol(fname, _helperlib.c_helpers[fname])
    if parfors:
        from numba.np.ufunc import parallel
        parallel._launch_threads()


_hashsecret_keepalive: list = []


def resolve_symbol(name: str) -> int | None:
    """Address of an image import: llvmlite's symbol table, then a few lazily made ones."""
    addr = ll.address_of_symbol(name)
    if addr:
        return addr
    if name.startswith("_numba_hashsecret_"):
        from numba.cpython import hashing  # noqa: F401  (injects the hash secret symbols)
        return ll.address_of_symbol(name) or None
    return None


def typecodes(args: Iterable) -> list[int]:
    return [a._code for a in args]


def make_environment(module_name: str, consts: list, env_name: str):
    """An Environment like Numba's own rebuild, but without importing modules.

    Importing here could start arbitrary imports during activation (e.g. numba.np
    internals pull in scipy); a module not yet imported gets a minimal globals
    dict, which only object-mode code (never served) would read.
    """
    import sys
    from numba.core.environment import Environment
    existing = Environment._memo.get(env_name)
    if existing is not None:
        return existing
    mod = sys.modules.get(module_name)
    env = Environment(mod.__dict__ if mod is not None else {"__name__": module_name})
    env.consts[:] = consts
    env.env_name = env_name
    Environment._memo[env_name] = env
    return env


def set_env_slot(address: int, env) -> None:
    ctypes.c_void_p.from_address(address).value = id(env)


def make_entry_point(module_name: str, qualname: str, address: int, env, keepalive: tuple):
    """The Python-callable object Numba stores as ``cres.entry_point``."""
    import sys
    from numba import _dynfunc
    from numba.core.utils import _dynamic_module
    mod = sys.modules.get(module_name, _dynamic_module)
    return _dynfunc.make_function(mod, qualname.split(".")[-1],
                                  "compiled wrapper for %r (from snap image)" % qualname,
                                  address, env, keepalive)


class ImageLibrary:
    """Stands in for a CodeLibrary whose code lives in the image.

    New JIT code that calls an image function links against this: it provides a
    forwarder definition of the original mangled name that calls the (prefixed)
    image symbol, whose address is registered with llvmlite's symbol table.
    First-class function use asks it for the ``cfunc.`` wrapper address.
    """
    has_dynamic_globals = False
    _finalized = True

    def __init__(self, name: str, addresses: dict[str, int], prefix: str, fndesc, targetctx) -> None:
        self._name = name
        self._addresses = addresses          # original symbol name -> run-time address
        self._prefix = prefix
        self._fndesc = fndesc
        self._targetctx = targetctx
        self._reload_init: set = set()
        self._linking_module = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def codegen(self):
        return self._targetctx.codegen()

    def _ensure_finalized(self) -> None:
        pass

    def finalize(self) -> None:
        pass

    def get_pointer_to_function(self, name: str) -> int:
        return self._addresses.get(name, 0)

    def _get_module_for_linking(self):
        if self._linking_module is None:
            from llvmlite import ir
            fndesc = self._fndesc
            fnty = self._targetctx.call_conv.get_function_type(fndesc.restype, fndesc.argtypes)
            target = self._prefix + fndesc.mangled_name
            ll.add_symbol(target, self._addresses[fndesc.mangled_name])
            mod = ir.Module(name=f"snap_forwarder_{fndesc.mangled_name}")
            decl = ir.Function(mod, fnty, target)
            fwd = ir.Function(mod, fnty, fndesc.mangled_name)
            fwd.linkage = "linkonce_odr"
            b = ir.IRBuilder(fwd.append_basic_block())
            b.ret(b.call(decl, fwd.args, tail=True))
            self._linking_module = ll.parse_assembly(str(mod))
        return self._linking_module

    def get_llvm_str(self) -> str:
        return f"; code of {self._fndesc.mangled_name} is in a snap image (no IR kept)"

    def get_asm_str(self) -> str:
        return self.get_llvm_str()

    def __repr__(self) -> str:
        return f"<ImageLibrary {self._name!r}>"


def make_fndesc(ident: dict, mangled: str, env_name: str, args: tuple, return_type):
    """A FunctionDescriptor good for calling the image function from new JIT code.

    ``ident`` holds what Numba's mangler used (module, qualname, uid, ABI tags):
    recursive JIT calls recompute the callee's mangled name from it.
    """
    from numba.core import funcdesc
    fd = funcdesc.PythonFunctionDescriptor.__new__(funcdesc.PythonFunctionDescriptor)
    fd.native = True
    fd.modname = ident["modname"]
    fd.qualname = ident["qualname"]
    fd.unique_name = mangled
    fd.doc = ""
    fd.typemap = None
    fd.calltypes = None
    fd.args = ident["argnames"]
    fd.kws = ()
    fd.restype = return_type
    fd.argtypes = tuple(args)
    fd.mangled_name = mangled
    fd.env_name = env_name
    fd.global_dict = None
    fd.inline = False
    fd.noalias = False
    fd.abi_tags = ident["abi_tags"]
    fd.uid = ident["uid"]
    return fd


def make_compile_result(owner, *, fndesc, library, env, entry_point, args, return_type, parfors):
    from numba.core import compiler, typing
    from numba.core.typing.templates import Signature  # noqa: F401
    sig = typing.signature(return_type, *args)
    targetctx = owner.targetdescr.target_context
    return compiler.compile_result(
        target_context=targetctx, typing_context=targetctx.typing_context,
        library=library, environment=env, entry_point=entry_point, fndesc=fndesc,
        type_annotation="(from snap image)", signature=sig, objectmode=False, lifted=(),
        typing_error=None, call_helper=None, metadata={"snap": True},
        reload_init=[], referenced_envs=[])


def install_dispatcher_overload(disp, cres) -> None:
    """What Dispatcher.compile does on a cache hit, minus the cache."""
    disp.targetctx.insert_user_function(cres.entry_point, cres.fndesc, [cres.library])
    disp.add_overload(cres)


def install_dufunc_loop(dufunc, cres, loop_address: int) -> None:
    from numba.np.numpy_support import as_dtype
    sig = cres.signature
    dtypenums = [as_dtype(a).num for a in sig.args] + [as_dtype(sig.return_type).num]
    dufunc._add_loop(int(loop_address), dtypenums)
    dufunc._keepalive.append((loop_address, cres.library, cres.environment))
    dufunc._lower_me.libs.append(cres.library)
    dufunc._dispatcher.overloads[sig] = cres


class RuntimeHooks:
    """Calls back into the runtime when dispatchers are created and before they compile."""

    def __init__(self, on_create: Callable[[Any, str], None],
                 on_compile: Callable[[Any, tuple], None]) -> None:
        self.on_create = on_create
        self.on_compile = on_compile
        self.image_functions: dict[str, int] = {}   # original mangled name -> image address
        self._keepalive: list = []
        self._undo: list[Callable[[], None]] = []

    def install(self) -> None:
        from numba.core import codegen, dispatcher
        from numba.np.ufunc import dufunc
        hooks = self

        def init(orig, self, *a, **kw):
            orig(self, *a, **kw)
            hooks.on_create(self, "dispatcher")

        def compile_(orig, self, sig):
            hooks.on_compile(self, sig)
            return orig(self, sig)

        def dufunc_init(orig, self, *a, **kw):
            orig(self, *a, **kw)
            hooks.on_create(self, "dufunc")

        def dufunc_compile(orig, self, argtys, return_type=None):
            hooks.on_compile(self, argtys)
            return orig(self, argtys, return_type)

        def scan_unresolved(orig, self, module, engine):
            # A JIT function recursing into a specialization served by the image:
            # Numba leaves a pointer placeholder that it only fills from JIT-defined
            # symbols; point it at the image code instead of the abort stub.
            for gv in module.global_variables:
                if gv.name.startswith(UNRESOLVED_PREFIX) and not engine.is_symbol_defined(gv.name):
                    addr = hooks.image_functions.get(gv.name[len(UNRESOLVED_PREFIX):])
                    if addr:
                        cell = ctypes.c_void_p(addr)
                        hooks._keepalive.append(cell)
                        engine.add_global_mapping(gv, ctypes.addressof(cell))
            return orig(self, module, engine)

        self._wrap(codegen.RuntimeLinker, "scan_unresolved_symbols", scan_unresolved)
        self._wrap(dispatcher.Dispatcher, "__init__", init)
        self._wrap(dispatcher.Dispatcher, "compile", compile_)
        self._wrap(dufunc.DUFunc, "_initialize", dufunc_init)
        self._wrap(dufunc.DUFunc, "_compile_for_argtys", dufunc_compile)

    def _wrap(self, owner, name, hook) -> None:
        orig = owner.__dict__[name]

        @functools.wraps(orig)
        def wrapper(*args, **kw):
            return hook(orig, *args, **kw)

        setattr(owner, name, wrapper)
        self._undo.append(lambda: setattr(owner, name, orig))

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()


def normalize_args(sig) -> tuple:
    from numba.core import sigutils
    args, _ = sigutils.normalize_signature(sig)
    return tuple(args)


def is_nested_compile() -> bool:
    """True while Numba is already compiling something (a miss inside a miss)."""
    from numba.core.compiler_lock import global_compiler_lock
    return global_compiler_lock.is_locked()
