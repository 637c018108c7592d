"""Run-time hooks: Numba's compile requests go to the runtime first; what owners hold.

``RuntimeHooks`` wraps every place Numba starts compiling for an owner (a
dispatcher's compile and first call, a DUFunc's loop, a @cfunc, a builder's
``add``/``build``, an objmode block) and asks the runtime for the image's
compile result first. The queries below read what an owner holds already.
"""
from __future__ import annotations

import ctypes
import types as pytypes
from typing import Any, Callable

from ..image.fingerprint import type_key
from ..image.kinds import ALL as ALL_KINDS
from ..image.kinds import BUILDER_KINDS, CFUNC, DISPATCHER, DUFUNC, OBJMODE
from . import UNRESOLVED_PREFIX, Patches, owner_py_func
from . import dispatcher_types as seam_dispatcher_types


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


def count_compile(owner, sig) -> None:
    """Count a served compile request as ``Dispatcher.compile`` counts the compile it replaces:
    a miss of its (null or empty) cache under the key it was asked with (``stats``, what
    Numba's tests read). DUFuncs and other owners keep no such counts."""
    misses = getattr(owner, "_cache_misses", None)
    if misses is not None:
        misses[sig] += 1


def callee_dispatchers(py_func, types_: tuple, names: frozenset[str] = frozenset()) -> dict[tuple[str, str], Any]:
    """(module, qualname) -> the dispatchers a function's compilation can reach as callees,
    where Numba's typing finds them: the globals its code names (and their attributes it
    names: ``mod.f``), its closure cells, the methods of the jitclass instances among
    ``types_`` (its argument and return types: a jitclass part calls its class's methods)
    and the jitted functions passed in (dispatcher types among ``types_``).

    A module's attribute is read from its namespace; through the module's ``__getattr__``
    (a lazy module: ``numba.typed`` imports its submodules there, ~10 ms) only for
    ``names``, the qualnames of the callees looked for."""
    from numba.core import dispatcher
    found: dict[tuple[str, str], Any] = {}

    def take(v) -> None:
        if isinstance(v, dispatcher.Dispatcher):
            f = getattr(v, "py_func", None)
            if f is not None:
                found.setdefault((f.__module__, f.__qualname__), v)

    code = getattr(py_func, "__code__", None)
    if code is not None:
        glb = py_func.__globals__
        for name in code.co_names:
            v = glb.get(name)
            if isinstance(v, pytypes.ModuleType):
                space = v.__dict__
                for attr in code.co_names:
                    if attr in space:
                        take(space[attr])
                    elif attr in names:
                        take(getattr(v, attr, None))
            else:
                take(v)
        for cell in py_func.__closure__ or ():
            try:
                take(cell.cell_contents)
            except ValueError:      # an empty cell
                pass
    for t in types_:
        for v in (getattr(t, "jit_methods", None) or {}).values():
            take(v)
    for t in seam_dispatcher_types(types_):
        take(t._wr())            # a jitted function passed in: typing the call compiles it
    return found


def overload_callee_dispatchers(py_func) -> dict[tuple[str, str], Any]:
    """(module, qualname) -> the dispatchers the @overload implementations of the functions
    ``py_func`` names can call: typing a call of such a function runs its overload function,
    whose implementation calls the jitted functions of the overload function's closure cells
    and globals (``@overload(bar) def ol_bar(z): def impl(z): baz(z)``). The overloads are
    found where Numba's typing finds them: its typing registry (``_overloads_index``)."""
    from numba.core import dispatcher, types
    found: dict[tuple[str, str], Any] = {}
    values = []
    code = getattr(py_func, "__code__", None)
    if code is None:
        return found
    glb = py_func.__globals__
    values.extend(glb[n] for n in code.co_names if n in glb)
    for cell in py_func.__closure__ or ():
        try:
            values.append(cell.cell_contents)
        except ValueError:
            pass
    index = _overloads_index()
    for v in values:
        if not isinstance(v, pytypes.FunctionType):
            continue
        for tpl in index.get(id(v), ()):
            ol = getattr(tpl, "_overload_func", None)
            if not isinstance(ol, pytypes.FunctionType):
                continue
            reach = []
            for cell in ol.__closure__ or ():
                try:
                    reach.append(cell.cell_contents)
                except ValueError:
                    pass
            names: set[str] = set()
            stack = [ol.__code__]
            while stack:                  # its implementation's code (nested in it) too
                c = stack.pop()
                names.update(c.co_names)
                stack.extend(k for k in c.co_consts if isinstance(k, pytypes.CodeType))
            reach.extend(ol.__globals__[n] for n in names if n in ol.__globals__)
            for r in reach:
                if isinstance(r, dispatcher.Dispatcher):
                    f = getattr(r, "py_func", None)
                    if f is not None:
                        found.setdefault((f.__module__, f.__qualname__), r)
    return found


