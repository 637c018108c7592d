"""Observing what each compilation consulted (training run): the inputs of its entry.

An entry is valid while everything its compilation consulted is unchanged, so the
training run records what each compilation actually read and ran, at the points
where Numba's compiler reaches outside itself, instead of predicting it:

* **Windows.** Every compilation (``CompilerBase.compile_extra`` / ``compile_ir``:
  dispatchers, DUFunc loops, @cfunc, gufunc kernels, objmode blocks, parfor and
  stencil kernels, ``compile_internal``) collects its inputs into an ``Inputs``; a
  compilation nested in another (a callee typed from its caller) adds its inputs
  to the enclosing one. The result is left in ``cres.metadata["snap_inputs"]``.
* **Code compiled**: every function whose bytecode becomes IR
  (``Interpreter.interpret``): the entry's own, callees, ``inline='always'``
  functions, overload implementations.
* **Values read**: every global name the bytecode translation resolves
  (``Interpreter.get_global_value``), every module attribute resolved while typing
  (``resolve_module_constants``: ``cfg.params.SCALE`` at any depth), under a
  locator (``image.inputs``) and a structural fingerprint (``value_key``: a
  callee's defaults, an enum's members, a dtype's fields, a class's body...).
* **Code run**: at Numba's extension boundaries -- typing templates (``apply``),
  attribute templates (``resolve``), value typing (``resolve_value_type``: typeof
  implementations), lowering implementations (``OverloadSelector.find``: functions,
  attributes, casts, constants), boxing registries, data models -- when the code
  about to run is not pinned (Python, NumPy, Numba, llvmlite), a tracer records
  every code object run beneath it (the ``@overload`` typing function, the
  ``@intrinsic`` generator, the helpers they call) and, instruction by instruction,
  what that code loads: its globals, module attributes at any depth, what it imports,
  ``os.environ[key]``. State that code changes itself while it runs (a memo dict it
  fills) is its own, not an input (``volatile``). The tracer is on only there (a
  nested compilation pauses it): measured on the k-means example, tracing whole
  compilations costs 1.6-1.8x, this 1-2%.
* **Numba's caches.** What one compilation computed may be reused by a later one
  without running again (an overload's implementation cache, a callee already
  compiled, a data model, ``compile_subroutine``). Each boundary keeps what it
  observed per key (the template class with its argument types, the type, ...) and
  adds it to every later compilation that goes through it; a callee's compile
  result carries its own inputs (``Dispatcher.get_call_template``).
* **Settings**: every ``numba.config`` attribute read while compiling
  (``settings.ReadRecorder``).
"""
from __future__ import annotations

import os
import sys
import threading
import types as pytypes
import weakref
from typing import Any, Callable

from ..image import inputs as L
from ..image.fingerprint import _Empty as _EmptyCell
from ..image.fingerprint import cached_code_fingerprint, jitted_function, module_of, pinned
from ..image.freshness import CLOSURE
from . import Patches


_ENVIRON_GETITEM = type(os.environ).__getitem__.__code__
_MAPPING_MODULES = frozenset({"os", "_collections_abc", "collections.abc"})
_ATTR_OPS = frozenset({"LOAD_ATTR", "LOAD_METHOD"})     # (3.12: LOAD_ATTR does both)
_WATCHED = frozenset({"LOAD_GLOBAL", "IMPORT_NAME", "IMPORT_FROM"}) | _ATTR_OPS


