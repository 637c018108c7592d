"""Run: activate an image in this process and serve dispatchers from it.

Activation (once): read and verify the file, read the manifest's header, check
the fingerprint and CPU against this process, hook Numba. Creating a dispatcher
costs nothing. When Numba is about to compile a signature (a first call with new
argument types, an eager signature, typing from new JIT code), the image's entry
compiled for exactly that request is installed instead, if it is valid here
(snapshot/validity.py: same code, closure, compile options, argument types,
frozen global values and callees); a dispatcher made before activation is
served the same way. The first install maps the code (``dlopen``, import table):
a process that never runs image code pays nothing for it. No compilation.
Anything the image does not serve falls back to Numba's JIT; misses can be
reported (JSON lines) or, in strict mode, made errors.
"""
from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time
import warnings
from functools import cached_property
from typing import Any, Iterator, NamedTuple

import linker

from . import numba_seam, validity
from .numba_seam import install as seam
from .numba_seam import jitclass as seam_jitclass
from .errors import SnapError, SnapStrictError, SnapWarning, warn_image
from .fingerprint import machine_fingerprint
from .freshness import Freshness
from .hostcache import host_facts
from .manifest import MANIFEST_SECTION, PAYLOAD_SECTION, Entry, Manifest, ManifestError, ManifestIndex
from .payload import Payloads, UnresolvedReference, dumps_types, loads_entry


def incompatibilities(manifest: "Manifest | ManifestIndex") -> list[str]:
    """Why this process cannot run the image's code (empty list: it can)."""
    problems = []
    triple, features = host_facts()
    here = {**machine_fingerprint(triple), "numba_config": numba_seam.numba_config()}
    keys = sorted(set(manifest.fingerprint) | set(here)) if manifest.fingerprint != here else []
    for key in keys:
        want, have = manifest.fingerprint.get(key), here.get(key)
        if want != have:
            if isinstance(want, dict) and isinstance(have, dict):
                diff = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
                problems.append("numba config differs: " + ", ".join(
                    f"{k}={want.get(k, '(absent)')} (image) vs {have.get(k, '(absent)')} (here)"
                    for k in diff))
            else:
                problems.append(f"{key} {want} (image) vs {have} (here)")
    missing = sorted(set(manifest.cpu.get("features", [])) - features)
    if missing:
        problems.append(f"this CPU lacks features the image needs: {', '.join(missing)}")
    return problems


# NamedTuples, not dataclasses, on the activation import path: ~0.25 ms vs ~1.4 ms to create.
class _ImageCode(NamedTuple):
    """An entry's code, ready to be wrapped into what its kind of owner keeps."""
    data: Any            # the entry's unpickled payload (types, constants)
    env: Any             # its Numba Environment
    fndesc: Any
    library: Any         # seam.ImageLibrary


