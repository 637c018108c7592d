"""One strategy per kind of image entry: what it is at build time and how it is served.

In the spirit of the ``_CacheImpl`` subclasses of Numba's ``core/caching.py``:
one small class per kind of owner (a dispatcher, a DUFunc, a @cfunc, an objmode
block, a jitclass part, a gufunc builder), one registry (``KINDS``), and the
driver code (``create.build``, ``runtime``) free of per-kind branches. Each
strategy answers:

* ``identity(owner)`` -- the (module, qualname) its entries are stored under and
  the text of its compile options. The recorder calls it in the training run and
  the runtime when the owner asks for a signature: build key == run key by
  construction (``image.identity``);
* ``extract(rec)`` -- the ``Specialization`` the build needs from a compile
  result, with the reason it cannot be served (or None);
* ``roles(spec, defined)`` -- the symbols of the entry the image exports;
* ``target_context(owner)`` and ``place(owner, code, e, image)`` -- at run
  time, put the image's code where Numba would have put what it compiled, and
  return the compile result Numba's caller expects.

When the runtime asks is the hook's business (``install.RuntimeHooks``): per
signature (Numba's compile requests), once when the owner is compiled (objmode
blocks, @cfunc), or per builder ``add`` (gufunc kernels).
"""
from __future__ import annotations

import re
import types as pytypes
import warnings
import weakref
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from ..image import kinds as K
from ..image.fingerprint import canonical_options, code_fingerprint
from . import jitclass

if TYPE_CHECKING:     # build side only: the runtime imports this module, not the records (~1.3 ms)
    from .specialization import Recorded, Specialization


class ImageCode(NamedTuple):
    """An entry's code as the runtime mapped it, ready to be wrapped into what its owner keeps."""
    data: Any            # the entry's unpickled payload (types, constants)
    env: Any             # its Numba Environment
    fndesc: Any
    library: Any         # standins.ImageLibrary


class MappedImage(NamedTuple):
    """What placing an entry needs of the mapped image."""
    address: Callable[[str], int]      # image symbol -> its address in this process
    prefix: str                        # of every image symbol (the image-unique prefix)
    keepalive: Any                     # kept by entry points: the mapping must outlive them


