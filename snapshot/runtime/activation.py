"""Activation: make images serve this process.

``activate(path)`` opens and checks one image (``opened.py``), adds it to the
process's active images (``images.py``: the program's first, then libraries'),
and, at the first activation, hooks Numba's compile requests and freezes the
objects importing Numba left behind out of the collector's sight. Each file is
activated once (a second call returns its ``Runtime``). A bad image is a warning
and the JIT (an error in strict mode; nothing at all for a library's image that
does not fit, see ``activate_package``); with a miss report, every compilation a
refused program image would have served is reported as such.

In the training run of ``snap create`` (``packaged.TRAINING_ENV``) nothing is
activated: the workload compiles, and the recorder sees, everything it uses.
"""
from __future__ import annotations

import gc
import itertools
import os
import time

from .. import gcpause
from ..errors import SnapError, SnapStrictError, warn_image
from ..excepthook import install_strict_excepthook
from ..image import packaged
from ..image.fingerprint import sha256_file
from ..image.validity import PINNED
from ..numba_seam import install as seam
from ..numba_seam import jitclass as seam_jitclass
from ..numba_seam import resolver
from ..numba_seam.cpu import jit_target
from .images import ImageSet
from .serving import Runtime

_images = ImageSet()
_by_path: dict[str, Runtime] = {}        # real path -> its Runtime (each file activated once)
# mangled name -> address of every image function placed so far, all images together: JIT
# code recursing into one resolves its placeholder to it; the cache guard reads it
_functions: dict[str, int] = {}
_hooks: seam.RuntimeHooks | None = None
_opened = itertools.count()              # images opened so far: each gets its own state key
# A child forked while another thread compiled or installed must not inherit its hold on
# Numba's compiler lock (what snap installs under): that thread is not in the child.
os.register_at_fork(after_in_child=seam.free_compiler_lock_in_child)


def activate(path: str, *, strict: bool = False, report: str | None = None,
             package: str | None = None, quiet: bool = False,
             training_base: bool = False) -> Runtime | None:
    """Activate an image in this process (a program's, or with ``package`` a library's);
    on a bad image warn (unless ``quiet``) and return None, or raise if strict. In the
    training run only the bases of an incremental build are (``training_base``)."""
    if os.environ.get(packaged.TRAINING_ENV) and not training_base:
        return None
    # numba first: importing it runs the start-up hook, which activates the images the
    # environment names (before this one, and not twice)
    import numba  # noqa: F401,I001
    real = os.path.realpath(path)
    known = _by_path.get(real)
    if known is not None:
        return known
    with seam.compiler_lock():      # one activation at a time, e.g. libraries' from threads
        known = _by_path.get(real)
        return known if known is not None else _activate_locked(path, real, strict, report, package, quiet)


def _activate_locked(path: str, real: str, strict: bool, report: str | None, package: str | None,
                     quiet: bool) -> Runtime | None:
    # GC off before the first allocation: a full collection of numba's heap that is
    # due (tens of ms) must not land here (gcpause: right when threads activate at once)
    gcpause.pause()
    try:
        t0 = time.perf_counter()
        first = not _images.images
        rt = _activate(path, strict, report, package, quiet)
        if rt is not None and first and os.environ.get("SNAP_GC_FREEZE", "1").strip() != "0":
            # Importing numba leaves ~a million long-lived objects; the first full
            # collection after it costs tens of ms and would land in the program's
            # first call. Those objects live as long as the process: move them out
            # of the collector's sight (what pre-fork servers do; SNAP_GC_FREEZE=0
            # to keep them collectable).
            gc.freeze()
        if rt is not None:
            _by_path[real] = rt
            rt.activation_seconds = time.perf_counter() - t0     # all of it: checks, hooks, freeze
    finally:
        gcpause.resume()
    return rt


def _activate(path: str, strict: bool, report: str | None, package: str | None,
              quiet: bool) -> Runtime | None:
    try:
        rt = Runtime(path, strict=strict, report=report, package=package,
                     state_key=_state_key(next(_opened)), image_functions=_functions)
        rt.bases = _bases(rt, strict, report, package)
        if strict:
            rt.map_now()
    except SnapError as e:
        if strict:
            raise SnapStrictError(f"{e} (strict mode)") from None
        if not quiet:
            warn_image(f"snap: {e}; running on the JIT")
        if report and package is None:
            _images.refuse(path, str(e), strict, report)
            _install_hooks(None)
        return None
    _images.add(rt)
    resolver.lighten_array_typeof()      # before the program's first call types its arguments
    # Without a miss report or strict mode only the kinds the images hold need hooks
    # (each hook costs ~10 us at activation); with them, every kind's misses count.
    _install_hooks(None if _images.strict or _images.report else frozenset(rt.manifest.kinds))
    for disp in seam.compiled_dispatchers(PINNED):   # a late activation: say what stays JIT
        rt.note_compiled(disp)
    return rt