class Runtime:
    """An activated image."""

    def __init__(self, path: str, *, strict: bool = False, report: str | None = None) -> None:
        self.path = path
        self.strict = strict
        self._report_path = report
        self._lock = threading.RLock()
        self.installed = 0
        self.activation_seconds = 0.0
        try:
            image = linker.ImageFile.open(path, headers=False)   # the directory is enough
        except (linker.LinkError, OSError) as e:
            raise SnapError(f"cannot use image {path}: {_without_path(e, path)}") from None
        try:
            self.manifest = ManifestIndex.from_bytes(image.section(MANIFEST_SECTION))
            blobs = image.section(PAYLOAD_SECTION)
        except (KeyError, ManifestError) as e:
            raise SnapError(f"cannot use image {path}: {_without_path(e, path)}") from None
        try:
            problems = incompatibilities(self.manifest)
        except (TypeError, ValueError, AttributeError) as e:   # fields of the wrong type
            raise SnapError(f"cannot use image {path}: corrupted manifest ({e})") from None
        if problems:
            raise SnapError(f"image {path} was built for another environment: " + "; ".join(problems))
        # Code is mapped at the first install (load()), not here: a process that never calls
        # image code pays no dlopen, and a parfors image starts no threads at import.
        self._image: linker.ImageFile | None = image     # None once mapping began (or failed)
        self.loaded: linker.LoadedImage | None = None
        self._load_error: str | None = None
        try:
            self._blobs = Payloads(blobs)
        except ValueError as e:
            raise SnapError(f"cannot use image {path}: corrupted payload ({e})") from None
        self._fresh = Freshness(self.manifest)
        self._warned: set[str] = set()
        self._stale_by_func: dict[tuple[str, str], str] = {}   # function -> the one that changed
        self._keep: list = []        # objects image code points at (jitclass Box subclasses)
        self._envs: dict[str, Any] = {}     # environments whose addresses are in env slots
        self._gufuncs = None         # GufuncServer, made at the first builder add
        self._typeof_light = False   # seam.lighten_array_typeof done (at the first install)
        if strict:                   # strict: every check at activation, loading included
            error = self._map()
            if error is not None:
                raise SnapError(error)

    def load(self) -> bool:
        """Map the image's code once, at the first install. False if that failed: warned
        once (an error in strict mode); the JIT then compiles what the image would serve."""
        if self.loaded is None:
            with self._lock:
                # _image is None from the start of _map on: mapped, failed, or (image code
                # used from inside the mapping itself) under way, which gets the JIT
                if self._image is not None:
                    self._load_error = self._map()
                    if self._load_error is not None:
                        if self.strict:
                            raise SnapStrictError(f"snap: {self._load_error} (strict mode)")
                        warn_image(f"snap: {self._load_error}; running on the JIT")
        return self.loaded is not None

    def _map(self) -> str | None:
        """dlopen, import table, constructors (None), or why not."""
        image, self._image = self._image, None
        try:
            seam.prepare_runtime(parfors=self.manifest.parfors)    # before any image code runs
            self.loaded = image.load(seam.make_resolver())
            return None
        except linker.LinkError as e:
            return f"cannot load image {self.path}: {e}"
        except Exception as e:  # noqa: BLE001 - e.g. no threading layer, out of descriptors
            return f"cannot load image {self.path}: {type(e).__name__}: {e}"
        finally:
            image.close()

    # ---------------------------------------------------------------- hooks
    def on_create(self, owner, kind: str) -> None:
        """An objmode block is about to be compiled: install its entry now."""
        self._guarded(self._serve, owner, kind)

    def on_compile(self, owner, sig) -> Any:
        """Numba is about to compile ``sig`` for ``owner`` (a dispatcher or DUFunc): the
        image's compile result for exactly that request (installed now), or None after
        reporting the miss (the JIT then compiles)."""
        return self._guarded(self._on_compile, owner, sig)

    def serve_call(self, owner, values: tuple) -> Any:
        """First call of a dispatcher with these argument values' types: the image's compile
        result (installed now), or None (Numba's own path follows and reports any miss)."""
        st = owner.__dict__.get(_STATE)
        if st is not None and not st.by_args:
            return None           # known: nothing of this dispatcher is in the image
        return self._guarded(self._serve_call, owner, values)

    def serve_cfunc(self, owner) -> bool:
        """A @cfunc is being compiled: take its code from the image instead (True if served)."""
        return bool(self._guarded(self._serve_cfunc, owner))

    def serve_builder(self, builder, sig) -> Any:
        """A gufunc builder's ``add``: the image's compile result, or None (the JIT compiles)."""
        if self._gufuncs is None:
            from .gufuncs import GufuncServer
            self._gufuncs = GufuncServer(self)
        return self._gufuncs.on_add(builder, sig)

    def _guarded(self, hook, owner, *args):
        """A failure inside snap must never break the user's program: warn, let the JIT work."""
        try:
            with _NoGC():
                return hook(owner, *args)
        except SnapStrictError:
            raise
        except Exception as e:  # noqa: BLE001
            if self.strict:
                raise
            if "internal" not in self._warned:
                self._warned.add("internal")
                warn(f"snap: internal error ({type(e).__name__}: {e}); the JIT takes over "
                     "for what the image could not serve")
            return None

    # ---------------------------------------------------------------- per signature
    def _state(self, owner, kind: str) -> "_OwnerState":
        """The image entries whose identity matches ``owner`` (validity.py), by argument keys.

        Computed once per owner, at its first compile request: creating a dispatcher
        costs nothing, and a dispatcher made before activation is served the same way.
        """
        d = owner.__dict__
        st = d.get(_STATE)
        if st is None:
            with self._lock:
                st = d.get(_STATE)
                if st is None:
                    st = d[_STATE] = self._identify(owner, kind)
                    if kind == "dispatcher" and st.py_func is not None:
                        self._note_late(owner, st)
        return st

    def _identify(self, owner, kind: str) -> "_OwnerState":
        py_func = seam.owner_py_func(owner)
        if py_func is None or (kind == "dispatcher" and not seam.is_plain_dispatcher(owner)):
            return _OwnerState(None, {}, None)
        module, qualname, suffix = py_func.__module__, py_func.__qualname__, ""
        part = owner.__dict__.get(seam_jitclass.PART_IDENTITY)
        if part is not None:          # a jitclass part: named after its class (jitclass.py)
            kind, (module, qualname, suffix) = "jitclass", part
        entries = self.manifest.entries_of(module, qualname)
        if not entries:
            return _OwnerState(py_func, {}, None)
        options = numba_seam.compile_options(owner, "dispatcher" if part else kind) + suffix
        matched, other_code = validity.identity_matches(entries, validity.key_of(kind, options, py_func))
        by_args: dict[tuple, list[Entry]] = {}
        for e in matched:
            by_args.setdefault(tuple(e.argkeys), []).append(e)
        why = None
        if not by_args:
            why = ("not in image", "compiled with other options, locals or closure values")
            if other_code is not None:
                why = self._code_differs(other_code, py_func)
        return _OwnerState(py_func, by_args, why)

    def _code_differs(self, e: Entry, py_func) -> tuple[str, str]:
        """Miss kind and reason for a function whose code is not the code of ``e``, an entry
        of the same name: stale if its source file changed since the build (warned), else
        another function of that name (a lambda, a redefinition, generated code)."""
        if not e.generated and not validity.generated(py_func) and not self._fresh.module_unchanged(e.module):
            function = f"{e.module}.{e.qualname}"
            self._stale(function, e)
            return ("stale", f"{function} changed")
        return ("not in image", "the image holds another function of this name (its code differs)")

    def _on_compile(self, owner, sig) -> Any:
        kind = "dufunc" if hasattr(owner, "_dispatcher") else "dispatcher"
        try:
            args, return_type = numba_seam.split_signature(sig)
        except Exception:  # noqa: BLE001 - Numba reports a bad signature its own way
            return None
        if seam.has_overload(owner, args):
            return None           # compiled already: Numba returns it
        cres = self._serve_signature(owner, kind, args, return_type)
        if cres is None and not seam.is_nested_compile():
            self._miss(owner, args)
        return cres

    def _serve_call(self, owner, values: tuple) -> Any:
        st = self._state(owner, "dispatcher")
        if not st.by_args:
            return None
        try:
            args = seam.argument_types(owner, values)
        except Exception:  # noqa: BLE001 - an argument Numba cannot type: its own path says so
            return None
        cres = self._serve_signature(owner, "dispatcher", args, None)
        if cres is None:
            # a function that asks for literal arguments was compiled (and recorded) for
            # their literal types: what Numba's ForceLiteralArg retry would compile
            literal = seam.literal_types(values, args, st.literal_positions(len(args)))
            if literal is not None:
                cres = self._serve_signature(owner, "dispatcher", literal, None)
        return cres

    def _serve_signature(self, owner, kind: str, args: tuple, return_type) -> Any:
        """Install and return the entry compiled exactly for this request, if the image has
        a valid one (identity, then frozen globals and callees; see validity.py)."""
        st = self._state(owner, kind)
        if not st.by_args:
            return None
        try:
            keys = tuple(numba_seam.type_key(t) for t in args)
            ret = numba_seam.type_key(return_type) if return_type is not None else None
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
                verdict = validity.check_entry(e, st.py_func, self._deps_changed)
                if not verdict.ok:
                    invalid.append((e, verdict))
                    continue
                try:
                    cres = self._install(owner, kind, e, args)
                except Exception as exc:  # noqa: BLE001 - a broken entry must not break the program
                    self._unusable(e, exc)
                    continue
                if cres is not None:
                    return cres
            if invalid:
                self._invalid(*invalid[0])
        return None

    def _note_late(self, owner, st: "_OwnerState") -> None:
        """A dispatcher compiled before activation keeps its JIT code: say so, once."""
        compiled = [args for args, cres in seam.owner_overloads(owner).items()
                    if not isinstance(cres.library, seam.ImageLibrary)]
        if not compiled:
            return
        name = "%s:%s" % (st.py_func.__module__, st.py_func.__qualname__)
        for args in compiled:
            record_jit(self._report_path, "late", name, numba_seam.signature_text(args),
                       "compiled before the image was activated")
        if "late" not in self._warned:
            self._warned.add("late")
            warn(f"snap: {name.replace(':', '.')} was compiled before the image "
                 f"{os.path.basename(self.path)} was activated and keeps its JIT code; activate the "
                 "image before the program's jitted functions first run (SNAP_SYSIMAGE, snap run, "
                 "or snapshot.runtime.activate() first thing; for workers, snapshot.dask's nanny "
                 "plugin or `--preload snapshot.dask`, snapshot.ray.runtime_env)")

    def _deps_changed(self, e: Entry) -> str | None:
        """The callee compiled into ``e`` whose code changed since the build, or None."""
        for dep in e.deps:
            if not self._fresh.fresh(dep.module, dep.qualname, dep.code):
                return f"{dep.module}.{dep.qualname}"
        return None

    # ---------------------------------------------------------------- install-all kinds
    def _serve(self, owner, kind: str) -> None:
        """Install ``owner``'s valid entries of ``kind`` (an objmode block: compiled once)."""
        py_func = owner.py_func
        entries = self.manifest.entries_of(py_func.__module__, py_func.__qualname__)
        if entries:
            key = validity.key_of(kind, numba_seam.compile_options(owner, kind), py_func)
            with self._lock:
                self._install_now(owner, kind, list(self.fresh_entries(py_func, entries, key)))

    def _serve_cfunc(self, owner) -> bool:
        py_func = owner._pyfunc
        entries = self.manifest.entries_of(py_func.__module__, py_func.__qualname__)
        if not entries:
            return False
        keys = [numba_seam.type_key(t) for t in owner._sig.args]
        key = validity.key_of("cfunc", numba_seam.compile_options(owner, "cfunc"), py_func)
        with self._lock:
            matching = list(self.fresh_entries(py_func, entries, key, lambda e: e.argkeys == keys))
            # a @cfunc is compiled once, now
            return self._install_now(owner, "cfunc", matching[:1]) > 0

    def fresh_entries(self, py_func, entries: list[Entry], key: "validity.EntryKey",
                      accept=lambda e: True) -> Iterator[Entry]:
        """The entries of ``key``'s identity (that ``accept`` takes) valid for ``py_func`` here
        (validity.py): callees unchanged, frozen globals equal. A stale one is reported (a
        warning, or an error in strict mode)."""
        matched, other_code = validity.identity_matches(entries, key, accept)
        if not matched and other_code is not None:
            self._code_differs(other_code, py_func)
        for e in matched:
            verdict = validity.check_entry(e, py_func, self._deps_changed)
            if not verdict.ok:
                self._invalid(e, verdict)
                continue
            yield e

    def _install_now(self, owner, kind: str, entries: list[Entry]) -> int:
        """Install ``entries``; a broken one is reported. Returns how many installed."""
        installed = 0
        if entries and not self.load():
            return 0
        for e in entries:
            try:
                self._install(owner, kind, e)
                installed += 1
            except Exception as exc:  # noqa: BLE001 - a broken entry must not break the program
                self._unusable(e, exc)
        return installed

    @cached_property
    def _skipped(self) -> dict[tuple[str, str], list[tuple[str, str]]]:
        """(module, qualname) -> [(signature, why the image does not serve it)] (read at the
        first miss)."""
        out: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for s in self.manifest.skipped:
            out.setdefault((s.module, s.qualname), []).append((s.signature, s.reason))
        return out

    def _skipped_reason(self, key: tuple[str, str], sig: str) -> str | None:
        """Why ``snap create`` left this function (this signature of it, if listed) to the JIT."""
        listed = self._skipped.get(key)
        if not listed:
            return None
        for signature, reason in listed:
            if signature == sig or signature.startswith(sig + " -> "):
                return reason
        return listed[0][1] if not self.manifest.has(*key) else None

    def image_code(self, e: Entry, targetctx, data: Any = None) -> "_ImageCode":
        """What every kind of entry needs from the image: payload, address slots and
        environments filled, the function descriptor and the library standing in for it."""
        if not self._typeof_light:            # before the first call of image code types its arguments
            self._typeof_light = True
            seam.lighten_array_typeof()
        if data is None:
            data = loads_entry(self._blobs[e.payload])
        prefix = self.manifest.prefix
        addr = self.loaded.address
        if e.dynamic:
            from .numba_seam import addresses as address_slots   # only images with slots need it
            address_slots.fill_slots(e.dynamic, addr)    # before anything can call the code
        envs = {}
        for env_sym in e.envs:
            name = env_sym[len(prefix):]
            module_name, consts = data.envs.get(name, (e.module, []))
            env = seam.make_environment(module_name, consts, name)
            seam.set_env_slot(addr(env_sym), env)
            envs[name] = env
            # The slot holds a bare pointer, and Numba's registry of environments is weak:
            # keep each one alive as long as the image's code may run (the process), also
            # those of callees whose own entries are never installed.
            self._envs[name] = env
        mangled = e.symbols["function"][len(prefix):]
        env_name = e.symbols["env"][len(prefix):]
        env = envs.get(env_name) or seam.make_environment(e.module, [], env_name)
        addresses = {role_sym[len(prefix):]: addr(role_sym) for role_sym in e.symbols.values()}
        if _hooks is not None:
            _hooks.image_functions[mangled] = addresses[mangled]
        fndesc = seam.make_fndesc(data.fndesc, mangled, env_name, data.args, data.return_type)
        library = seam.ImageLibrary(f"{e.module}.{e.qualname}", addresses, prefix, fndesc, targetctx)
        return _ImageCode(data, env, fndesc, library)

    def _install(self, owner, kind: str, e: Entry, args: tuple | None = None) -> Any:
        """Install one entry into ``owner``; its compile result, or None when ``args`` (the
        requested types) are not exactly the entry's (keys are a pre-filter)."""
        data = None
        if args is not None:
            data = loads_entry(self._blobs[e.payload])
            if not seam.same_types(data.args, args):
                return None
            data = data._replace(args=tuple(args))     # e.g. this process's Omitted defaults
        desc_owner = owner._dispatcher if kind == "dufunc" else owner
        code = self.image_code(e, seam.target_context(desc_owner), data)
        data, env, fndesc, library = code.data, code.env, code.fndesc, code.library
        extra = getattr(data, "extra", None) or {}
        prefix = self.manifest.prefix
        addr = self.loaded.address
        for role, sym in e.symbols.items():
            if role.startswith("box:"):        # jitclass boxing code: this process's Box subclass
                seam_jitclass.fill_box_slot(addr(sym), extra[role], self._keep)
        if "class_ids" in extra:               # classes it raises: this process's own
            seam.track_classes(seam.owner_py_func(owner), extra["class_ids"])
        for category, message, filename, lineno in extra.get("warnings", ()):
            warnings.warn_explicit(message, category, filename, lineno)    # what compiling it warned
        if kind == "cfunc":
            cres = seam.make_compile_result(owner, fndesc=fndesc, library=library, env=env,
                                            entry_point=None, args=data.args,
                                            return_type=data.return_type)
            seam.install_cfunc(owner, cres, addr(e.symbols["cfunc"]), e.symbols["cfunc"][len(prefix):])
        elif kind != "dufunc":
            entry_point = seam.make_entry_point(e.module, e.qualname, addr(e.symbols["wrapper"]),
                                                env, (library, self.loaded))
            cres = seam.make_compile_result(owner, fndesc=fndesc, library=library, env=env,
                                            entry_point=entry_point, args=data.args,
                                            return_type=data.return_type,
                                            objectmode=kind == "objmode")
            seam.install_dispatcher_overload(owner, cres)
            if "generator" in extra:     # its functions by their names in the image (stable names)
                gen = {**extra["generator"], "roles": {r: e.symbols[r][len(prefix):]
                                                       for r in extra["generator"]["roles"]}}
                seam.register_generator(owner, library, fndesc, gen, data.return_type)
        else:
            cres = seam.make_compile_result(owner._dispatcher, fndesc=fndesc, library=library, env=env,
                                            entry_point=None, args=data.args,
                                            return_type=data.return_type)
            seam.install_dufunc_loop(owner, cres, addr(e.symbols["loop"]))
        self.installed += 1
        return cres

    # ---------------------------------------------------------------- misses
    def _unusable(self, e: Entry, exc: Exception) -> None:
        if isinstance(exc, UnresolvedReference):
            why = f"it refers to {exc}, which does not exist in this process"
        else:
            why = f"{type(exc).__name__}: {exc}"
        msg = (f"snap: cannot install {e.module}.{e.qualname}{e.signature} from the image "
               f"{os.path.basename(self.path)} ({why}); it will be JIT-compiled")
        if self.strict:
            raise SnapStrictError(msg + " (strict mode)") from exc
        warn(msg)

    def _invalid(self, e: Entry, verdict: "validity.Verdict") -> None:
        """An entry of the right identity that is not valid here (a global or a callee changed)."""
        self._stale_by_func[e.key()] = verdict.reason
        msg = (f"snap: {verdict.reason} since the image {os.path.basename(self.path)} was built; "
               f"{e.module}.{e.qualname}{e.signature} will be JIT-compiled")
        if self.strict:
            raise SnapStrictError(msg + " (strict mode)")
        if verdict.function not in self._warned:
            self._warned.add(verdict.function)
            warn(msg)

    def _stale(self, function: str, e: Entry) -> None:
        msg = (f"snap: {function} changed since the image {os.path.basename(self.path)} was built; "
               f"{e.module}.{e.qualname} will be JIT-compiled")
        self._stale_by_func[e.key()] = f"{function} changed"
        if self.strict:
            raise SnapStrictError(msg + " (strict mode)")
        if function not in self._warned:
            self._warned.add(function)
            warn(msg)

    def _miss(self, owner, args: tuple) -> None:
        key, name, sig = _describe(owner, args)
        st = getattr(owner, "__dict__", {}).get(_STATE)
        if self._load_error is not None:
            kind, reason = "refused", self._load_error
        elif key in self._stale_by_func:
            kind, reason = "stale", self._stale_by_func[key]
        elif (skipped := self._skipped_reason(key, sig)) is not None:
            kind, reason = "not servable", skipped
        elif st is not None and st.why is not None:
            kind, reason = st.why
        elif self.manifest.has(*key):
            kind, reason = "not in image", "signature not in the image"
        else:
            kind, reason = "not in image", "function not in the image"
        record_jit(self._report_path, kind, name, sig, reason, args)
        if self.strict:
            what = "is not in the image" if kind == "not in image" else f"is not served ({kind}) by the image"
            raise SnapStrictError(f"snap: {name.replace(':', '.')}{sig} {what} {self.path}: {reason} "
                                  "(strict mode)")