class Inputs:
    """What one compilation (or one boundary) consulted."""

    __slots__ = ("code", "values", "settings", "warned", "root", "traced")

    def __init__(self, root: Any = None) -> None:
        self.code: set[tuple[str, str, str]] = set()     # (module, qualname, code fingerprint)
        self.values: dict[str, str] = {}                 # locator -> value fingerprint
        self.settings: dict[str, str] = {}               # numba.config name -> value text
        self.warned: set[tuple[str, str]] = set()        # warnings given: (category, text)
        self.root = root                                 # a window's function (own globals)
        self.traced: dict[str, Any] | None = None        # what code run here loaded (locator -> value)

    def __bool__(self) -> bool:
        return bool(self.code or self.values or self.settings or self.warned)

    def value(self, locator: str, fp: str) -> None:
        old = self.values.get(locator)
        self.values[locator] = fp if old is None or old == fp else L.CONFLICT

    def merge(self, other: "Inputs", window: bool = False) -> None:
        """Add ``other``'s inputs (``window``: those of a compilation, whose own-globals
        locators name another function's globals: dropped)."""
        self.code |= other.code
        for loc, fp in other.values.items():
            if not (window and loc.startswith(L.OWN + "|")):
                self.value(loc, fp)
        for name, v in other.settings.items():
            self.settings.setdefault(name, v)
        self.warned |= other.warned


_fp = L.fingerprint


def _instructions(code: pytypes.CodeType, memo: dict = {}) -> dict[int, tuple[str, Any]]:   # noqa: B006
    """Offset -> (opname, argument) of the instructions the tracer looks at."""
    got = memo.get(code)
    if got is None:
        import dis
        got = memo[code] = {i.offset: (i.opname, i.argval) for i in dis.get_instructions(code)
                            if i.opname in _WATCHED}
    return got


