"""Installation (runtime side): serve image code from dispatchers without compiling."""
from __future__ import annotations

import ctypes
from typing import Any, Callable

import llvmlite.binding as ll

from . import GUFUNC_KINDS, UNRESOLVED_PREFIX, Patches, owner_py_func


def prepare_runtime(parfors: bool) -> None:
    """What the image's code needs from Numba's runtime, without compiling anything.

    ``rtsys.initialize`` would JIT-compile the NRT module: the image carries its
    own copy. The threading layer is started only for images with parfors.
    """
    if parfors:
        from numba.np.ufunc import parallel
        parallel._launch_threads()


def lighten_array_typeof() -> None:
    """Type ndarray arguments without importing ``numpy.ma`` (~50 ms at the first call).

    Numba's ``typeof`` for ndarrays starts with ``isinstance(val, np.ma.MaskedArray)``
    and NumPy imports ``numpy.ma`` lazily on that attribute access. No MaskedArray
    can exist before ``numpy.ma`` is imported, so until then the check is skipped;
    the rest is Numba's ``_typeof_ndarray`` (numba/core/typing/typeof.py) verbatim.
    """
    import sys

    import numpy as np
    from numba.core import errors, types
    from numba.core.typing import typeof as nb_typeof
    from numba.np import numpy_support
    original = nb_typeof.typeof_impl.dispatch(np.ndarray)

    def typeof_ndarray(val, c):
        if "numpy.ma" in sys.modules:
            return original(val, c)
        try:
            dtype = numpy_support.from_dtype(val.dtype)
        except errors.NumbaNotImplementedError:
            raise errors.NumbaValueError(f"Unsupported array dtype: {val.dtype}")
        layout = numpy_support.map_layout(val)
        readonly = not val.flags.writeable
        return types.Array(dtype, val.ndim, layout, readonly=readonly)

    nb_typeof.typeof_impl.register(np.ndarray)(typeof_ndarray)


_dlsym = ctypes.CDLL(None).dlsym
_dlsym.restype, _dlsym.argtypes = ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_char_p]