_STATE = "_snap_state"      # per-owner _OwnerState, in the owner's __dict__


class _OwnerState(NamedTuple):
    """What the image holds for one dispatcher or DUFunc (see Runtime._state)."""
    py_func: Any
    by_args: dict            # argument keys -> entries of this owner's identity
    why: tuple[str, str] | None     # (miss kind, reason) when no entry has its identity

    def literal_positions(self, n: int) -> frozenset[int]:
        """Argument positions whose recorded types are literal, for calls of ``n`` arguments."""
        return frozenset(i for keys in self.by_args if len(keys) == n
                         for i, k in enumerate(keys) if k.startswith("Literal["))


class _RefusedImageReporter:
    """With a refused image and a miss report: every compilation is recorded as 'refused'."""

    def __init__(self, report: str, why: str) -> None:
        self.report, self.why = report, why

    def on_create(self, owner, kind: str) -> None:
        pass

    def on_compile(self, owner, sig) -> None:
        if seam.is_nested_compile():
            return
        args = seam.normalize_args(sig) if not isinstance(sig, tuple) else tuple(sig)
        _, name, text = _describe(owner, args)
        record_jit(self.report, "refused", name, text, self.why, args)


def _describe(owner, args: tuple) -> tuple[tuple[str, str], str, str]:
    """(module, qualname), "module:qualname" and the readable signature of a compilation."""
    key = seam.owner_function(owner)
    return key, "%s:%s" % key, numba_seam.signature_text(args)


