"""Run: activate an image in this process and serve dispatchers from it.

Activation (once): read and verify the file, read the manifest's header, check
the fingerprint and CPU against this process, hook Numba. Creating a dispatcher
then costs one store (numba_seam.install.OverloadsSlot); at its first use its
function is looked up in the manifest's index and, if the image has it, its
entries are decoded, checked and installed. The first install maps the code
(``dlopen``, import table): a process that never runs image code pays nothing
for it. No compilation, no per-function cache validation.
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

from . import numba_seam
from .numba_seam import install as seam
from .numba_seam import jitclass as seam_jitclass
from .errors import SnapError, SnapStrictError, SnapWarning
from .fingerprint import Unfingerprintable, canonical_options, closure_fingerprint, machine_fingerprint
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


class _Pending(NamedTuple):
    """Entries of a dispatcher whose references resolve later (see UnresolvedReference)."""
    owner: Any
    entries: list[Entry]


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
            raise SnapError(f"cannot use image {path}: {e}") from None
        try:
            self.manifest = ManifestIndex.from_bytes(image.section(MANIFEST_SECTION))
            blobs = image.section(PAYLOAD_SECTION)
        except (KeyError, ManifestError) as e:
            raise SnapError(f"cannot use image {path}: {e}") from None
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
        self._pending: dict[int, _Pending] = {}
        self._warned: set[str] = set()
        self._stale_by_func: dict[tuple[str, str], str] = {}   # function -> the one that changed
        self._options_text: dict[tuple, str] = {}
        self._keep: list = []        # objects image code points at (jitclass Box subclasses)
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
                        warn(f"snap: {self._load_error}; running on the JIT")
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
        """A DUFunc or an objmode block was made: install its entries now."""
        self._guarded(self._serve, owner, kind)

    def settle(self, owner) -> None:
        """First use of a dispatcher made since activation (see numba_seam.install.OverloadsSlot):
        install its entries, if the image has any. Creating it cost nothing."""
        with self._lock:          # a racing first use waits for the install to finish
            if seam.claim_unsettled(owner):
                self._guarded(self._serve, owner, "dispatcher")

    def on_compile(self, owner, sig) -> None:
        self._guarded(self._on_compile, owner, sig)

    def serve_part(self, owner, module: str, qualname: str, suffix: str) -> None:
        """A jitclass part (see numba_seam.jitclass) was created: install its image code."""
        self._guarded(self._serve, owner, "jitclass", (module, qualname), suffix)

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

    def _serve(self, owner, kind: str, function: tuple[str, str] | None = None, suffix: str = "") -> None:
        """Install ``owner``'s matching entries of ``kind``; ``function`` (module, qualname)
        defaults to its Python function's (a jitclass part names its class's instead)."""
        py_func = owner._dispatcher.py_func if kind == "dufunc" else owner.py_func
        module, qualname = function or (py_func.__module__, py_func.__qualname__)
        entries = self.manifest.entries_of(module, qualname)
        if entries:
            with self._lock:
                self._install_now(owner, kind, self._matching(owner, kind, py_func, entries, suffix))

    def _serve_cfunc(self, owner) -> bool:
        py_func = owner._pyfunc
        entries = self.manifest.entries_of(py_func.__module__, py_func.__qualname__)
        if not entries:
            return False
        sig = owner._sig
        text = numba_seam.signature_text(sig.args, sig.return_type)
        with self._lock:
            matching = [e for e in self._matching(owner, "cfunc", py_func, entries) if e.signature == text]
            # a @cfunc is compiled once, now: nothing to retry later, so no deferral
            return self._install_now(owner, "cfunc", matching[:1], defer=False) > 0

    def _on_compile(self, owner, sig) -> None:
        """Before Numba compiles: install deferred entries, then report a real miss."""
        seam.settle(owner)
        with self._lock:
            pending = self._pending.get(id(owner))
            if pending is not None and pending.owner is owner:
                del self._pending[id(owner)]
                kind = "dufunc" if hasattr(owner, "_dispatcher") else "dispatcher"
                self._install_now(owner, kind, pending.entries)
        if seam.is_nested_compile():
            return
        try:
            args = seam.normalize_args(sig) if not isinstance(sig, tuple) else tuple(sig)
        except Exception:  # noqa: BLE001 - never break a compile over reporting
            return
        if any(tuple(getattr(k, "args", k)) == args for k in seam.owner_overloads(owner)):
            return
        self._miss(owner, args)

    # ---------------------------------------------------------------- install
    def _options(self, targetoptions: dict) -> str:
        """canonical_options, memoized: most dispatchers of a program share a few option sets."""
        try:
            key = tuple(sorted(targetoptions.items()))
            hash(key)
        except TypeError:                     # e.g. fastmath={"nnan"}: compute each time
            return canonical_options(targetoptions)
        text = self._options_text.get(key)
        if text is None:
            text = self._options_text[key] = canonical_options(targetoptions)
        return text

    def _matching(self, owner, kind: str, py_func, entries: list[Entry], suffix: str = "") -> list[Entry]:
        options = self._options(numba_seam.objmode_block(owner) if kind == "objmode"
                                else dict(seam.target_options(owner) or {})) + suffix
        if kind == "dufunc":
            options += ";identity=" + repr(owner.identity)
        return list(self.fresh_entries(py_func, entries, lambda e: e.kind == kind and e.options == options))

    def fresh_entries(self, py_func, entries: list[Entry], accept) -> Iterator[Entry]:
        """The entries ``accept`` takes whose closure matches ``py_func``'s and whose code is
        unchanged; a stale one is reported (a warning, or an error in strict mode)."""
        closure: Any = ...
        for e in entries:
            if not accept(e):
                continue
            if closure is ...:
                try:
                    closure = closure_fingerprint(py_func)
                except Unfingerprintable:
                    closure = "?"
            if e.closure != closure:
                continue
            stale = self._fresh.stale_function(e, py_func)
            if stale is not None:
                self._stale(stale, e)
                continue
            yield e

    def _install_now(self, owner, kind: str, entries: list[Entry], defer: bool = True) -> int:
        """Install ``entries``; those referring to what does not exist yet wait for the owner's
        next compile request (``defer``), a broken one is reported. Returns how many installed."""
        deferred, installed = [], 0
        if entries and not self.load():
            return 0
        for e in entries:
            try:
                self._install(owner, kind, e)
                installed += 1
            except UnresolvedReference as exc:
                if defer:
                    deferred.append(e)
                else:
                    self._unusable(e, exc)
            except Exception as exc:  # noqa: BLE001 - a broken entry must not break the program
                self._unusable(e, exc)
        if deferred:
            self._pending[id(owner)] = _Pending(owner, deferred)
        return installed

    @cached_property
    def _skipped(self) -> dict[tuple[str, str], str]:
        """(module, qualname) -> why the image does not serve it (read at the first miss)."""
        return {(s.module, s.qualname): s.reason for s in self.manifest.skipped}

    def image_code(self, e: Entry, targetctx) -> "_ImageCode":
        """What every kind of entry needs from the image: payload, address slots and
        environments filled, the function descriptor and the library standing in for it."""
        if not self._typeof_light:            # before the first call of image code types its arguments
            self._typeof_light = True
            seam.lighten_array_typeof()
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
        mangled = e.symbols["function"][len(prefix):]
        env_name = e.symbols["env"][len(prefix):]
        env = envs.get(env_name) or seam.make_environment(e.module, [], env_name)
        addresses = {role_sym[len(prefix):]: addr(role_sym) for role_sym in e.symbols.values()}
        if _hooks is not None:
            _hooks.image_functions[mangled] = addresses[mangled]
        fndesc = seam.make_fndesc(data.fndesc, mangled, env_name, data.args, data.return_type)
        library = seam.ImageLibrary(f"{e.module}.{e.qualname}", addresses, prefix, fndesc, targetctx)
        return _ImageCode(data, env, fndesc, library)

    def _install(self, owner, kind: str, e: Entry) -> None:
        desc_owner = owner._dispatcher if kind == "dufunc" else owner
        code = self.image_code(e, seam.target_context(desc_owner))
        data, env, fndesc, library = code.data, code.env, code.fndesc, code.library
        extra = getattr(data, "extra", None) or {}
        prefix = self.manifest.prefix
        addr = self.loaded.address
        for role, sym in e.symbols.items():
            if role.startswith("box:"):        # jitclass boxing code: this process's Box subclass
                seam_jitclass.fill_box_slot(addr(sym), extra[role], self._keep)
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

    # ---------------------------------------------------------------- misses
    def _unusable(self, e: Entry, exc: Exception) -> None:
        msg = (f"snap: cannot install {e.module}.{e.qualname}{e.signature} from the image "
               f"{os.path.basename(self.path)} ({type(exc).__name__}: {exc}); it will be JIT-compiled")
        if self.strict:
            raise SnapStrictError(msg + " (strict mode)") from exc
        warn(msg)

    def _stale(self, function: str, e: Entry) -> None:
        msg = (f"snap: {function} changed since the image {os.path.basename(self.path)} was built; "
               f"{e.module}.{e.qualname}{e.signature} will be JIT-compiled")
        self._stale_by_func[e.key()] = function
        if self.strict:
            raise SnapStrictError(msg + " (strict mode)")
        if function not in self._warned:
            self._warned.add(function)
            warn(msg)

    def _miss(self, owner, args: tuple) -> None:
        key, name, sig = _describe(owner, args)
        if self._load_error is not None:
            kind, reason = "refused", self._load_error
        elif key in self._stale_by_func:
            kind, reason = "stale", f"{self._stale_by_func[key]} changed"
        elif key in self._skipped:
            kind, reason = "not servable", self._skipped[key]
        elif self.manifest.has(*key):
            kind, reason = "not in image", "signature not in the image"
        else:
            kind, reason = "not in image", "function not in the image"
        record_jit(self._report_path, kind, name, sig, reason, args)
        if self.strict:
            raise SnapStrictError(f"snap: {name.replace(':', '.')}{sig} is not in the image "
                                  f"{self.path} (strict mode)")


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
    except OSError:
        pass


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
        warn(f"snap: {e}; running on the JIT")
        if report:
            reporter = _RefusedImageReporter(report, str(e))
            _hooks = seam.RuntimeHooks(reporter.on_create, reporter.on_compile)
            _hooks.install()
        return None
    _active = rt
    _hooks = seam.RuntimeHooks(rt.on_create, rt.on_compile, settle=rt.settle)
    _hooks.on_cfunc = rt.serve_cfunc
    _hooks.on_builder_add = rt.serve_builder
    # Without a miss report or strict mode only the kinds the image holds need hooks
    # (each hook costs ~10 us at activation); with them, every kind's misses count.
    _hooks.install(None if strict or report else frozenset(rt.manifest.kinds))
    seam_jitclass.ServeHooks(rt.serve_part).install()    # also resolves payload references to classes
    return rt


def active() -> Runtime | None:
    return _active