def make_resolver() -> Callable[[str], int | None]:
    """Name -> address for the image's imports, straight from Numba's helper tables.

    Registering the ~400 helpers into llvmlite's symbol table one call at a time
    (what a JIT process does) costs ~10 ms; the image needs a few dozen and can
    read them from the same tables. What is not there (libc, libm, the C API,
    the threading layer, the hash secret) is looked up in llvmlite's table, then
    by the loader with dlsym.
    """
    import builtins

    from numba import _dynfunc, _helperlib
    from numba.core.runtime import _nrt_python
    helpers, dynfunc, nrt = _helperlib.c_helpers, _dynfunc.c_helpers, _nrt_python.c_helpers

    def helper(name: str) -> int | None:
        # the names Numba registers: libm replacements plain, "numba_" + helper,
        # "NRT_" + runtime function (those starting with "_" as they are)
        if name.startswith("NRT_"):
            return nrt.get(name[4:]) if not name[4:].startswith("_") else None
        if name.startswith("numba_"):
            k = name[6:]
            addr = dynfunc.get(k)
            return addr if addr is not None else helpers.get(k)
        if name.startswith("_"):
            return nrt.get(name) if name != "_Py_NoneStruct" else id(None)
        return helpers.get(name)

    def resolve(name: str) -> int | None:
        addr = helper(name)        # direct lookups: no merged table of ~450 names per activation
        if addr is not None:
            return addr
        if name.startswith("PyExc_"):
            # Numba means the exception object itself, not libpython's pointer variable.
            obj = getattr(builtins, name[6:], None)
            if isinstance(obj, type) and issubclass(obj, BaseException):
                return id(obj)
        if name.startswith(("Py", "_Py")):
            # the C API: libpython's own symbols, which Numba never overrides in LLVM's table;
            # dlsym directly (llvmlite's lookup costs ~40 us a name on a cold start)
            addr = _dlsym(None, name.encode())      # RTLD_DEFAULT
            if addr:
                return addr
        if name.startswith("_numba_hashsecret_"):
            from numba.cpython import hashing  # noqa: F401  (registers the hash secret symbols)
        return ll.address_of_symbol(name) or None

    return resolve


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
        self._forwarders: list[tuple[str, Any]] = [(fndesc.mangled_name, None)]   # (name, LLVM fn type)
        cfunc = fndesc.llvm_cfunc_wrapper_name
        if cfunc in addresses:
            # new JIT code using the function as a first-class value links its C wrapper by name
            self._forwarders.append((cfunc, "cfunc"))

    def add_forwarder(self, name: str, fnty) -> None:
        """Also forward ``name`` (of LLVM type ``fnty``) to the image (e.g. a generator's next function)."""
        self._forwarders.append((name, fnty))

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
            mod = ir.Module(name=f"snap_forwarder_{fndesc.mangled_name}")
            for name, fnty in self._forwarders:
                if fnty is None:
                    fnty = self._targetctx.call_conv.get_function_type(fndesc.restype, fndesc.argtypes)
                elif fnty == "cfunc":        # the C ABI wrapper: native values in, native value out
                    ctx = self._targetctx
                    fnty = ir.FunctionType(ctx.get_value_type(fndesc.restype),
                                           [ctx.get_value_type(t) for t in fndesc.argtypes])
                target = self._prefix + name
                ll.add_symbol(target, self._addresses[name])
                decl = ir.Function(mod, fnty, target)
                fwd = ir.Function(mod, fnty, name)
                fwd.linkage = "linkonce_odr"
                b = ir.IRBuilder(fwd.append_basic_block())
                result = b.call(decl, fwd.args, tail=True)
                if isinstance(fnty.return_type, ir.VoidType):
                    b.ret_void()
                else:
                    b.ret(result)
            self._linking_module = ll.parse_assembly(str(mod))
        return self._linking_module

    def get_llvm_str(self) -> str:
        return f"; code of {self._fndesc.mangled_name} is in a snap image (no IR kept)"

    def get_asm_str(self) -> str:
        return self.get_llvm_str()

    def __repr__(self) -> str:
        return f"<ImageLibrary {self._name!r}>"


def make_fndesc(ident: dict, mangled: str, env_name: str, args: tuple, return_type, cls=None):
    """A FunctionDescriptor good for calling the image function from new JIT code.

    ``ident`` holds what Numba's mangler used (module, qualname, uid, ABI tags):
    recursive JIT calls recompute the callee's mangled name from it.
    """
    from numba.core import funcdesc
    cls = cls or funcdesc.PythonFunctionDescriptor
    fd = cls.__new__(cls)
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


def target_context(owner):
    """The target context a dispatcher, DUFunc's dispatcher or @cfunc compiles with."""
    if hasattr(owner, "func_ir"):          # lifted code (objmode blocks) has no targetdescr
        return owner.targetctx
    desc = getattr(owner, "targetdescr", None) or owner._targetdescr
    return desc.target_context


def target_options(owner) -> dict | None:
    """Target options of a dispatcher or DUFunc, or of a @cfunc's compiler."""
    opts = getattr(owner, "targetoptions", None)
    if opts is None and hasattr(owner, "_compiler"):
        opts = owner._compiler.targetoptions
    return opts


def make_compile_result(owner, *, fndesc, library, env, entry_point, args, return_type,
                        objectmode: bool = False):
    from numba.core import compiler, typing
    sig = typing.signature(return_type, *args)
    targetctx = target_context(owner)
    return compiler.compile_result(
        target_context=targetctx, typing_context=targetctx.typing_context,
        library=library, environment=env, entry_point=entry_point, fndesc=fndesc,
        type_annotation="(from snap image)", signature=sig, objectmode=objectmode, lifted=(),
        typing_error=None, call_helper=None, metadata={"snap": True},
        reload_init=[], referenced_envs=[])