_OVERLOADS: dict[int, list] = {}      # id of a Python function -> its @overload templates
_OVERLOADS_READ = [0, 0]              # how much of the registry's list is indexed, at which
                                      # deferred_lowering.generation


def _overloads_index() -> dict[int, list]:
    """The typing templates registered for Python functions (``@overload(func)`` ->
    ``infer_global(func, types.Function(template))``), by the function's ``id``: read from
    Numba's typing registry, only the part appended since the last call (the registry
    keeps what it registers: the ids stay theirs)."""
    from numba.core import types
    from numba.core.typing.templates import builtin_registry
    from . import deferred_lowering
    registered = builtin_registry.globals
    if _OVERLOADS_READ[1] != deferred_lowering.generation:     # entries moved: read it again
        _OVERLOADS.clear()
        _OVERLOADS_READ[:] = [0, deferred_lowering.generation]
    for func, typ in registered[_OVERLOADS_READ[0]:]:
        if isinstance(func, pytypes.FunctionType) and isinstance(typ, types.Function):
            _OVERLOADS.setdefault(id(func), []).extend(typ.templates)
    _OVERLOADS_READ[0] = len(registered)
    return _OVERLOADS


def holds_keys(owner, keys: tuple) -> bool:
    """``owner`` holds an overload whose argument types have these keys (``type_key``)."""
    return any(tuple(type_key(t) for t in args) == keys for args in owner_overloads(owner))


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
    """Recorded (unpickled) argument types equal to the requested ones, once their keys
    matched (``type_key``: the caller looked the entry up by them).

    An ``Omitted`` pair is equal by those keys alone: Numba keys an unhashable default by
    the id of this process's object, and the key snap recorded was taken from the default
    itself at build time (its bytes, shape, strides and flags: what the compiled code
    froze). The unpickled copy is not the default: pickling gives an array that owns its
    data, writeable, with strides of its own where they are free (an empty array's), so
    comparing it would refuse the default it was compiled for."""
    from numba.core import types
    if len(recorded) != len(requested):
        return False
    return all(isinstance(b, types.Omitted) if isinstance(a, types.Omitted) else a == b
               for a, b in zip(recorded, requested))


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


def track_classes(py_func, ids: dict, args: tuple = ()) -> None:
    """Register this process's classes under the training run's cloudpickle tracker ids
    (specialization.class_trackers): image code raising them -- the entry's own code or a
    jitted callee's compiled into it -- then raises these very classes. ``args``: the
    entry's argument types here (a path may start at a jitted function passed in)."""
    from numba.cloudpickle import cloudpickle as cp

    from ..errors import Unservable
    found = {tid: cls for tid, path in ids.items() if isinstance(cls := _follow_path(py_func, path, args), type)}
    for tid, cls in found.items():
        taken = cp._DYNAMIC_CLASS_TRACKER_BY_ID.get(tid)
        if taken is not None and taken is not cls:
            # the image's code already raises another class under this id (two classes of one
            # name and body, made by one factory): this entry's code would raise the wrong one
            raise Unservable(f"its code raises {cls.__qualname__}, and the image's entry raising it is "
                             "in use for another class of that name in this process (a factory made two)")
    for tid, cls in found.items():
        cp._lookup_class_or_track(tid, cls)


def _follow_path(py_func, path, args: tuple = ()) -> Any:
    """What ``path`` (steps of ``specialization.class_trackers``) reaches from ``py_func``,
    or None."""
    value: Any = py_func
    for where, name in path:
        func = value if isinstance(value, pytypes.FunctionType) else getattr(value, "py_func", None)
        try:
            if where == "arg":
                value = getattr(args[name], "dispatcher", None)
            elif where == "item":
                value = value[name]
            elif not isinstance(func, pytypes.FunctionType):
                return None
            elif where == "cell":
                cells = dict(zip(func.__code__.co_freevars, func.__closure__ or ()))
                value = cells[name].cell_contents
            else:
                value = func.__globals__[name]
        except (KeyError, ValueError, IndexError, TypeError):
            return None
    return value