_INTERNAL = tuple(os.path.dirname(m.__file__) + os.sep for m in (linker,)) + (
    os.path.dirname(os.path.abspath(__file__)) + os.sep,)


def _without_path(e: Exception, path: str) -> str:
    """An error's message without the path the caller names already (said once)."""
    if isinstance(e, OSError) and e.strerror:
        return e.strerror.lower() if e.strerror[:1].isupper() and e.strerror[1:2].islower() else e.strerror
    msg = str(e)
    return msg[len(path) + 2:] if msg.startswith(path + ": ") else msg


def warn(msg: str) -> None:
    """A SnapWarning attributed to the user's code, not to snap's or Numba's frames."""
    import numba
    internal = _INTERNAL + (os.path.dirname(numba.__file__) + os.sep, "<frozen")
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(internal):
        name = frame.f_code.co_filename
        if not ("importlib" in name and "_bootstrap" in name):   # warnings skips those itself
            level += 1
        frame = frame.f_back
    warnings.warn(msg, SnapWarning, stacklevel=level)


def record_jit(report: str | None, kind: str, function: str, signature: str, reason: str,
               args: tuple | None = None) -> None:
    """Append one JSON line to the miss report (appends are atomic across worker processes).

    ``types`` (the argument types, pickled) lets ``snap create --add-misses`` compile
    exactly this specialization in the next build.
    """
    if not report:
        return
    module, _, qualname = function.partition(":")
    doc = {"event": "jit", "kind": kind, "function": function.replace(":", "."), "module": module,
           "qualname": qualname, "signature": signature, "reason": reason, "pid": os.getpid()}
    if args is not None:
        try:
            doc["types"] = dumps_types(args)
        except Exception:  # noqa: BLE001 - the readable part is still worth reporting
            pass
    line = json.dumps(doc)
    try:
        with open(report, "a") as f:
            f.write(line + "\n")
    except OSError as e:
        if report not in _report_failed:     # once per report path: misses are still JIT-compiled
            _report_failed.add(report)
            warn(f"snap: cannot write the miss report {report} ({e.strerror or e}); "
                 "misses are not recorded: point SNAP_REPORT (--report-misses) at a writable file")


