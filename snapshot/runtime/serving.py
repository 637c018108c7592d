"""Serving: Numba's compile requests answered from one activated image.

When Numba is about to compile for an owner (a first call with new argument
types, an eager signature, typing from new JIT code, a DUFunc loop, a @cfunc, a
builder's ``add``, an objmode block), the image's entry compiled for exactly
that request is installed instead, if it is valid here: same identity
(``image.identity``: code, closure, compile options, argument types) and valid
(``image.validity``: frozen global values and callees). Each kind's strategy
(``numba_seam.kinds``) computes the identity and places the code. Anything else
is a miss: the JIT compiles it, reported (``report.py``) or, in strict mode, an
error, once every active image was asked (``images.py``). A failure inside snap
never breaks the program (``errors.Guard``).
"""
from __future__ import annotations

import os
from functools import cached_property
from typing import Any, Callable, Iterator, NamedTuple

from ..errors import SnapStrictError, UnresolvedReference, Unservable, warn
from ..image import kinds as K
from ..image import validity
from ..image.fingerprint import closure_fingerprint, type_key
from ..image.freshness import Freshness
from ..image.identity import EntryKey, generated, identity_matches, key_of, other_identity
from ..image.manifest import Entry
from ..numba_seam import install as seam
from ..numba_seam import jitclass as seam_jitclass
from ..numba_seam import signature_text, split_signature
from ..numba_seam.kinds import KINDS, Kind, emit_warnings, kind_of, owner_kind
from ..numba_seam.settings import Settings, watch_environ
from ..numba_seam.standins import ImageLibrary
from . import warning_filters
from .opened import OpenedImage
from .report import record_jit

class _OwnerState(NamedTuple):
    """What the image holds for one dispatcher or DUFunc (see Runtime._state)."""
    py_func: Any
    kind: Kind | None
    by_args: dict            # argument keys -> entries of this owner's identity
    why: tuple[str, str] | None     # (miss kind, reason) when no entry has its identity
    closure: str | None = None      # the closure it was identified with (cells may be rebound)

    def literal_positions(self, n: int) -> frozenset[int]:
        """Argument positions whose recorded types are literal, for calls of ``n`` arguments."""
        return frozenset(i for keys in self.by_args if len(keys) == n
                         for i, k in enumerate(keys) if k.startswith("Literal["))


_NOTHING = _OwnerState(None, None, {}, None)


