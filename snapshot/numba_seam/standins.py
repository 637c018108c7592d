"""Stand-ins: the Numba objects that hold image code where Numba would hold compiled code.

An environment, a function descriptor, a code library (``ImageLibrary``, which
new JIT code links against), an entry point and a compile result: each made
without compiling, from what the image recorded. The kinds' strategies
(kinds.py) put them into their owners.
"""
from __future__ import annotations

import ctypes
from _thread import get_ident
from typing import Any

import llvmlite.binding as ll

# ------------------------------------------------------------------ inspection (inspection.py)
# Kept here, not in inspection.py: the serving path imports this module, and importing
# another one (or threading) at activation costs more than everything below does at install.
_inspect_depth: dict[int, int] = {}      # thread id -> side compilations running in it


def inspecting() -> bool:
    """Is this thread running a side compilation for an inspection (inspection.py)?"""
    return _inspect_depth.get(get_ident(), 0) > 0


class LazyAnnotation:
    """``cres.type_annotation`` of a served entry: the side compilation's ``TypeAnnotation``
    (what ``inspect_types`` prints, ``get_annotation_info`` reads), made on first use."""

    __slots__ = ("_library",)

    def __init__(self, library) -> None:
        self._library = library

    def _real(self):
        return self._library.side_result().type_annotation

    def __str__(self) -> str:
        return str(self._real())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)

    def __repr__(self) -> str:
        return f"<type annotation of {self._library.name} (from snap image)>"


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


class LazyMetadata(dict):
    """``cres.metadata`` of a served entry: snap's own keys (``snap*``), and on the first read
    of any other key, or of the whole (``get_metadata``, ``parallel_diagnostics``), those of
    the side compilation (parfor diagnostics, prune stats...). Reading a ``snap`` key, or
    its truth (``len``), never compiles: snap reads them on its own paths."""

    __slots__ = ("_library",)

    def __init__(self, library, own: dict) -> None:
        super().__init__(own)
        self._library = library

    def _fill(self) -> None:
        lib = self._library
        if lib is not None and lib._owner is not None:    # (an entry of a kind not inspectable: as is)
            self._library = None
            for k, v in lib.side_result().metadata.items():
                self.setdefault(k, v)

    def __missing__(self, key):
        if isinstance(key, str) and key.startswith("snap"):
            raise KeyError(key)
        self._fill()
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        if key not in self and not (isinstance(key, str) and key.startswith("snap")):
            self._fill()
        return dict.get(self, key, default)

    def __iter__(self):
        self._fill()
        return dict.__iter__(self)

    def keys(self):
        self._fill()
        return dict.keys(self)

    def items(self):
        self._fill()
        return dict.items(self)

    def values(self):
        self._fill()
        return dict.values(self)

    def __repr__(self) -> str:
        self._fill()
        return dict.__repr__(self)


class ImageLibrary:
    """Stands in for a CodeLibrary whose code lives in the image.

    New JIT code that calls an image function links against this: it provides a
    forwarder definition of the original mangled name that calls the (prefixed)
    image symbol, whose address is registered with llvmlite's symbol table.
    First-class function use asks it for the ``cfunc.`` wrapper address.
    """
    has_dynamic_globals = False
    _finalized = True

    def __init__(self, name: str, addresses: dict[str, int], prefix: str, fndesc, targetctx,
                 entry: tuple[str, str, str] | None = None) -> None:
        self._name = name
        # (module, qualname, code fingerprint) of the entry: an image built on top of this
        # one (``snap create --base``) depends on it, as on any callee
        self._addresses = addresses          # original symbol name -> run-time address
        self._prefix = prefix
        self._fndesc = fndesc
        self._targetctx = targetctx
        self.entry = entry
        self._reload_init: set = set()
        self._linking_module = None
        # set when the entry is placed (inspection.py): what compiles it again if inspected
        self._owner = None
        self._return_type = None     # the explicit return type it was compiled for, or None
        self._settings = None        # the numba.config settings its compilation read
        self._side = None            # that side compile result, once made
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
        if self._owner is not None and self._side is not False and inspecting():
            # a side compilation links the callee's real code, as the JIT's caller did
            return self.side_result().library._get_module_for_linking()
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

    # ------------------------------------------------------------ inspection (inspection.py)
    def set_source(self, owner, return_type, settings: dict[str, str] | None) -> None:
        """What compiles this entry again when inspected: its dispatcher, the explicit return
        type it was compiled for (None: inferred) and the ``numba.config`` settings its
        compilation read (name -> value text, settings.py)."""
        self._owner = owner
        self._return_type = return_type
        self._settings = settings

    def side_result(self):
        """The compile result of this entry compiled again, as the JIT would (made on the first
        inspection, then kept): what inspection answers from. Never executed."""
        side = self._side
        if side is None or side is False:
            from .inspection import can_inspect, side_compile
            if self._owner is None or not can_inspect(self._owner):
                raise NotImplementedError(f"snap: {self._name} was served from an image and its kind of "
                                          "entry cannot be compiled again for inspection")
            if side is False:       # a recursive entry asking for itself while it compiles
                raise RecursionError(f"snap: {self._name} is being compiled for inspection")
            self._side = False
            try:
                side = self._side = side_compile(self._owner, self._fndesc, self._return_type,
                                                 self._settings)
            finally:
                if self._side is False:
                    self._side = None
        return side

    def get_llvm_str(self) -> str:
        return self.side_result().library.get_llvm_str()

    def get_asm_str(self) -> str:
        return self.side_result().library.get_asm_str()

    def get_function_cfg(self, name: str, py_func=None, **kwargs):
        return self.side_result().library.get_function_cfg(name, py_func=py_func, **kwargs)

    def get_disasm_cfg(self, mangled_name: str):
        return self.side_result().library.get_disasm_cfg(mangled_name)

    def get_function(self, name: str):
        return self.side_result().library.get_function(name)

    def get_defined_functions(self):
        return self.side_result().library.get_defined_functions()

    @property
    def _final_module(self):
        """The side library's final module (Numba's own tests read it). Only inspection reads
        a linked library's module: Numba links ``_get_module_for_linking()``."""
        return self.side_result().library._final_module

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


def make_compile_result(targetctx, *, fndesc, library, env, entry_point, args, return_type,
                        objectmode: bool = False):
    from numba.core import compiler, typing
    sig = typing.signature(return_type, *args)
    return compiler.compile_result(
        target_context=targetctx, typing_context=targetctx.typing_context,
        library=library, environment=env, entry_point=entry_point, fndesc=fndesc,
        type_annotation=LazyAnnotation(library) if isinstance(library, ImageLibrary) else "(from snap image)",
        signature=sig, objectmode=objectmode, lifted=(),
        typing_error=None, call_helper=None,
        metadata=LazyMetadata(library, {"snap": True}) if isinstance(library, ImageLibrary) else {"snap": True},
        reload_init=[], referenced_envs=[])


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