def _bases(rt: Runtime, strict: bool, report: str | None, package: str | None) -> list[Runtime]:
    """The images an incremental image was built on (``snap create --base``), active here: as
    recorded (prefix and SHA-256), activated first from next to it if they are not yet."""
    bases = []
    for b in rt.manifest.build.get("bases", []):
        name, prefix, digest = str(b.get("file")), b.get("prefix"), b.get("sha256")
        base = next((x for x in _images.images if x.manifest.prefix == prefix), None)
        if base is not None:
            where = base.path
        else:     # not active yet: next to this image, or (a library's image) in its package
            base_package = b.get("package")
            where = os.path.join(os.path.dirname(rt.path), name)
            if not os.path.isfile(where) and base_package:
                where = _packaged(str(base_package), name) or where
            if not os.path.isfile(where):
                raise SnapError(f"image {rt.path} is built on the image {name}, which is not active "
                                f"here (keep {name} next to it, or activate it first)")
        other = SnapError(f"image {rt.path} is built on another build of {name} than the one at "
                          f"{where}: rebuild it with --base {where}")
        if base is None:
            # the bytes recorded at build time, checked before anything of a new base is activated
            if sha256_file(where) != digest:
                raise other
            base = activate(where, strict=strict, report=report,
                            package=str(base_package) if base_package else package)
            if base is None:
                raise SnapError(f"image {rt.path} is built on {where}, which cannot be used here")
        # ... and those of the base as this process checked and runs it: its file may have been
        # rewritten since it was activated (or in between, for a new one)
        if base.image.sha256 != digest:
            raise other
        bases.append(base)
    return bases


def _packaged(package: str, name: str) -> str | None:
    """``package``'s shipped image ``name``, found without importing the package."""
    from ..image.locate import package_directory
    try:
        return os.path.join(package_directory(package), packaged.PACKAGE_DIR, name)
    except ValueError:
        return None


def _state_key(i: int) -> str:
    """Where image ``i`` keeps its per-owner state, in the owner's ``__dict__``."""
    return "_snap_state" if i == 0 else f"_snap_state{i}"


def _install_hooks(kinds) -> None:
    global _hooks
    if _hooks is None:
        _hooks = seam.RuntimeHooks(_images.on_create, _images.on_compile, serve_call=_images.serve_call)
        _hooks.on_cfunc = _images.serve_cfunc
        _hooks.on_builder_add = _images.serve_builder
        _hooks.image_functions = _functions
        seam_jitclass.ServeHooks().install()  # names jitclass parts; resolves payload references
    _hooks.install(kinds)


def active_images() -> list[Runtime]:
    """The active images, in precedence order (the program's first)."""
    return list(_images.images)


def active() -> list[Runtime]:
    """The active images, in precedence order (the program's first); empty when none is."""
    return active_images()


# ------------------------------------------------------------------ the public forms
def _env_strict(strict: bool | None) -> bool:
    if strict is not None:
        return strict
    return os.environ.get("SNAP_STRICT", "").strip().lower() not in ("", "0", "false", "no")


def activate_public(path: str, *, strict: bool | None = None, report: str | None = None) -> Runtime | None:
    """``snapshot.activate``: a program's image; strict and report default to the environment."""
    strict = _env_strict(strict)
    if strict:
        install_strict_excepthook()          # a strict failure ends the program in one line
    return activate(path, strict=strict, report=report or os.environ.get("SNAP_REPORT") or None)


def activate_package(package: str, *, strict: bool | None = None,
                     found: tuple[str | None, str] | None = None) -> Runtime | None:
    """``snapshot.activate_package``: the image ``package`` ships that fits here, or None
    (quietly; an error in strict mode). See image/packaged.py for the choice (``found``:
    already made by the caller)."""
    strict = _env_strict(strict)
    if strict:
        install_strict_excepthook()
    path, why = found if found is not None else packaged.find(package, jit_target())
    if path is None:
        if strict and why:
            raise SnapStrictError(f"snap: {why} (strict mode)")
        return None
    return activate(path, strict=strict, report=os.environ.get("SNAP_REPORT") or None,
                    package=package, quiet=True)