class Runtime:
    """An activated image: serves compile requests from it (see module doc)."""

    def __init__(self, path: str, *, strict: bool = False, report: str | None = None,
                 package: str | None = None, state_key: str = "_snap_state",
                 image_functions: dict[str, int] | None = None) -> None:
        self.path = path
        self.strict = strict
        self.package = package       # the library that activated it (None: the program's image)
        self._report_path = report
        self._state_key = state_key  # where this image keeps its per-owner state (one per image)
        self.image = OpenedImage(path, strict=strict, image_functions=image_functions)  # SnapError
        self.manifest = self.image.manifest
        # Numba's compiler lock: installing is what compiling would be, so it excludes the same
        # things (a JIT compile typing a call to an image function asks for this while it
        # holds that lock; a second lock taken in the other order could deadlock)
        self._lock = seam.compiler_lock()
        self.installed = 0
        self.activation_seconds = 0.0
        self._fresh = Freshness(self.manifest)
        self._settings_sets: list | None = None     # numba.config settings entries read (at first use)
        self._warned: set[str] = set()
        self._stale_by_func: dict[tuple[str, str], str] = {}   # function -> the one that changed
        self._unservable: dict[tuple[str, str], str] = {}      # function -> why no entry fits here
        self._keep: list = []        # objects image code points at (jitclass Box subclasses)
        self._has_builders = bool(set(self.manifest.kinds) & set(K.BUILDER_KINDS))
        self.bases: list[Runtime] = []     # images this one was built on (snap create --base)
        # the active images in precedence order (images.ImageSet.add sets it): a callee
        # installed with its caller comes from the first that holds it
        self.peers: Callable[[], list[Runtime]] | None = None

    @property
    def variant(self):
        """The CPU variant of the image's code this process runs (``image.variants.Variant``:
        target, LLVM CPU name, required features), chosen at activation (again at the first
        install if NUMBA_CPU_NAME or NUMBA_CPU_FEATURES changed meanwhile: the JIT fixes its
        CPU when it first compiles)."""
        return self.image.variant

    @property
    def variant_reason(self) -> str:
        """Why that variant: e.g. "x86-64-v3: the best of x86-64-v2, x86-64-v3, x86-64-v4 this CPU has"."""
        return self.image.variant_reason

    def map_now(self) -> None:
        """Strict mode: every check at activation, mapping the code included."""
        error = self.image.map(self._imports)
        if error is not None:
            from ..errors import SnapError
            raise SnapError(error)

    @property
    def _imports(self):
        """What resolves this image's imports of base symbols (None: it has no bases)."""
        return self._base_symbol if self.bases else None

    def _base_symbol(self, name: str) -> int | None:
        """The address of a base image's symbol this image imports (its base mapped first)."""
        for base in self.bases:
            if name.startswith(base.manifest.prefix) and base.load():
                try:
                    return base.image.address(name)
                except KeyError:
                    return None
        return None

    def note_compiled(self, disp) -> None:
        """A dispatcher found compiled at a late activation: identify it now (its JIT code
        is reported as kind late)."""
        self._state(disp, K.DISPATCHER)

    @property
    def loaded(self):
        return self.image.loaded

    def load(self) -> bool:
        """Map the image's code (once); False if it cannot be (warned; the JIT works)."""
        return self.image.load(self._lock, self._imports)

    # ---------------------------------------------------------------- requests (images.ImageSet)
    def serve_request(self, owner, hooked: str, args: tuple, return_type) -> Any:
        """The image's compile result for exactly this compile request (installed now), or None."""
        return self._serve_signature(owner, hooked, args, return_type)

    def holds_nothing_for(self, owner) -> bool:
        """Known from an earlier request: nothing of this dispatcher is in the image."""
        st = owner.__dict__.get(self._state_key)
        return st is not None and not st.by_args

    def serve_call(self, owner, values: tuple) -> Any:
        """First call of a dispatcher with these argument values' types: the image's compile
        result (installed now), or None."""
        return self._serve_call(owner, values)

    def serve_add(self, builder, sig) -> Any:
        """A gufunc builder's ``add``: the image's compile result, or None."""
        return self._serve_add(builder, sig) if self._has_builders else None

    def serve_once(self, owner, name: str) -> bool:
        """An objmode block or a @cfunc being compiled: installed from the image if it can be."""
        return self._serve_once(owner, name)

    # ---------------------------------------------------------------- per signature
    def _state(self, owner, hooked: str) -> _OwnerState:
        """The image entries whose identity matches ``owner``, by argument keys.

        Computed once per owner, at its first compile request: creating a dispatcher
        costs nothing, and a dispatcher made before activation is served the same way.
        """
        d = owner.__dict__
        st = d.get(self._state_key)
        if st is not None and st.closure is not None and _closure_now(st.py_func) != st.closure:
            st = d[self._state_key] = None        # a cell rebound since (nonlocal): identify again
        if st is None:
            with self._lock:
                st = d.get(self._state_key)
                if st is None:
                    st = d[self._state_key] = self._identify(owner, hooked)
                    if hooked == K.DISPATCHER and (st.by_args or st.why is not None):
                        self._note_late(owner, st)      # compiled before, and this image holds it
        return st

    def _identify(self, owner, hooked: str) -> _OwnerState:
        if hooked == K.DISPATCHER and not seam.is_plain_dispatcher(owner):
            return _NOTHING
        kind = kind_of(owner, hooked)
        py_func = kind.py_func(owner)
        if py_func is None:
            return _NOTHING
        module, qualname, options = kind.identity(owner)
        entries = self.manifest.entries_of(module, qualname)
        if not entries:
            return _OwnerState(py_func, kind, {}, None)
        key = key_of(kind.name, options, py_func)
        matched, other_code = identity_matches(entries, key)
        by_args: dict[tuple, list[Entry]] = {}
        for e in matched:
            by_args.setdefault(tuple(e.argkeys), []).append(e)
        why = None
        if not by_args:
            why = (K.MISS_NOT_IN_IMAGE, other_identity(entries, key, py_func))
            if other_code is not None:
                why = self._code_differs(other_code, py_func)
        return _OwnerState(py_func, kind, by_args, why, key.closure)

    def _code_differs(self, e: Entry, py_func) -> tuple[str, str]:
        """Miss kind and reason for a function whose code is not the code of ``e``, an entry
        of the same name: stale if its source file changed since the build (warned), else
        another function of that name (a lambda, a redefinition, generated code)."""
        if not e.generated and not generated(py_func) and not self._fresh.module_unchanged(e.module):
            function = f"{e.module}.{e.qualname}"
            self._stale(function, e)
            return (K.MISS_STALE, f"{function} changed")
        return (K.MISS_NOT_IN_IMAGE, "the image holds another function of this name (its code differs)")

    def _serve_call(self, owner, values: tuple) -> Any:
        st = self._state(owner, K.DISPATCHER)
        if not st.by_args:
            return None
        try:
            args = seam.argument_types(owner, values)
        except Exception:  # noqa: BLE001 - an argument Numba cannot type: its own path says so
            return None
        cres = self._serve_signature(owner, K.DISPATCHER, args, None)
        if cres is not None:
            seam.count_compile(owner, args)      # as Numba's compile(args) would
            return cres
        # a function that asks for literal arguments was compiled (and recorded) for
        # their literal types: what Numba's ForceLiteralArg retry would compile
        literal = seam.literal_types(values, args, st.literal_positions(len(args)))
        if literal is not None:
            cres = self._serve_signature(owner, K.DISPATCHER, literal, None)
            if cres is not None:
                # the JIT's first compile(args) raised ForceLiteralArg after counting its
                # miss, then compile(literal) counted the literal one
                seam.count_compile(owner, args)
                seam.count_compile(owner, literal)
        return cres

    def _serve_signature(self, owner, hooked: str, args: tuple, return_type) -> Any:
        """Install and return the entry compiled exactly for this request, if the image has
        a valid one (identity, then frozen globals and callees; see image/validity.py)."""
        st = self._state(owner, hooked)
        if not st.by_args:
            return None
        try:
            keys = tuple(type_key(t) for t in args)
            ret = type_key(return_type) if return_type is not None else None
        except Exception:  # noqa: BLE001 - e.g. a freed dispatcher in a type: not servable
            return None
        # a lazy request takes what a lazy compile produced; an explicit return type takes
        # an entry of that return type (an inferred one equal to it compiles the same code)
        candidates = [e for e in st.by_args.get(keys, ())
                      if (e.ret == ret if ret is not None else not e.explicit)]
        if not candidates or not self.load():
            return None
        with self._lock:
            if seam.has_overload(owner, args):     # a racing thread installed it
                return seam.get_overload(owner, args)
            invalid = []
            for e in candidates:          # variants: one per global configuration recorded
                verdict = validity.check_entry(e, st.py_func, self._fresh_dep, self._settings_changed,
                                                 self._fresh.module_unchanged)
                if not verdict.ok:
                    invalid.append((e, verdict))
                    continue
                cres = self._try_install(owner, st.kind, e, args)
                if cres is not None:
                    if e.callees:
                        self._install_callees(st.py_func, e, cres)
                    return cres
            if invalid:
                self._invalid(*invalid[0])
        return None

    def _install_callees(self, py_func, e: Entry, cres) -> None:
        """The callees' specializations compiling ``e`` compiled (``Entry.callees``), installed
        into their dispatchers with it: under the JIT, typing a call to a dispatcher compiles
        it (``compile(args)``: an overload, a counted miss), so its ``overloads``,
        ``signatures`` and ``stats`` read the same after its caller alone was compiled. Only
        dispatchers Numba's typing finds (``seam.callee_dispatchers``); a callee holding its
        specialization already is left as it is (recursion ends there)."""
        found = seam.callee_dispatchers(py_func, (*cres.signature.args, cres.signature.return_type),
                                        frozenset(qualname for _, qualname, _ in e.callees))
        overloads_searched = False
        for module, qualname, argkeys in e.callees:
            callee = found.get((module, qualname))
            if callee is None and not overloads_searched:
                # called from an @overload's implementation: found through the overload function
                overloads_searched = True
                found = {**seam.overload_callee_dispatchers(py_func), **found}
                callee = found.get((module, qualname))
            if callee is None or not callee._can_compile:
                continue        # not reachable
            keys = tuple(argkeys)
            if any(k.startswith("omitted(") for k in keys) or seam.holds_keys(callee, keys):
                # (an omitted default is keyed by its object: installed when typing asks for it)
                continue
            # from the first active image holding it, as a request of the callee's own would be
            for rt in (self.peers() if self.peers is not None else (self,)):
                if not rt.holds_nothing_for(callee) and rt._install_callee(callee, keys):
                    break

    def _install_callee(self, callee, keys: tuple) -> bool:
        """Install this image's valid entry of ``callee`` for ``keys`` (and its callees)."""
        st = self._state(callee, K.DISPATCHER)
        candidates = st.by_args.get(keys, ())
        if not candidates or not self.load():       # (mapped at its first install)
            return False
        for ce in candidates:
            if ce.explicit or not validity.check_entry(ce, st.py_func, self._fresh_dep, self._settings_changed,
                                                       self._fresh.module_unchanged).ok:
                continue
            installed = self._try_install(callee, st.kind, ce)
            if installed is not None:
                seam.count_compile(callee, tuple(installed.signature.args))
                if ce.callees:
                    self._install_callees(st.py_func, ce, installed)
                return True
        return False

    def _note_late(self, owner, st: _OwnerState) -> None:
        """A dispatcher compiled before activation keeps its JIT code: say so, once."""
        compiled = [args for args, cres in seam.owner_overloads(owner).items()
                    if not isinstance(cres.library, ImageLibrary)]
        if not compiled:
            return
        name = "%s:%s" % (st.py_func.__module__, st.py_func.__qualname__)
        for args in compiled:
            record_jit(self._report_path, K.MISS_LATE, name, signature_text(args),
                       "compiled before the image was activated")
        if K.MISS_LATE not in self._warned:
            self._warned.add(K.MISS_LATE)
            warn(f"snap: {name.replace(':', '.')} was compiled before the image "
                 f"{os.path.basename(self.path)} was activated and keeps its JIT code; activate the "
                 "image before the program's jitted functions first run (SNAP_SYSIMAGE, snap run, "
                 "or snapshot.activate() first thing; for workers, snapshot.dask's nanny "
                 "plugin or `--preload snapshot.dask`, snapshot.ray.runtime_env)")

    def _fresh_dep(self, dep, own_globals: dict | None = None) -> bool:
        """Is code an entry consulted (a callee, a typing function...) unchanged here?"""
        return self._fresh.fresh(dep.module, dep.qualname, dep.code, own_globals)

    def _settings_changed(self, i: int) -> str | None:
        """What differs now in the numba.config settings of set ``i`` (None: nothing)."""
        sets = self._settings_sets
        if sets is None:
            watch_environ()
            sets = self._settings_sets = [Settings(s) for s in self.manifest.settings]
        return sets[i].changed() if 0 <= i < len(sets) else None

    # ---------------------------------------------------------------- once / per add
    def _serve_once(self, owner, name: str) -> bool:
        """An objmode block (every valid entry) or a @cfunc (the one of its signature),
        compiled once: install from the image now. True if something was installed."""
        kind = KINDS[name]
        argkeys = [type_key(t) for t in kind.declared_args(owner)] if name == K.CFUNC else None
        with self._lock:
            entries = self._fresh_for(owner, kind, argkeys)
            if entries and not self.load():
                return False
            installed = 0
            for e in entries:
                if self._try_install(owner, kind, e) is not None:
                    installed += 1
                    if name == K.CFUNC:       # compiled once: one entry
                        break
            return installed > 0

    def _serve_add(self, builder, sig) -> Any:
        """A builder's ``add(sig)``: the image's compile result for its kernel, or None."""
        kind = owner_kind(builder)
        keys = [type_key(t) for t in split_signature(sig)[0]]
        with self._lock:
            entries = self._fresh_for(builder, kind, keys)
            if not entries or not self.load():
                return None
            return self._try_install(builder, kind, entries[0])

    def _fresh_for(self, owner, kind: Kind, argkeys: list | None) -> list[Entry]:
        """The valid entries of ``owner``'s identity (of these argument keys, if given)."""
        py_func = kind.py_func(owner)
        module, qualname, options = kind.identity(owner)
        entries = self.manifest.entries_of(module, qualname)
        if not entries:
            return []
        accept = (lambda e: True) if argkeys is None else (lambda e: e.argkeys == argkeys)
        return list(self.fresh_entries(py_func, entries, key_of(kind.name, options, py_func), accept))

    def fresh_entries(self, py_func, entries: list[Entry], key: EntryKey,
                      accept=lambda e: True) -> Iterator[Entry]:
        """The entries of ``key``'s identity (that ``accept`` takes) valid for ``py_func`` here
        (validity.py): callees unchanged, frozen globals equal. A stale one is reported (a
        warning, or an error in strict mode)."""
        matched, other_code = identity_matches(entries, key, accept)
        if not matched and other_code is not None:
            self._code_differs(other_code, py_func)
        for e in matched:
            verdict = validity.check_entry(e, py_func, self._fresh_dep, self._settings_changed,
                                               self._fresh.module_unchanged)
            if not verdict.ok:
                self._invalid(e, verdict)
                continue
            yield e

    # ---------------------------------------------------------------- install
    def _try_install(self, owner, kind: Kind, e: Entry, args: tuple | None = None) -> Any:
        """``_install``, or None after reporting a broken entry (it must not break the program).
        An entry that cannot serve this owner here (``Unservable``) is no error: another entry of
        the same identity may (one per class a factory made), else the miss gives the reason."""
        try:
            return self._install(owner, kind, e, args)
        except Unservable as exc:
            self._unservable[e.key()] = str(exc)
            return None
        except Exception as exc:  # noqa: BLE001
            self._unusable(e, exc)
            return None

    def _install(self, owner, kind: Kind, e: Entry, args: tuple | None = None) -> Any:
        """Install one entry into ``owner``; its compile result, or None when ``args`` (the
        requested types) are not exactly the entry's (keys are a pre-filter)."""
        if warning_filters.refuse(self, e):    # the filters raise a compile warning: the JIT's way
            return None
        data = None
        if args is not None:
            data = self.image.payload(e, args)
            if not seam.same_types(data.args, args):
                return None
            data = data._replace(args=tuple(args))     # e.g. this process's Omitted defaults
        if e.threads:        # before its code can run: the threading layer, as compiling it starts it
            self.image.start_threads()
        code = self.image.code(e, kind.target_context(owner), data, kind.py_func(owner))
        if self.bases:
            self._prepare_bases(e)
        mapped = self.image.mapped
        extra = getattr(code.data, "extra", None) or {}
        for role, sym in e.symbols.items():
            if role.startswith("box:"):        # jitclass boxing code: this process's Box subclass
                seam_jitclass.fill_box_slot(mapped.address(sym), extra[role], self._keep)
        if "class_ids" in extra:               # classes it raises: this process's own
            seam.track_classes(kind.py_func(owner), extra["class_ids"], code.data.args)
        emit_warnings(extra, kind.py_func(owner))          # what compiling it warned
        cres = kind.place(owner, code, e, mapped)
        if kind.inspectable:        # what compiles it again if inspected: as it was compiled
            code.library.set_source(owner, code.data.return_type if e.explicit else None,
                                    self.manifest.settings[e.settings] if e.settings >= 0 else None)
        self.installed += 1
        return cres

    def _prepare_bases(self, e: Entry) -> None:
        """The base images' code ``e`` calls reads its environments and address slots: filled
        now, also for base entries never installed in this process."""
        for dep in e.deps:
            for base in self.bases:
                for be in base.manifest.entries_of(dep.module, dep.qualname):
                    if be.code == dep.code and base.load():
                        base.image.fill_slots(be)
                        if be.threads:
                            base.image.start_threads()

    # ---------------------------------------------------------------- misses
    def _unusable(self, e: Entry, exc: Exception) -> None:
        if isinstance(exc, UnresolvedReference):
            why = f"it refers to {exc}, which does not exist in this process"
        elif isinstance(exc, Unservable):
            why = str(exc)
        else:
            why = f"{type(exc).__name__}: {exc}"
        msg = (f"snap: cannot install {e.module}.{e.qualname}{e.signature} from the image "
               f"{os.path.basename(self.path)} ({why})")
        if self.strict:         # (nothing is compiled: the program stops here)
            raise SnapStrictError(msg + " (strict mode)") from exc
        warn(msg + "; it will be JIT-compiled")

    def _invalid(self, e: Entry, verdict: validity.Verdict) -> None:
        """An entry of the right identity that is not valid here (an input it consulted changed:
        code, a value, a setting)."""
        self._stale_by_func[e.key()] = verdict.reason
        since = (f"since the image {os.path.basename(self.path)} was built" if verdict.reason.endswith("changed")
                 else f"(image {os.path.basename(self.path)})")
        self._warn_stale(verdict.function, f"{verdict.reason} {since}; {e.module}.{e.qualname}{e.signature}")

    def _stale(self, function: str, e: Entry) -> None:
        self._stale_by_func[e.key()] = f"{function} changed"
        self._warn_stale(function, f"{function} changed since the image {os.path.basename(self.path)} "
                         f"was built; {e.module}.{e.qualname}")

    def _warn_stale(self, function: str, what: str) -> None:
        """``what`` will be JIT-compiled: an error in strict mode, else warned once per function."""
        if self.strict:         # (nothing is compiled: the program stops here)
            raise SnapStrictError(f"snap: {what} is stale, not served (strict mode)")
        if function not in self._warned:
            self._warned.add(function)
            warn(f"snap: {what} will be JIT-compiled")

    @cached_property
    def _skipped(self) -> dict[tuple[str, str], list[tuple[str, str]]]:
        """(module, qualname) -> [(signature, why the image does not serve it)] (read at the
        first miss)."""
        out: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
        for s in self.manifest.skipped:
            out.setdefault((s.module, s.qualname), []).append((s.signature, s.reason, s.code))
        return out

    def _skipped_reason(self, owner, key: tuple[str, str], sig: str) -> str | None:
        """Why ``snap create`` left this function (this signature of it, if listed) to the JIT."""
        listed = self._skipped.get(key)
        if not listed:
            return None
        code = None
        for signature, reason, failed_code in listed:
            if signature == sig or signature.startswith(sig + " -> "):
                if not failed_code:
                    return reason
                if code is None:        # a failed compilation: of that code only
                    code = _code_now(owner)
                if failed_code == code:
                    return reason
        # (a failed compilation is of its signature only: another may well compile)
        listed = [reason for _, reason, failed_code in listed if not failed_code]
        return listed[0] if listed and not self.manifest.has(*key) else None

    def miss_reason(self, owner, key: tuple[str, str], sig: str) -> tuple[str, str] | None:
        """(miss kind, reason) this image gives for a compilation it did not serve, or None when
        it holds nothing of the function (another image may say more)."""
        st = getattr(owner, "__dict__", {}).get(self._state_key)
        if self.image.load_error is not None:
            return K.MISS_REFUSED, self.image.load_error
        if key in self.image.filtered:
            return warning_filters.reason(self, key)
        if key in self._stale_by_func:
            return K.MISS_STALE, self._stale_by_func[key]
        if key in self._unservable:
            return K.MISS_NOT_SERVABLE, self._unservable[key]
        skipped = self._skipped_reason(owner, key, sig)
        if skipped is not None:
            return K.MISS_NOT_SERVABLE, skipped
        if st is not None and st.why is not None:
            return st.why
        if self.manifest.has(*key):
            return K.MISS_NOT_IN_IMAGE, "signature not in the image"
        return None

    def __repr__(self) -> str:
        return f"<snap image {self.path!r}{f' of {self.package}' if self.package else ''}>"


def _code_now(owner) -> str:
    """``identity.failure_key`` of the function ``owner`` compiles ("-" if it has none)."""
    from ..image.identity import failure_key
    from ..numba_seam import owner_py_func
    try:
        return failure_key(owner_py_func(owner))
    except Exception:  # noqa: BLE001 - only a miss reason depends on it
        return "-"


def _closure_now(py_func) -> str | None:
    try:
        return closure_fingerprint(py_func)
    except Exception:  # noqa: BLE001 - as key_of: a closure that cannot be fingerprinted
        return "?"
