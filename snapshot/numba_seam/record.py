"""Recording (trace side): see every specialization Numba compiles in the training run.

Each compile result is extracted by its kind's strategy (kinds.py) right away.
"""
from __future__ import annotations

import hashlib
import itertools
import re
import weakref
import uuid
import warnings
from typing import Any, Callable

from ..image import kinds as K
from . import Patches, replay
from .compile_warnings import portable_text
from .kinds import extract
from .observe import Observer
from . import children
from .specialization import Recorded, key_passed_functions, observed_now


class Recorder(Patches):
    """Wraps Numba's add_overload and library finalization while a workload runs."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[Recorded] = []
        self.libraries: list[Any] = []
        # called with each code library the training run finalizes (CPU variants replay it)
        self.on_library: Callable[[Any], None] | None = None
        # what each compilation consulted (its entry's inputs: observe.py)
        self.observer = Observer()
        # (module, qualname, signature, exception class, code and closure) of each compilation that raised:
        # nothing to store (Numba's cache stores no failure either), but a miss of one in the
        # image process is told as what it is (create/plan.py, failed_skips)
        self.failed: list[tuple[str, str, str, str, str]] = []

    def keep_failure(self, compiler, args, exc: BaseException) -> None:
        """Record a compilation that raised (a typing error a test expects, a lowering error)."""
        from numba.core.errors import ForceLiteralArg
        if isinstance(exc, ForceLiteralArg):
            return          # Numba's request to compile again with literal types: no failure
        try:
            from ..image.identity import failure_key
            from . import signature_text
            py_func = compiler.py_func
            self.failed.append((getattr(py_func, "__module__", None) or "<dynamic>", py_func.__qualname__,
                                signature_text(args), type(exc).__name__, failure_key(py_func)))
        except Exception:  # noqa: BLE001 - only a miss reason depends on it
            pass

    def keep(self, owner, cres, kind: str) -> None:
        """Record a compile result, extracted right away: the training run must not keep the
        program's objects alive (a dispatcher it drops, and through it the arguments and frames
        its failed compilations hold), so the record keeps what the build needs, not the owner.
        Code an active image placed (a base image of an incremental build) is not recorded:
        it was not compiled, and the new image reaches it through its import table."""
        if (getattr(cres, "metadata", None) or {}).get("snap"):
            return
        if children.in_child():
            # a forked child of the training process (a multiprocessing worker): what it
            # compiles dies with it; noted, so the build says so (numba_seam/children.py)
            sig = cres.signature
            children.note(owner, sig.args, sig.return_type)
            return
        rec = Recorded(owner, cres, kind, *observed_now(owner, cres))
        try:
            rec.spec = extract(rec)
            # its readable signature now: a jitted function its types name (a key function
            # made inside a test) may be freed before the build, which then can only say so
            rec.spec.extra["signature"] = rec.spec.signature
            key_passed_functions(rec.spec)      # (the same: what identifies it, taken now)
            rec.spec.owner = None
            rec.owner = None
        except Exception:  # noqa: BLE001 - extracted again, with the error kept, at build time
            pass
        self.records.append(rec)

    def install(self) -> None:
        from numba.core import codegen, dispatcher
        from numba.np.ufunc import dufunc

        rec = self
        self.observer.install()
        self._undo.append(self.observer.uninstall)

        def add_overload(orig, self, cres):
            rec.keep(self, cres, K.DISPATCHER)
            return orig(self, cres)

        def function_compile(orig, self, args, return_type):
            # The warnings this compilation gives (NumbaTypeSafetyWarning, performance
            # warnings...) are part of what the JIT does: kept with the entry and given again
            # when it is installed. They are shown here as usual, after the compile.
            try:
                with warnings.catch_warnings(record=True) as given:
                    # all of them, also those the filters here hide: a served process's own
                    # filters decide (numba_seam/kinds.py emit_warnings, runtime/warning_filters.py)
                    warnings.simplefilter("always")
                    cres = orig(self, args, return_type)
            except Exception as e:
                rec.keep_failure(self, args, e)
                raise
            finally:        # (also those of a compilation that failed, as the JIT shows them)
                for w in given:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
            md = getattr(cres, "metadata", None)
            if isinstance(md, dict):
                # an explicit return type (eager @njit("f8(f8)")) is a compile input of its own
                md["snap_explicit_return"] = return_type is not None
                if return_type is not None and getattr(cres, "objectmode", False):
                    # object mode compiles `jit("i4(i4)", forceobj=True)` as returning pyobject:
                    # the request to match is the declared return type
                    md["snap_requested_return"] = return_type
                func = getattr(self, "py_func", None)
                md["snap_warnings"] = [(w.category, portable_text(w.message, func), w.filename, w.lineno)
                                       for w in given]
            return cres

        def finalize_final_module(orig, self):
            rec.libraries.append(self)
            replay.keep_jit_ir(self)
            if rec.on_library is not None:
                rec.on_library(self)
            return orig(self)

        def compile_for_argtys(orig, self, argtys, return_type=None):
            cres = orig(self, argtys, return_type)
            if cres is not None and (not rec.records or rec.records[-1].cres is not cres):
                rec.keep(self, cres, K.DUFUNC)
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

        # (array-expression kernels, parfor gufuncs and stencil kernels are named after
        # ``hex(hash(obj))``/``hex(id(obj))``: a module-level ``hex`` shadows the builtin)
        def stable_names_in(mod) -> None:
            mod.hex = stable_hex
            self._undo.append(lambda: mod.__dict__.pop("hex", None))

        for name in _NAMED_BY_ADDRESS:
            self.when_imported(name, stable_names_in)
        def cfunc_compile(orig, self):
            cres = orig(self)
            rec.keep(self, cres, K.CFUNC)
            return cres

        from numba.core import ccallback
        self.wrap(ccallback.CFunc, "_compile_uncached", cfunc_compile)
        # Reproducible builds: the pickles Numba embeds in code (and names globals after)
        # must not depend on which equal strings were one object (canonical_pickle.py).
        from numba.core import serialize

        from .canonical_pickle import canonical
        self.wrap(serialize, "dumps", lambda orig, obj: canonical(orig(obj)))
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
        # numba < 0.67 puts process addresses into emitted code: reproducible builds need
        # 0.67's names (releases.py, backports.py)
        from . import backports
        backports.install(self)
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


_FUNC_ADDR = re.compile(r" at 0x[0-9a-f]+>")
# Numba modules that put object addresses into the names of the code they generate
_NAMED_BY_ADDRESS = ("numba.np.ufunc.array_exprs", "numba.parfors.parfor_lowering", "numba.stencils.stencil")