class Kind:
    """A kind of entry (see module doc). Subclasses set ``name``."""
    name: str = ""
    # its owner compiles exactly the entry's function with its _FunctionCompiler, which can
    # compile it again for an inspection (inspection.py); a lifted block's dispatcher
    # compiles its enclosing function's IR, a DUFunc or builder a kernel
    inspectable = False

    # ------------------------------------------------------------ identity (both sides)
    def py_func(self, owner) -> pytypes.FunctionType | None:
        return getattr(owner, "py_func", None)

    def identity(self, owner) -> tuple[str, str, str]:
        """(module, qualname, compile options text) of what ``owner`` compiles."""
        f = self.py_func(owner)
        # a function exec'd in globals without __name__ has no module: Numba's name for it
        return f.__module__ or "<dynamic>", f.__qualname__, self.options(owner)

    def options(self, owner) -> str:
        """Every compile input of ``owner`` besides the function and the signature, as text:
        target options, ``locals=``, a custom pipeline class (two owners of one function
        that differ in any of them compile different code)."""
        return _dispatcher_options(owner, getattr(owner, "targetoptions", None))

    # ------------------------------------------------------------ build
    def extract(self, rec: Recorded) -> Specialization:
        spec = _base_spec(self.name, rec, self.py_func(rec.owner))
        if spec.py_func is None:
            spec.reason = "no Python function"
            return spec
        module, qualname, spec.extra["compile_options"] = self.identity(rec.owner)
        # a function exec'd without __name__ has no __module__: named after its descriptor
        spec.module, spec.qualname = module or spec.module, qualname or spec.qualname
        self.complete(spec, rec)
        spec.reason = self.unservable(rec, spec)
        return spec

    def complete(self, spec: Specialization, rec: Recorded) -> None:
        """Kind-specific fields of a specialization (symbols, identity facts)."""

    def unservable(self, rec: Recorded, spec: Specialization) -> str | None:
        return _unservable_reason(rec, spec)

    def roles(self, spec: Specialization, defined: set[str]) -> dict[str, str]:
        """Symbol role -> name the image exports for an entry (besides function and env)."""
        roles = {"wrapper": spec.wrapper}
        if spec.cfunc in defined:          # first-class function use links the C wrapper
            roles["cfunc"] = spec.cfunc
        return roles

    # ------------------------------------------------------------ run
    def target_context(self, owner):
        return owner.targetdescr.target_context

    def compile_result(self, owner, code: ImageCode, entry_point: Any = None) -> Any:
        """The compile result Numba's caller expects, standing in for the image's code."""
        from . import standins
        data, env, fndesc, library = code
        # (the type annotation of a served dispatcher's entry is the side compilation's, made
        # when something reads it: standins.LazyAnnotation)
        objectmode = self.name == K.OBJMODE or bool((getattr(data, "extra", None) or {}).get("objectmode"))
        return standins.make_compile_result(self.target_context(owner), fndesc=fndesc, library=library,
                                            env=env, entry_point=entry_point, args=data.args,
                                            return_type=data.return_type, objectmode=objectmode)

    def place(self, owner, code: ImageCode, e, image: MappedImage) -> Any:
        """Install the entry's code into ``owner``; its compile result."""
        from . import standins
        data, env, fndesc, library = code
        entry_point = standins.make_entry_point(e.module, e.qualname, image.address(e.symbols["wrapper"]),
                                                env, (library, image.keepalive))
        extra = getattr(data, "extra", None) or {}
        if extra.get("objectmode"):
            py_func = self.py_func(owner)
            if env.globals is not py_func.__globals__:
                # object-mode code reads its globals through its environment when it runs
                from ..errors import Unservable
                raise Unservable("object mode: the environment's globals would not be the "
                                 "function's own (exec'd with another module's __name__)")
            if extra.get("live_cells"):
                _bind_live_cells(env, py_func, extra["live_cells"])
        cres = self.compile_result(owner, code, entry_point)
        owner.targetctx.insert_user_function(cres.entry_point, cres.fndesc, [cres.library])
        owner.add_overload(cres)          # what Dispatcher.compile does on a cache hit, minus the cache
        if "generator" in extra:          # its functions by their names in the image (stable names)
            gen = {**extra["generator"], "roles": {r: e.symbols[r][len(image.prefix):]
                                                   for r in extra["generator"]["roles"]}}
            standins.register_generator(owner, library, fndesc, gen, data.return_type)
        return cres


def _bind_live_cells(env, py_func, live: dict[int, str]) -> None:
    """Put the closure's own objects into an object-mode entry's environment, where the JIT's
    code holds them (the payload has copies: a list the code appends to must be the caller's).
    One code has one environment: a second closure of the same code and equal cell values but
    other objects is left to the JIT, which compiles it with its own environment."""
    from ..errors import Unservable
    cells = {}
    for name, cell in zip(py_func.__code__.co_freevars, py_func.__closure__ or ()):
        try:
            cells[name] = cell.cell_contents
        except ValueError:
            raise Unservable(f"object mode: closure cell {name!r} is empty") from None
    bound = _LIVE_CELLS.get(env)
    now = {int(i): cells[name] for i, name in live.items()}
    if bound is not None:
        if any(bound[i] is not now[i] for i in now):
            raise Unservable("object mode: its environment holds another closure's objects "
                             "(one code, one environment; this closure compiles its own)")
        return
    for i, v in now.items():
        env.consts[i] = v
    _LIVE_CELLS[env] = now


# the closure objects each object-mode environment was given (Environment has __slots__)
_LIVE_CELLS: "weakref.WeakKeyDictionary[Any, dict[int, Any]]" = weakref.WeakKeyDictionary()


class DispatcherKind(Kind):
    """@jit / @njit: a dispatcher compiling its whole Python function."""
    name = K.DISPATCHER
    inspectable = True


class JitclassKind(Kind):
    """A jitclass method, property accessor, constructor or Box accessor: a dispatcher
    named after its class (``jitclass.part_identity``: the class spec and the part)."""
    name = K.JITCLASS
    inspectable = True

    def identity(self, owner) -> tuple[str, str, str]:
        module, qualname, suffix = owner.__dict__[jitclass.PART_IDENTITY]
        return module, qualname, self.options(owner) + suffix