def is_plain_dispatcher(owner) -> bool:
    """A dispatcher compiling its whole Python function (not a lifted loop or with-block,
    whose ``py_func`` is the enclosing function)."""
    from numba.core import dispatcher
    return isinstance(owner, dispatcher.Dispatcher) and not isinstance(owner, dispatcher.LiftedCode)


def has_overload(owner, args: tuple) -> bool:
    return get_overload(owner, args) is not None


def get_overload(owner, args: tuple):
    """The compile result ``owner`` already holds for exactly these argument types, or None."""
    overloads = owner_overloads(owner)
    cres = overloads.get(args) if hasattr(overloads, "get") else None
    if cres is None and hasattr(owner, "_dispatcher"):        # a DUFunc: keyed by signatures
        for sig, c in overloads.items():
            if tuple(getattr(sig, "args", sig)) == args:
                return c
    return cres


def compiled_dispatchers(skip: frozenset) -> list:
    """Dispatchers with JIT-compiled code bound to module globals (top-level packages in
    ``skip`` not searched): what a late activation finds already compiled. Cheap when
    nothing was compiled yet (no environment exists): the usual activation."""
    import sys
    env = sys.modules.get("numba.core.environment")
    disp = sys.modules.get("numba.core.dispatcher")
    if env is None or disp is None or not env.Environment._memo:
        return []
    found: dict[int, Any] = {}
    for name, mod in list(sys.modules.items()):
        if mod is None or name.partition(".")[0] in skip:
            continue
        for v in list(getattr(mod, "__dict__", {}).values()):
            if isinstance(v, disp.Dispatcher) and v.__dict__.get("overloads"):
                found[id(v)] = v
    return list(found.values())


def same_types(recorded: tuple, requested: tuple) -> bool:
    """Recorded (unpickled) argument types equal to the requested ones; an ``Omitted``
    default is equal by value (Numba keys it by the id of this process's object)."""
    from numba.core import types

    from . import type_key
    if len(recorded) != len(requested):
        return False
    return all(type_key(a) == type_key(b) if isinstance(a, types.Omitted) and isinstance(b, types.Omitted)
               else a == b for a, b in zip(recorded, requested))


def argument_types(disp, values: tuple) -> tuple:
    """The types ``Dispatcher._compile_for_args`` compiles for these argument values."""
    from numba.core import types
    from numba.core.dispatcher import OmittedArg
    return tuple(types.Omitted(a.value) if isinstance(a, OmittedArg) else disp.typeof_pyval(a)
                 for a in values)


def literal_types(values: tuple, args: tuple, positions: frozenset) -> tuple | None:
    """``args`` with the values at ``positions`` typed as literals (None if none can be)."""
    if not positions:
        return None
    from numba.core import errors, types
    out = list(args)
    for i in positions:
        try:
            out[i] = types.literal(values[i])
        except (errors.LiteralTypingError, TypeError, ValueError):
            pass
    return tuple(out) if out != list(args) else None


def track_classes(py_func, ids: dict) -> None:
    """Register this process's classes under the training run's cloudpickle tracker ids
    (record.class_trackers): image code raising them then raises these very classes."""
    from numba.cloudpickle import cloudpickle as cp
    cells = dict(zip(py_func.__code__.co_freevars, py_func.__closure__ or ()))
    for tid, (where, name) in ids.items():
        try:
            cls = cells[name].cell_contents if where == "cell" else py_func.__globals__[name]
        except (KeyError, ValueError):
            continue
        if isinstance(cls, type):
            cp._lookup_class_or_track(tid, cls)


def install_dispatcher_overload(disp, cres) -> None:
    """What Dispatcher.compile does on a cache hit, minus the cache."""
    disp.targetctx.insert_user_function(cres.entry_point, cres.fndesc, [cres.library])
    disp.add_overload(cres)


def install_cfunc(cfunc, cres, address: int, wrapper_name: str) -> None:
    """What CFunc.compile leaves behind, with the C wrapper taken from the image."""
    cfunc._library = cres.library
    cfunc._wrapper_name = wrapper_name
    cfunc._wrapper_address = address
    cfunc._snap_cres = cres            # keeps the image library (and its environment) alive