class Observer(Patches):
    """The training run's observation of every compilation (see module doc)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[Inputs] = []           # open windows and boundaries, innermost last
        self.memo: dict[Any, Inputs] = {}       # boundary key -> what it observed last
        self.settings: dict[str, str] = {}      # every setting read, first value
        self._thread: int | None = None         # the thread compiling (Numba's compiler lock)
        self._user: "weakref.WeakKeyDictionary[Any, bool]" = weakref.WeakKeyDictionary()
        self._codes: dict[pytypes.CodeType, tuple[str, str, str] | None] = {}
        self._prof = self._call
        self._chain: dict[Any, Any] = {}        # frame -> the module (or module name) its last
        #                                         instruction loaded (module attributes, imports)
        self.volatile: set[str] = set()         # state code run at a boundary changes itself
        # settings read while a dispatcher's options become compiler flags (before the
        # compilation's window opens: ``TargetOptions.finalize`` reads DEBUGINFO_DEFAULT,
        # EXTEND_VARIABLE_LIFETIMES...): the next window of this thread gets them
        self._flag_reads: dict[str, str] | None = None
        self._pending_flags: dict[str, str] = {}
        self._flags_thread: int | None = None

    # ------------------------------------------------------------ collection
    def _active(self) -> bool:
        return bool(self.stack) and threading.get_ident() == self._thread

    def _reading_settings(self) -> bool:
        return self._active() or (self._flag_reads is not None
                                  and threading.get_ident() == self._flags_thread)

    def _on_setting(self, name: str, value: str) -> None:
        self.settings.setdefault(name, value)
        if self._flag_reads is not None and threading.get_ident() == self._flags_thread:
            self._flag_reads.setdefault(name, value)
            return
        self.stack[-1].settings.setdefault(name, value)

    def flags(self, run: Callable[[], Any]) -> Any:
        """Options made compiler flags: the settings read meanwhile belong to the compilation
        that follows in this thread (``_compile_core``: flags, then ``compile_extra``)."""
        if self.stack and threading.get_ident() != self._thread:
            return run()
        outer = self._flag_reads
        self._flag_reads, self._flags_thread = {}, threading.get_ident()
        try:
            return run()
        finally:
            self._pending_flags = {**self._flag_reads, **self._pending_flags}
            self._flag_reads = outer

    def code(self, func) -> None:
        """A function whose code the compiler translated (or ran)."""
        code = getattr(func, "__code__", None)
        module = getattr(func, "__module__", None)
        if isinstance(code, pytypes.CodeType) and isinstance(module, str) and not pinned(module):
            self.stack[-1].code.add((module, func.__qualname__, cached_code_fingerprint(code)))

    def global_value(self, func, name: str, value: Any) -> None:
        """A global name the compiler resolved for ``func``'s code."""
        g = getattr(func, "__globals__", None)
        if not isinstance(g, dict):
            return
        if name == getattr(func, "__name__", None) and (value is L.MISSING or jitted_function(value)[0] is func):
            # self-recursion: Numba types the call as the dispatcher being compiled (an eager
            # one is compiled before its name is bound); the function is its own identity
            return
        module = module_of(g)
        top = self.stack[-1]
        if module is not None:
            loc = L.global_of(module, name)
            if not pinned(module) and loc not in top.values:   # pinned code's globals are pinned too
                top.value(loc, _fp(value, loc))
        else:
            for col in reversed(self.stack):        # the window whose function it is
                if col.root is not None:
                    if col.root is func and L.own(name) not in top.values:
                        top.value(L.own(name), _fp(value))
                    break

    def attribute(self, module, attr: str, value: Any) -> None:
        name = getattr(module, "__name__", None)
        if isinstance(name, str) and not pinned(name) and sys.modules.get(name) is module:
            loc = L.attr_of(name, attr)
            if loc not in self.stack[-1].values:
                self.stack[-1].value(loc, _fp(value, loc))

    # ------------------------------------------------------------ code run at boundaries
    def user_class(self, cls) -> bool:
        """Does ``cls`` (a template, a data model) run code outside the pinned packages?"""
        try:
            got = self._user.get(cls)
        except TypeError:
            return False
        if got is None:
            got = not pinned(getattr(cls, "__module__", None))
            for c in getattr(cls, "__mro__", ()):
                if got or c is object:
                    break
                for v in vars(c).values():
                    if isinstance(v, (staticmethod, classmethod)):
                        v = v.__func__
                    if isinstance(v, pytypes.FunctionType) and not pinned(v.__module__):
                        got = True
                        break
            try:
                self._user[cls] = got
            except TypeError:
                pass
        return got

    def template(self, cls) -> None:
        """A user's typing template about to run: the options it was declared with (an
        ``@overload``'s ``jit_options``, ``inline``...) decide how its implementation compiles."""
        from ..image.inputs import TEMPLATE, locate
        from .values import typing_function
        f = typing_function(cls)
        module, qualname = getattr(f, "__module__", None), getattr(f, "__qualname__", None)
        if isinstance(module, str) and isinstance(qualname, str) and not pinned(module):
            loc = f"{TEMPLATE}|{module}|{qualname}"
            top = self.stack[-1]
            if loc not in top.values:       # as a process finds it again: in Numba's registry
                top.value(loc, _fp(locate(loc)))

    def user_types(self, types_: tuple) -> bool:
        """Are any of these Numba types of a user's type class? Its methods run while Numba
        types a call (conversions, unification): then the class is a value read, and its
        code is profiled."""
        found = False
        for t in types_:
            cls = type(t)
            if pinned(getattr(cls, "__module__", None)):
                continue
            found = True
            module, qualname = cls.__module__, cls.__qualname__
            loc = L.global_of(module, qualname)
            top = self.stack[-1]
            if loc not in top.values and "." not in qualname \
                    and module_of(getattr(sys.modules.get(module), "__dict__", {})) == module:
                top.value(loc, _fp(cls))
        return found

    def user_callable(self, f) -> bool:
        if isinstance(f, type):
            return self.user_class(f)
        if isinstance(f, pytypes.FunctionType):
            return not pinned(f.__module__)
        if isinstance(f, pytypes.MethodType):
            return self.user_callable(f.__func__)
        return not pinned(type(f).__module__) or not pinned(getattr(f, "__module__", None))

    def _call(self, frame, event: str, arg) -> Any:
        """The tracer's call events (only while Numba runs code of the user's, at a boundary):
        code outside the pinned packages is recorded and traced instruction by instruction
        (``_step``); ``os.environ[key]`` asked for by it is recorded too."""
        if event != "call":
            return None
        code = frame.f_code
        if code is _ENVIRON_GETITEM:       # os.environ[key], .get(key), getenv(key), key in ...
            key = frame.f_locals.get("key")
            if isinstance(key, str) and self._by_user(frame.f_back):
                self._loaded(L.env(key), os.environ.get(key, L.MISSING))
            return None
        got = self._codes.get(code, False)
        if got is False:
            got = self._codes[code] = self._classify(code, frame.f_globals)
        if got is None:
            return None
        if code.co_freevars:
            # a closure (a typing function a factory registered): its cells hold what code that
            # ran before, in no compilation, decided -- part of what it is (freshness.CLOSURE)
            f_locals = frame.f_locals
            cells = tuple(f_locals.get(n, _EmptyCell) for n in code.co_freevars)
            got = (got[0], got[1], got[2] + CLOSURE + _fp(cells))
        self.stack[-1].code.add(got)
        frame.f_trace_opcodes = True
        return self._step

    def _step(self, frame, event: str, arg) -> Any:
        """What the user's code run at a boundary loads: globals, module attributes (through
        modules at any depth, imported ones included). Observed as it runs: a branch not taken
        reads nothing."""
        if event != "opcode":
            if event == "return":
                self._chain.pop(frame, None)
            return self._step
        op = _instructions(frame.f_code).get(frame.f_lasti)
        chain = self._chain
        previous = chain.pop(frame, None)
        if op is None:
            return self._step
        name, arg_ = op
        g = frame.f_globals
        if name == "LOAD_GLOBAL":
            v = g.get(arg_, L.MISSING)
            module = module_of(g)
            if v is not L.MISSING and module is not None and not pinned(module):
                self._loaded(L.global_of(module, arg_), v)
            if isinstance(v, pytypes.ModuleType):
                chain[frame] = v
        elif name in _ATTR_OPS and isinstance(previous, pytypes.ModuleType):
            v = previous.__dict__.get(arg_, L.MISSING)
            if v is L.MISSING:
                sub = sys.modules.get(f"{previous.__name__}.{arg_}")
                v = sub if sub is not None else L.MISSING
            mod = previous.__name__
            if not pinned(mod) and sys.modules.get(mod) is previous:
                self._loaded(L.attr_of(mod, arg_), v)
            if isinstance(v, pytypes.ModuleType):
                chain[frame] = v
        elif name == "IMPORT_NAME":
            chain[frame] = arg_                 # the module it imports, once it has
        elif name == "IMPORT_FROM" and isinstance(previous, str):
            mod = sys.modules.get(previous)
            if mod is not None and not pinned(previous):
                self._loaded(L.attr_of(previous, arg_), mod.__dict__.get(arg_, L.MISSING))
            chain[frame] = previous
        return self._step

    def _loaded(self, loc: str, v: Any) -> None:
        """A value code run at a boundary loaded. What cannot be fingerprinted is no input (there
        is no structure to compare); what it loads is kept, to find the state it changes itself."""
        top = self.stack[-1]
        if loc in top.values:
            return
        fp = _fp(v, loc)
        if fp.startswith(L.UNFINGERPRINTABLE):
            return
        top.value(loc, fp)
        if top.traced is None:
            top.traced = {}
        top.traced[loc] = fp

    def _by_user(self, frame) -> bool:
        """Was this frame's reading of ``os.environ`` asked for by the user's code (not by
        Numba's settings reloading, which ``settings`` covers)?"""
        while frame is not None and frame.f_globals.get("__name__") in _MAPPING_MODULES:
            if frame.f_code.co_name == "__iter__":
                return False               # iterating the environment: not observed (a limitation)
            frame = frame.f_back           # os.getenv, Mapping.get, __contains__
        if frame is None:
            return False
        got = self._codes.get(frame.f_code, False)
        if got is False:
            got = self._codes[frame.f_code] = self._classify(frame.f_code, frame.f_globals)
        return got is not None

    def _classify(self, code: pytypes.CodeType, g: dict) -> tuple[str, str, str] | None:
        module = g.get("__name__") if isinstance(g, dict) else None
        if not isinstance(module, str) or pinned(module) or code.co_name == "<module>":
            return None                     # (a module imported meanwhile: not what decides)
        return (module, getattr(code, "co_qualname", code.co_name), cached_code_fingerprint(code))

    # ------------------------------------------------------------ windows and boundaries
    def window(self, root, run: Callable[[], Any], pipeline: Any = None) -> Any:
        """One compilation: its inputs end in its compile result's metadata. A compiler pipeline
        of the user's (``pipeline_class=``) runs the user's passes: traced."""
        col = Inputs(root)
        if not self.stack:
            self._thread = threading.get_ident()
        elif threading.get_ident() != self._thread:
            return run()
        if self._pending_flags and threading.get_ident() == self._flags_thread:
            for name, value in self._pending_flags.items():
                col.settings.setdefault(name, value)
            self._pending_flags = {}
        self.stack.append(col)
        prev = sys.gettrace()
        mine = self._prof if pipeline is not None and not pinned(type(pipeline).__module__) else None
        if prev is self._prof or mine is not None:
            sys.settrace(mine)          # a compilation inside code run at a boundary: paused
        cres = None
        try:
            cres = run()
        finally:
            if prev is self._prof or mine is not None:
                sys.settrace(prev)
            self.stack.pop()
            # object-mode code (a `with objmode` block) reads its globals when it runs: nothing
            # of it is frozen into the code that calls it
            if self.stack and not getattr(cres, "objectmode", False):
                self.stack[-1].merge(col, window=True)
        md = getattr(cres, "metadata", None)
        if isinstance(md, dict):
            md["snap_inputs"] = col
        return cres

    def boundary(self, key: Any, profile: bool, run: Callable[[], Any]) -> Any:
        """Code Numba runs for a compilation, and may reuse later without running it (keyed
        by ``key``; None: nothing is reused)."""
        if not self._active():
            return run()
        col = Inputs()
        self.stack.append(col)
        prev = sys.gettrace()
        if profile and prev is not self._prof:
            sys.settrace(self._prof)
        try:
            return run()
        finally:
            if profile and prev is not self._prof:
                sys.settrace(prev)
            self.stack.pop()
            if col.traced:
                self._changed_by_itself(col)
            parent = self.stack[-1]
            parent.merge(col)
            if key is not None:
                # what ran now and what ran before under this key: a cache Numba keeps beneath
                # (an overload's implementation, a data model) may skip part of it this time.
                # (Not what names one compilation's own globals: another may reuse it.)
                try:
                    seen = self.memo.get(key)
                    if seen is None:
                        seen = self.memo[key] = Inputs()
                except TypeError:           # an unhashable key: nothing to remember
                    seen = None
                if seen is not None:
                    seen.merge(col, window=True)
                    parent.merge(seen)

    def _changed_by_itself(self, col: Inputs) -> None:
        """State that code run at a boundary changed while it ran (a memo dict, a registry it
        fills, a counter) is its own, not an input: a fresh process starts it afresh anyway."""
        for loc, fp in col.traced.items():
            if L.fingerprint(L.locate(loc), loc) != fp:
                self.volatile.add(loc)

    def add(self, col: "Inputs | None") -> None:
        """The inputs of another compilation (a callee's compile result) are this one's too."""
        if col is not None and self._active():
            self.stack[-1].merge(col, window=True)

    # ------------------------------------------------------------ hooks
    def install(self) -> None:
        from numba.core import base, compiler, dispatcher, interpreter, pythonapi
        from numba.core.datamodel import manager
        from numba.core.typing import context as typing_context
        from numba.core.typing import templates

        from .settings import ReadRecorder

        obs = self
        active = self._active

        def compile_extra(orig, pipeline, func):
            return obs.window(func, lambda: orig(pipeline, func), pipeline)

        def compile_ir(orig, pipeline, func_ir, *a, **kw):
            return obs.window(getattr(func_ir.func_id, "func", None), lambda: orig(pipeline, func_ir, *a, **kw),
                              pipeline)

        self.wrap(compiler.CompilerBase, "compile_extra", compile_extra)
        self.wrap(compiler.CompilerBase, "compile_ir", compile_ir)

        def interpret(orig, interp, bc):
            if active():
                obs.code(interp.func_id.func)
            return orig(interp, bc)

        def get_global_value(orig, interp, name):
            value = orig(interp, name)
            if active():
                obs.global_value(interp.func_id.func, name,
                                 L.MISSING if value is _undefined() else value)
            return value

        self.wrap(interpreter.Interpreter, "interpret", interpret)
        self.wrap(interpreter.Interpreter, "get_global_value", get_global_value)

        def resolve_module_constants(orig, ctx, typ, attr):
            out = orig(ctx, typ, attr)
            if active():
                obs.attribute(typ.pymod, attr, getattr(typ.pymod, attr, L.MISSING))
            return out

        def resolve_value_type(orig, ctx, val):
            # a typeof implementation of a user's class runs here
            mod = type(val).__module__
            if not isinstance(mod, str):
                # CPython 3.10: a Cython function's type has a member descriptor there
                # (3.11+: "_cython_3_1_0"); its C name says the module, as 3.11 does
                mod = type.__repr__(type(val))[8:-2].rpartition(".")[0] or None
            profile = not pinned(mod) and not (mod or "").startswith("_cython")   # compiled functions
            return obs.boundary(None, profile, lambda: orig(ctx, val)) if profile else orig(ctx, val)

        self.wrap(typing_context.BaseContext, "resolve_module_constants", resolve_module_constants)
        self.wrap(typing_context.BaseContext, "resolve_value_type", resolve_value_type)

        def apply(orig, template, args, kws):
            cls = type(template)
            if not active():
                return orig(template, args, kws)
            key = ("apply", cls, tuple(args), tuple(sorted(kws.items())) if kws else ())
            user = obs.user_class(cls)
            if user:
                obs.template(cls)
            profile = user | obs.user_types(args)
            return obs.boundary(key, profile, lambda: orig(template, args, kws))

        for cls in (templates.AbstractTemplate, templates.CallableTemplate, templates.ConcreteTemplate):
            self.wrap(cls, "apply", apply)

        def resolve(orig, template, value, attr):
            cls = type(template)
            if not active():
                return orig(template, value, attr)
            user = obs.user_class(cls)
            if user:
                obs.template(cls)
            profile = user | obs.user_types((value,))
            return obs.boundary(("resolve", cls, value, attr), profile, lambda: orig(template, value, attr))

        self.wrap(templates.AttributeTemplate, "resolve", resolve)

        def get_call_template(orig, disp, args, kws):
            out = orig(disp, args, kws)
            if active():
                # a callee compiled now or earlier: its inputs are the caller's
                folded = tuple(out[2])
                cres = disp.overloads.get(folded)
                for c in ([cres] if cres is not None else list(disp.overloads.values())):
                    if not getattr(c, "objectmode", False):      # see window()
                        obs.add((getattr(c, "metadata", None) or {}).get("snap_inputs"))
            return out

        for cls in (dispatcher._DispatcherBase, dispatcher.LiftedWith, dispatcher.ObjModeLiftedWith):
            if "get_call_template" in cls.__dict__:
                self.wrap(cls, "get_call_template", get_call_template)

        def compile_subroutine(orig, ctx, builder, impl, sig, *a, **kw):
            if not active():
                return orig(ctx, builder, impl, sig, *a, **kw)
            key = ("subroutine", getattr(impl, "__code__", impl), sig)
            return obs.boundary(key, False, lambda: orig(ctx, builder, impl, sig, *a, **kw))

        self.wrap(base.BaseContext, "compile_subroutine", compile_subroutine)

        def find(orig, selector, sig):
            impl = orig(selector, sig)
            if active() and obs.user_callable(impl):
                return obs.profiled(impl)
            return impl

        self.wrap(base.OverloadSelector, "find", find)

        def registry_lookup(orig, registry, typeclass, default=None):
            impl = orig(registry, typeclass, default)
            if impl is not None and impl is not default and active() and obs.user_callable(impl):
                return obs.profiled(impl)
            return impl

        self.wrap(pythonapi._Registry, "lookup", registry_lookup)

        def model_lookup(orig, dmm, fetype):
            if not active():
                return orig(dmm, fetype)
            handler = dmm._handlers.get(type(fetype))
            if handler is None or not obs.user_callable(handler):
                return orig(dmm, fetype)
            return obs.boundary(("model", fetype), True, lambda: orig(dmm, fetype))

        self.wrap(manager.DataModelManager, "lookup", model_lookup)

        from numba.core import options

        orig_parse = options.TargetOptions.__dict__["parse_as_flags"]

        def parse_as_flags(cls, flags, opts):
            return obs.flags(lambda: orig_parse.__func__(cls, flags, opts))

        options.TargetOptions.parse_as_flags = classmethod(parse_as_flags)
        self._undo.append(lambda: setattr(options.TargetOptions, "parse_as_flags", orig_parse))

        settings = ReadRecorder(self._reading_settings, self._on_setting)
        settings.install()
        self._undo.append(settings.uninstall)

        # the warnings a compilation gives, where they are given (a typing warning inside the
        # template that a later compilation reuses silently): which ones compiling an entry
        # gives in a fresh process (runtime/warning_filters.py)
        import warnings

        def make_warn(orig):
            def warn(message, category=None, stacklevel=1, source=None, **kw):
                if active():
                    obs.warned(message, category)
                # one frame more between the caller and the warning: it names the caller's line
                return orig(message, category, stacklevel + 1, source, **kw)
            return warn

        def warn_explicit(orig, message, category, *a, **kw):
            if active():
                obs.warned(message, category)
            return orig(message, category, *a, **kw)

        self.replace(warnings, "warn", make_warn)
        self.wrap(warnings, "warn_explicit", warn_explicit)

        # files the user's code reads while Numba runs it (a typing helper's data file)
        import builtins
        import io

        def make_open(orig):
            def open(file, mode="r", *a, **kw):
                f = orig(file, mode, *a, **kw)
                if (isinstance(file, (str, os.PathLike)) and not set(mode) & set("wax+")
                        and sys.gettrace() is obs._prof and active()):
                    path = os.fspath(file)
                    from ..image.fingerprint import file_digest
                    obs._loaded(L.file(path if isinstance(path, str) else os.fsdecode(path)),
                                file_digest(path, orig) or L.MISSING)
                return f
            return open

        self.replace(builtins, "open", make_open)
        self.replace(io, "open", make_open)

    def warned(self, message: Any, category: Any) -> None:
        if isinstance(message, Warning):
            category, text = type(message), str(message)
        else:
            category, text = category or UserWarning, str(message)
        self.stack[-1].warned.add((f"{category.__module__}:{category.__qualname__}", text))

    def profiled(self, impl: Callable) -> Callable:
        """``impl`` (code of the user's that Numba calls while lowering), run under the profiler."""
        import functools
        obs = self

        @functools.wraps(impl)
        def run(*a, **kw):
            return obs.boundary(None, True, lambda: impl(*a, **kw))
        return run


def _undefined():
    from numba.core import ir
    return ir.UNDEFINED