class ObjmodeKind(Kind):
    """A ``with objmode`` block's lifted dispatcher: object-mode code, compiled once."""
    name = K.OBJMODE

    def options(self, owner) -> str:
        # the block is told apart from the other blocks of its function by its first line,
        # relative to the function's (moving the function elsewhere does not matter)
        return canonical_options(
            {"objmode_block": owner.func_ir.loc.line - owner.py_func.__code__.co_firstlineno})

    def target_context(self, owner):
        return owner.targetctx             # lifted code has no targetdescr


class _LoopKind(Kind):
    """A kernel served as a ufunc loop: the image exports the loop, not a CPython wrapper."""

    def roles(self, spec: Specialization, defined: set[str]) -> dict[str, str]:
        return {"loop": spec.loop}


class DUFuncKind(_LoopKind):
    """@vectorize without a fixed signature list: one ufunc loop per signature."""
    name = K.DUFUNC

    def py_func(self, owner):
        return owner._dispatcher.py_func

    def options(self, owner) -> str:
        return (_dispatcher_options(owner._dispatcher, owner.targetoptions)
                + ";identity=" + repr(owner.identity))

    def complete(self, spec: Specialization, rec: Recorded) -> None:
        spec.wrapper = None
        spec.loop = "__ufunc__." + rec.cres.fndesc.llvm_func_name
        spec.extra["identity"] = rec.owner.identity

    def target_context(self, owner):
        return owner._dispatcher.targetdescr.target_context

    def place(self, owner, code: ImageCode, e, image: MappedImage) -> Any:
        from numba.np.numpy_support import as_dtype

        cres = self.compile_result(owner, code)
        loop = image.address(e.symbols["loop"])
        sig = cres.signature
        owner._add_loop(int(loop), [as_dtype(a).num for a in sig.args] + [as_dtype(sig.return_type).num])
        owner._keepalive.append((loop, cres.library, cres.environment))
        owner._lower_me.libs.append(cres.library)
        owner._dispatcher.overloads[sig] = cres
        return cres


class CFuncKind(Kind):
    """@cfunc: compiled once, at its declaration; the image gives its C callback."""
    name = K.CFUNC

    def py_func(self, owner):
        return owner._pyfunc

    def options(self, owner) -> str:
        return _dispatcher_options(owner, owner._compiler.targetoptions)

    def declared_args(self, owner) -> tuple:
        """The argument types of the signature it was declared with."""
        return tuple(owner._sig.args)

    def complete(self, spec: Specialization, rec: Recorded) -> None:
        spec.wrapper = None
        spec.options = dict(rec.owner._compiler.targetoptions)

    def unservable(self, rec: Recorded, spec: Specialization) -> str | None:
        from .library import library_module
        defined = {f.name for f in library_module(rec.cres.library).functions if not f.is_declaration}
        if spec.cfunc not in defined:
            return "cfunc wrapper not found in its library"
        return super().unservable(rec, spec)

    def roles(self, spec: Specialization, defined: set[str]) -> dict[str, str]:
        return {"cfunc": spec.cfunc}

    def target_context(self, owner):
        return owner._targetdescr.target_context

    def place(self, owner, code: ImageCode, e, image: MappedImage) -> Any:
        cres = self.compile_result(owner, code)
        # what CFunc.compile leaves behind, with the C wrapper taken from the image
        owner._library = cres.library
        owner._wrapper_name = e.symbols["cfunc"][len(image.prefix):]
        owner._wrapper_address = image.address(e.symbols["cfunc"])
        owner._snap_cres = cres            # keeps the image library (and its environment) alive
        return cres