def register_generator(disp, library: ImageLibrary, fndesc, gen: dict, gentype) -> None:
    """Let new JIT code iterate (or box) a generator whose functions are in the image.

    Numba registers a generator's next function in the target context when it
    lowers the generator function; the image does the same with a descriptor of
    the image's next function, and forwarders for it, its CPython wrapper and finalizer.
    """
    from llvmlite import ir

    from numba.core import generators
    targetctx = disp.targetctx
    roles = gen["roles"]
    ident = {"modname": fndesc.modname, "qualname": gen["qualname"], "uid": fndesc.uid,
             "abi_tags": fndesc.abi_tags, "argnames": ("gen",)}
    gendesc = make_fndesc(ident, roles["gen_next"], fndesc.env_name, (gentype,), gentype.yield_type,
                          cls=generators.GeneratorDescriptor)
    gendesc.unique_name = gen["unique_name"]
    pyobj = ir.IntType(8).as_pointer()
    library.add_forwarder(roles["gen_next"], targetctx.call_conv.get_function_type(
        gendesc.restype, gendesc.argtypes))
    library.add_forwarder(roles["gen_next_wrapper"], ir.FunctionType(pyobj, [pyobj] * 3))
    if "gen_finalizer" in roles:
        library.add_forwarder(roles["gen_finalizer"], ir.FunctionType(ir.VoidType(), [pyobj]))
    targetctx.insert_generator(gentype, gendesc, libs=[library])


def install_dufunc_loop(dufunc, cres, loop_address: int) -> None:
    from numba.np.numpy_support import as_dtype
    sig = cres.signature
    dtypenums = [as_dtype(a).num for a in sig.args] + [as_dtype(sig.return_type).num]
    dufunc._add_loop(int(loop_address), dtypenums)
    dufunc._keepalive.append((loop_address, cres.library, cres.environment))
    dufunc._lower_me.libs.append(cres.library)
    dufunc._dispatcher.overloads[sig] = cres