_report_failed: set[str] = set()


_active: Runtime | None = None
_hooks: seam.RuntimeHooks | None = None


class _NoGC:
    """No cyclic GC pass while snap allocates its small, acyclic records.

    Right after ``import numba`` the heap holds about a million objects; a full
    collection that our allocations happen to trigger costs 10-80 ms, far more
    than activating an image. Everything allocated here is freed by refcount.
    (A class, not @contextmanager: this wraps every first use of a dispatcher. One
    instance per use, so nested uses restore the state they found.)
    """

    __slots__ = ("enabled",)

    def __enter__(self) -> None:
        self.enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc) -> None:
        if self.enabled:
            gc.enable()


def activate(path: str, *, strict: bool = False, report: str | None = None) -> Runtime | None:
    """Activate an image in this process; on a bad image warn and return None (or raise if strict)."""
    if _active is not None:
        return _active
    # GC off before the first allocation: a full collection of numba's heap that is
    # due (tens of ms) must not land here. (Not _NoGC: creating it could trigger it.)
    enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        rt = _activate(path, strict, report)
        if rt is not None and os.environ.get("SNAP_GC_FREEZE", "1").strip() != "0":
            # Importing numba leaves ~a million long-lived objects; the first full
            # collection after it costs tens of ms and would land in the program's
            # first call. Those objects live as long as the process: move them out
            # of the collector's sight (what pre-fork servers do; SNAP_GC_FREEZE=0
            # to keep them collectable).
            gc.freeze()
        if rt is not None:
            rt.activation_seconds = time.perf_counter() - t0     # all of it: checks, hooks, freeze
    finally:
        if enabled:
            gc.enable()
    return rt