class BuilderKind(_LoopKind):
    """A kernel of a @guvectorize / @vectorize(target='parallel') builder and its loop
    (see gufunc.py for why builders are served through ``add`` and ``build``)."""

    def options(self, owner) -> str:
        from .gufunc import builder_identity
        options, facts = builder_identity(owner)
        code = facts.pop("exec_code", None)
        if code is not None:
            facts["code"] = code_fingerprint(code)
        return canonical_options(options) + ";builder=" + canonical_options(facts)

    def extract(self, rec: Recorded) -> Specialization:
        from .gufunc import builder_identity
        options, facts = builder_identity(rec.owner)
        spec = super().extract(rec)
        spec.options = options
        spec.wrapper = spec.cfunc = None
        spec.loop = rec.loop
        spec.parfors = facts["target"] == "parallel"
        spec.extra["builder"] = facts
        return spec

    def unservable(self, rec: Recorded, spec: Specialization) -> str | None:
        from .library import library_module
        cres = rec.cres
        if cres.objectmode:
            return "object mode kernel"
        if cres.lifted:
            return "kernel contains lifted code (object mode loops)"
        if rec.loop is None:
            return "the workload never built the ufunc for this kernel (build_ufunc not called)"
        if cres.library.has_dynamic_globals:
            return "code embeds process addresses (dynamic globals)"
        if cres.environment is not None and not cres.environment.can_cache():
            return "environment of a dynamically created function"
        mod = library_module(cres.library)
        if not any(f.name == spec.mangled and not f.is_declaration for f in mod.functions):
            return "kernel code not found in its library"
        return None

    def target_context(self, owner):
        return owner.nb_func.targetdescr.target_context

    def place(self, owner, code: ImageCode, e, image: MappedImage) -> Any:
        cres = self.compile_result(owner, code)
        cres.metadata["snap_loop"] = int(image.address(e.symbols["loop"]))   # build() returns it
        return cres


class GufuncKind(BuilderKind):
    name = K.GUFUNC


class UfuncKind(BuilderKind):
    name = K.UFUNC


KINDS: dict[str, Kind] = {k.name: k for k in (DispatcherKind(), JitclassKind(), ObjmodeKind(),
                                               DUFuncKind(), CFuncKind(), GufuncKind(), UfuncKind())}


def kind_of(owner, hooked: str) -> Kind:
    """The strategy of a live owner; ``hooked`` is the kind of hook that saw it (a recorder
    or runtime hook on dispatchers, DUFuncs, @cfuncs or builders)."""
    if hooked == K.DISPATCHER:
        if jitclass.PART_IDENTITY in owner.__dict__:
            return KINDS[K.JITCLASS]
        from numba.core.dispatcher import ObjModeLiftedWith
        if isinstance(owner, ObjModeLiftedWith):
            return KINDS[K.OBJMODE]
    return KINDS[hooked]


def owner_kind(owner) -> Kind | None:
    """The strategy of any owner (None: not one snap serves)."""
    from numba.core import dispatcher
    if isinstance(owner, dispatcher.Dispatcher) and not isinstance(owner, dispatcher.LiftedCode):
        return kind_of(owner, K.DISPATCHER)
    if isinstance(owner, dispatcher.ObjModeLiftedWith):
        return KINDS[K.OBJMODE]
    if hasattr(owner, "_dispatcher") and hasattr(owner, "_compile_for_argtys"):
        return KINDS[K.DUFUNC]
    if hasattr(owner, "_pyfunc") and hasattr(owner, "_sig"):
        return KINDS[K.CFUNC]
    if hasattr(owner, "nb_func"):
        from .gufunc import builder_kind
        return KINDS[builder_kind(owner)]
    return None


# ------------------------------------------------------------------ extraction (build)
def specializations(records: list[Recorded]) -> list[Specialization]:
    """Every record extracted; one that cannot be (e.g. its dispatcher was freed) is kept
    as not servable, with the reason: one specialization never costs the whole build."""
    from .specialization import Specialization
    out = []
    for rec in records:
        if rec.spec is not None:
            out.append(rec.spec)
            continue
        try:
            out.append(extract(rec))
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


def extract(rec: Recorded) -> Specialization:
    """The specialization of one record, by its owner's strategy."""
    return kind_of(rec.owner, rec.kind).extract(rec)