class RuntimeHooks(Patches):
    """Calls back into the runtime when dispatchers are created and before they compile."""

    def __init__(self, on_create: Callable[[Any, str], None],
                 on_compile: Callable[[Any, tuple], Any],
                 serve_call: Callable[[Any, tuple], Any] | None = None) -> None:
        super().__init__()
        self.on_create = on_create      # an objmode block is compiled
        self.on_compile = on_compile    # a compile request: the image's compile result or None
        self.serve_call = serve_call    # a dispatcher's first call with new types (values)
        self.image_functions: dict[str, int] = {}   # original mangled name -> image address
        self.on_cfunc: Callable[[Any], bool] | None = None   # serve a @cfunc from the image
        # a builder's add(sig) (@guvectorize, parallel @vectorize): an image compile result or None
        self.on_builder_add: Callable[[Any, Any], Any] | None = None
        self._keepalive: list = []

    def install(self, kinds: "set[str] | frozenset[str] | None" = None) -> None:
        """Hook what serves the image's ``kinds`` of entries (None: everything, e.g. to
        report misses of every kind). Dispatchers are always hooked."""
        from numba.core import codegen, dispatcher
        from numba.np.ufunc import dufunc
        hooks = self

        def wanted(*ks: str) -> bool:
            return kinds is None or any(k in kinds for k in ks)

        def compile_(orig, self, sig):
            # the image's result for exactly this request (eager signatures, typing from
            # new JIT code, Numba's own _compile_for_args), else a miss and the JIT
            cres = hooks.on_compile(self, sig)
            return cres.entry_point if cres is not None else orig(self, sig)

        def compile_for_args(orig, self, *args, **kws):
            # First call with these argument types: served from the image without Numba's
            # compile path (its first use also scans every installed package's entry
            # points for Numba extensions: ~70 ms that no compilation needs).
            if not kws and hooks.serve_call is not None:
                cres = hooks.serve_call(self, args)
                if cres is not None:
                    return cres.entry_point
            return orig(self, *args, **kws)

        def dufunc_compile(orig, self, argtys, return_type=None):
            # a loop is added only when this DUFunc asks for it (as the JIT would): loops it
            # never compiled would change NumPy's loop selection
            cres = hooks.on_compile(self, tuple(argtys))
            return cres if cres is not None else orig(self, argtys, return_type)

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

        self.wrap(codegen.RuntimeLinker, "scan_unresolved_symbols", scan_unresolved)
        # Numba's on-disk cache must stay loadable by processes without the image.
        from .cache_guard import guard_saves
        guard_saves(self, self.image_functions)
        def lifted_compile(orig, self, sig):
            # A `with objmode` block's dispatcher is rebuilt (unpickled) by the code
            # that calls it, then compiled: serve it from the image when it has it.
            if not self.overloads and isinstance(self, dispatcher.ObjModeLiftedWith):
                hooks.on_create(self, "objmode")
            return orig(self, sig)

        if wanted("objmode"):
            self.wrap(dispatcher.LiftedWith, "compile", lifted_compile)
        self.wrap(dispatcher.Dispatcher, "compile", compile_)
        self.wrap(dispatcher._DispatcherBase, "_compile_for_args", compile_for_args)
        if wanted("dufunc"):
            self.wrap(dufunc.DUFunc, "_compile_for_argtys", dufunc_compile)

        def cfunc_compile(orig, self):
            if hooks.on_cfunc is not None and hooks.on_cfunc(self):
                return None
            hooks.on_compile(self, tuple(self._sig.args))   # not served: a miss
            return orig(self)

        def builder_add(orig, self, sig=None):
            cres = hooks.on_builder_add(self, sig) if sig is not None and hooks.on_builder_add else None
            if cres is None:
                return orig(self, sig)
            from .gufunc import add_served
            return add_served(self, sig, cres)

        def builder_build(orig, self, cres, *a):
            if "snap_loop" in (getattr(cres, "metadata", None) or {}):
                from .gufunc import build_served
                return build_served(self, cres)
            return orig(self, cres, *a)

        # gufunc builders compile through add and wrap through build, never reaching
        # the dispatcher hooks (see gufunc.py)
        if wanted(*GUFUNC_KINDS):
            from numba.np.ufunc import parallel, ufuncbuilder
            self.wrap(ufuncbuilder._BaseUFuncBuilder, "add", builder_add)
            for cls in (ufuncbuilder.UFuncBuilder, ufuncbuilder.GUFuncBuilder,
                        parallel.ParallelUFuncBuilder, parallel.ParallelGUFuncBuilder):
                self.wrap(cls, "build", builder_build)

        if wanted("cfunc"):
            self.when_imported("numba.core.ccallback",            # imported by the first @cfunc
                               lambda ccallback: self.wrap(ccallback.CFunc, "compile", cfunc_compile))


def owner_function(owner) -> tuple[str, str]:
    """(module, qualname) of what a dispatcher, DUFunc or cfunc compiles."""
    py_func = owner_py_func(owner)
    return (getattr(py_func, "__module__", None) or "<dynamic>",
            getattr(py_func, "__qualname__", None) or repr(owner))


def owner_overloads(owner) -> dict:
    """The compiled overloads of a dispatcher or DUFunc (a cfunc has none to reuse)."""
    if hasattr(owner, "overloads"):
        return owner.overloads
    if hasattr(owner, "_dispatcher"):
        return owner._dispatcher.overloads
    return {}


def normalize_args(sig) -> tuple:
    from numba.core import sigutils
    args, _ = sigutils.normalize_signature(sig)
    return tuple(args)


def is_nested_compile() -> bool:
    """True while Numba is already compiling something (a miss inside a miss)."""
    from numba.core.compiler_lock import global_compiler_lock
    return global_compiler_lock.is_locked()