class RuntimeHooks(Patches):
    """Calls back into the runtime when dispatchers are created and before they compile."""

    def __init__(self, on_create: Callable[[Any, str], None],
                 on_compile: Callable[[Any, Any, str], Any],
                 serve_call: Callable[[Any, tuple], Any] | None = None) -> None:
        super().__init__()
        self.on_create = on_create      # an objmode block is compiled
        # a compile request (owner, signature, kind of the hook): the image's compile result or None
        self.on_compile = on_compile
        self.serve_call = serve_call    # a dispatcher's first call with new types (values)
        self.image_functions: dict[str, int] = {}   # original mangled name -> image address (shared)
        self.on_cfunc: Callable[[Any], bool] | None = None   # serve a @cfunc from the image
        # a builder's add(sig) (@guvectorize, parallel @vectorize): an image compile result or None
        self.on_builder_add: Callable[[Any, Any], Any] | None = None
        self._keepalive: list = []
        self._hooked: set[str] = set()      # hook groups installed (each at most once)

    def install(self, kinds: "set[str] | frozenset[str] | None" = None) -> None:
        """Hook what serves ``kinds`` of entries (None: everything, e.g. to report misses of
        every kind). Dispatchers are always hooked. Called again (another image activated),
        it adds only the hooks not installed yet."""
        from numba.core import codegen, dispatcher
        from numba.np.ufunc import dufunc
        hooks = self

        def wanted(group: str, *ks: str) -> bool:
            if group in self._hooked or not (kinds is None or any(k in kinds for k in ks)):
                return False
            self._hooked.add(group)
            return True

        def compile_(orig, self, sig):
            # the image's result for exactly this request (eager signatures, typing from
            # new JIT code, Numba's own _compile_for_args), else a miss and the JIT
            held = len(self.overloads)
            cres = hooks.on_compile(self, sig, DISPATCHER)
            if cres is None:
                return orig(self, sig)
            if len(self.overloads) > held:    # installed now: what compiling it would count
                count_compile(self, sig)
            return cres.entry_point

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
            cres = hooks.on_compile(self, tuple(argtys), DUFUNC)
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

        if wanted("core", *ALL_KINDS):
            self.wrap(codegen.RuntimeLinker, "scan_unresolved_symbols", scan_unresolved)
            # Numba's on-disk cache must stay loadable by processes without the image.
            from .cache_guard import guard_saves
            guard_saves(self, self.image_functions)
            self.wrap(dispatcher.Dispatcher, "compile", compile_)
            self.wrap(dispatcher._DispatcherBase, "_compile_for_args", compile_for_args)

        def lifted_compile(orig, self, sig):
            # A `with objmode` block's dispatcher is rebuilt (unpickled) by the code
            # that calls it, then compiled: serve it from the image when it has it.
            if not self.overloads and isinstance(self, dispatcher.ObjModeLiftedWith):
                hooks.on_create(self, OBJMODE)
            return orig(self, sig)

        if wanted(OBJMODE, OBJMODE):
            self.wrap(dispatcher.LiftedWith, "compile", lifted_compile)
        if wanted(DUFUNC, DUFUNC):
            self.wrap(dufunc.DUFunc, "_compile_for_argtys", dufunc_compile)

        def cfunc_compile(orig, self):
            if hooks.on_cfunc is not None and hooks.on_cfunc(self):
                return None
            hooks.on_compile(self, tuple(self._sig.args), CFUNC)   # not served: a miss
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
        if wanted("builders", *BUILDER_KINDS):
            from numba.np.ufunc import parallel, ufuncbuilder
            self.wrap(ufuncbuilder._BaseUFuncBuilder, "add", builder_add)
            for cls in (ufuncbuilder.UFuncBuilder, ufuncbuilder.GUFuncBuilder,
                        parallel.ParallelUFuncBuilder, parallel.ParallelGUFuncBuilder):
                self.wrap(cls, "build", builder_build)

        if wanted(CFUNC, CFUNC):
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


def compiler_lock() -> Any:
    """Numba's global compiler lock (re-entrant; ``with`` it): what every JIT compilation
    holds, and what snap holds while it identifies owners and installs their entries. The
    RLock inside it, not the wrapper: the same exclusion without the wrapper's
    "numba:compiler_lock" events (nothing compiles; 0.4 us an acquisition instead of 3)."""
    from numba.core.compiler_lock import global_compiler_lock
    return global_compiler_lock._lock


def free_compiler_lock_in_child() -> None:
    """In a child process forked while another thread held the compiler lock (compiling,
    or snap installing an entry), free it: that thread does not exist in the child, so the
    lock would never be released and the child's first compile or install would hang.
    (The forking thread's own hold is kept.)"""
    from numba.core.compiler_lock import global_compiler_lock
    lock = global_compiler_lock._lock
    if lock._is_owned():
        return
    if lock.acquire(blocking=False):
        lock.release()
    else:
        lock._at_fork_reinit()


def is_nested_compile() -> bool:
    """True while Numba is already compiling something (a miss inside a miss)."""
    from numba.core.compiler_lock import global_compiler_lock
    return global_compiler_lock.is_locked()