def _base_spec(kind: str, rec: Recorded, py_func) -> Specialization:
    from .specialization import Specialization
    cres = rec.cres
    fndesc = cres.fndesc
    spec = Specialization(
        kind=kind, owner=rec.owner, py_func=py_func,
        module=getattr(py_func, "__module__", None) or fndesc.modname,
        qualname=getattr(py_func, "__qualname__", None) or fndesc.qualname,
        options=dict(getattr(rec.owner, "targetoptions", None) or {}),
        args=tuple(cres.signature.args), return_type=cres.signature.return_type,
        library=cres.library, environment=cres.environment, mangled=fndesc.mangled_name,
        wrapper=fndesc.llvm_cpython_wrapper_name, cfunc=fndesc.llvm_cfunc_wrapper_name,
        env_name=fndesc.env_name, parfors=bool(cres.reload_init))
    spec.extra["fndesc"] = {"modname": fndesc.modname, "qualname": fndesc.qualname,
                            "uid": fndesc.uid, "abi_tags": tuple(fndesc.abi_tags),
                            "argnames": tuple(fndesc.args)}
    spec.extra["inputs"] = rec.inputs        # observe.Inputs (None: no compilation was observed)
    spec.extra["closure"] = rec.closure
    spec.extra["cells"] = rec.cells or {}
    md = getattr(cres, "metadata", None) or {}
    spec.extra["explicit_return"] = bool(md.get("snap_explicit_return"))
    if md.get("snap_requested_return") is not None:
        spec.extra["requested_return"] = md["snap_requested_return"]
    if md.get("snap_warnings"):
        spec.extra["warnings"] = md["snap_warnings"]
    return spec


def _dispatcher_options(disp, targetoptions) -> str:
    text = canonical_options(dict(targetoptions or {}))
    compiler = getattr(disp, "_compiler", None)
    local_types = _user_locals(getattr(compiler, "locals", None) or getattr(disp, "locals", None))
    if local_types:
        text += ";locals=" + canonical_options({k: str(v) for k, v in local_types.items()})
    pipeline = getattr(compiler, "pipeline_class", None)
    if pipeline is not None:
        name = f"{pipeline.__module__}.{pipeline.__qualname__}"
        if name != "numba.core.compiler.Compiler":
            text += ";pipeline=" + name
    return text


_ROOT = re.compile(r"[^\W\d]\w*")       # the leading Python identifier of a name


def _user_locals(local_types: dict | None) -> dict:
    """The ``locals=`` the user gave, without what Numba's compilations added to the dict.

    Numba compiles with the dispatcher's own dict (``Dispatcher.locals`` ->
    ``_FunctionCompiler.locals`` -> ``state.locals``), and ``ReconstructSSA._patch_locals``
    (numba/core/untyped_passes.py) writes into it every new version of an annotated
    variable, typed like that variable: ``ir.Scope.redefine`` names them ``i.1``,
    ``result.2`` (also while inlining closures, inline_closurecall.py). So the dict
    differs before and after any compilation of any signature. A version is never a
    Python identifier (the user can only annotate the function's own variables), and it
    repeats the type of the variable it versions: a key that is not an identifier and
    has the type of the annotated variable its name starts with is dropped, whatever the
    versioning syntax. Anything else the user wrote is kept (a non-identifier key of
    another type then reads differently once Numba overwrote it: a miss, never a wrong
    entry).
    """
    if not local_types:
        return {}
    out = {}
    for k, v in local_types.items():
        if isinstance(k, str) and not k.isidentifier():
            m = _ROOT.match(k)
            root = m.group(0) if m else None
            if root is not None and root in local_types and _same_type(local_types[root], v):
                continue
        out[k] = v
    return out


def _same_type(a, b) -> bool:
    try:
        return a is b or bool(a == b)
    except Exception:  # noqa: BLE001 - incomparable values: not the same
        return False