def _activate(path: str, strict: bool, report: str | None) -> Runtime | None:
    global _active, _hooks
    try:
        rt = Runtime(path, strict=strict, report=report)
    except SnapError as e:
        if strict:
            raise SnapStrictError(f"{e} (strict mode)") from None
        warn_image(f"snap: {e}; running on the JIT")
        if report:
            reporter = _RefusedImageReporter(report, str(e))
            _hooks = seam.RuntimeHooks(reporter.on_create, reporter.on_compile)
            _hooks.install()
        return None
    _active = rt
    _hooks = seam.RuntimeHooks(rt.on_create, rt.on_compile, serve_call=rt.serve_call)
    _hooks.on_cfunc = rt.serve_cfunc
    _hooks.on_builder_add = rt.serve_builder
    # Without a miss report or strict mode only the kinds the image holds need hooks
    # (each hook costs ~10 us at activation); with them, every kind's misses count.
    _hooks.install(None if strict or report else frozenset(rt.manifest.kinds))
    seam_jitclass.ServeHooks().install()    # names jitclass parts; resolves payload references to classes
    for disp in seam.compiled_dispatchers(validity.PINNED):   # a late activation: say what stays JIT
        rt._state(disp, "dispatcher")
    return rt


def active() -> Runtime | None:
    return _active