def _unservable_reason(rec: Recorded, spec: Specialization) -> str | None:
    """Why a dispatcher-like specialization cannot be served (None: it can)."""
    from numba.core import dispatcher as nbdisp
    from numba.core import types

    from .library import library_module
    cres, owner = rec.cres, rec.owner
    if spec.kind == K.OBJMODE:
        pass            # object-mode code, but a block the image serves (install: lifted_compile)
    elif isinstance(owner, nbdisp.LiftedCode):
        # its dispatcher is made by loop lifting while its function compiles, and lives only in
        # that function's environment: see "contains lifted loops"
        return ("lifted loop (object mode): servable only with its function, once loop lifting "
                "is rerun at install to rebuild the loops' dispatchers")
    if cres.lifted and not all(isinstance(x, nbdisp.ObjModeLiftedWith) for x in cres.lifted):
        # the function's code calls its lifted loops through dispatchers held in its
        # environment, made from its IR while it compiled. Numba's own cache refuses these too
        # (LiftedLoop.can_cache is False: "Cannot cache ... as it uses lifted code").
        return ("contains lifted loops (object mode; Numba's cache does not serve them either): its "
                "code calls dispatchers that loop lifting made while it compiled; servable once loop "
                "lifting is rerun at install to rebuild them (without lowering) and each loop is "
                "served from its own entry")
    if cres.objectmode and spec.kind not in (K.OBJMODE, K.DISPATCHER):
        return f"object mode ({spec.kind}): served for @jit dispatchers only"
    if cres.objectmode and spec.kind == K.DISPATCHER:
        # object mode (forceobj=True, or a fallback): native code calling the C API, reading
        # its globals live through its environment (like a `with objmode` block); Numba's
        # cache serves it the same way (its environment's constants pickled)
        spec.extra["objectmode"] = True
    mod = library_module(cres.library)
    defined = {f.name for f in mod.functions if not f.is_declaration}
    if spec.kind in (K.DISPATCHER, K.JITCLASS) and spec.wrapper not in defined:
        spec.internal = True
        return "internal helper (compiled into its callers, never called from Python)"
    if isinstance(spec.return_type, types.Generator):
        gendesc = cres.target_context.get_generator_desc(spec.return_type)
        names = {"next": gendesc.mangled_name, "next_wrapper": gendesc.llvm_cpython_wrapper_name}
        if spec.return_type.has_finalizer:
            names["finalizer"] = gendesc.llvm_finalizer_name
        missing = sorted(n for n in names.values() if n not in defined)
        if missing:
            return f"generator functions not found in its library: {', '.join(missing)}"
        # served: called from Python it returns a generator object running image code;
        # new JIT code iterating it gets the generator registered (standins.register_generator)
        spec.extra["generator"] = {"roles": {"gen_" + k: v for k, v in names.items()},
                                   "qualname": gendesc.qualname, "unique_name": gendesc.unique_name}
    if cres.library.has_dynamic_globals:
        from . import addresses
        slots = jitclass.box_slots(mod)
        if slots is not None:
            spec.extra["box_slots"] = slots   # only jitclass Box subclasses: filled at install
        else:
            named, problem = addresses.name_dynamic_globals(
                mod, local={**addresses.closure_targets(spec.py_func, spec.module, spec.qualname),
                            **addresses.made_targets(spec.py_func, spec.module, spec.qualname, cres)})
            if problem is not None:
                return f"code embeds process addresses (dynamic globals): {problem}"
            spec.extra["dynamic"] = named
    # A function exec'd in globals of its own (no __name__: jitclass parts Numba makes from
    # templates, code generators') has an environment Numba's cache refuses (can_cache).
    # Nopython code reads only the environment's constants, which the payload keeps; the
    # values it read from those globals are checked like a module's (image/validity).
    # Object-mode code reads the globals themselves when it runs: the environment would have
    # to be given the function's own globals at install.
    if cres.environment is not None and not cres.environment.can_cache() and cres.objectmode:
        return ("environment of a dynamically created function (object mode: serving needs the "
                "environment made with the function's own globals at install)")
    if spec.py_func is None:
        return "no Python function"
    pipeline = getattr(getattr(owner, "_compiler", None), "pipeline_class", None)
    if pipeline is not None and f"{pipeline.__module__}.{pipeline.__qualname__}" != "numba.core.compiler.Compiler":
        # its passes may leave results the image does not keep (e.g. preserved IR in metadata)
        return f"custom compiler pipeline ({pipeline.__module__}.{pipeline.__qualname__})"
    if type(owner).__module__.startswith("numba.experimental.jitclass"):
        return "jitclass method"
    return None


def emit_warnings(extra: dict, py_func: Any = None) -> None:
    """Give again the warnings compiling the entry gave in the training run (but those
    Numba would not give here: performance warnings under NUMBA_DISABLE_PERFORMANCE_WARNINGS).
    The program's filters print or ignore them; filters that would raise one leave the
    entry to the JIT before this (runtime/warning_filters.py, compile_warnings.py)."""
    from .compile_warnings import category_names, local_text, silenced
    for category, message, filename, lineno in extra.get("warnings", ()):
        if not silenced(category_names(category)):
            warnings.warn_explicit(local_text(message, py_func), category, filename, lineno)


__all__ = ["KINDS", "Kind", "ImageCode", "kind_of", "owner_kind", "specializations", "extract",
           "MappedImage", "emit_warnings"]
