"""Activation: make an image serve this process (once per process).

``activate(path)`` opens and checks the image (``opened.py``), hooks Numba's
compile requests to the ``Runtime`` (``serving.py``), and freezes the objects
importing Numba left behind out of the collector's sight. A bad image is a
warning and the JIT (an error in strict mode); with a miss report, every
compilation of a refused image is reported as such.
"""
from __future__ import annotations

import gc
import os
import time

from ..errors import SnapError, SnapStrictError, warn_image
from ..image.validity import PINNED
from ..numba_seam import install as seam
from ..numba_seam import jitclass as seam_jitclass
from .report import RefusedImageReporter
from .serving import Runtime

_active: Runtime | None = None
_hooks: seam.RuntimeHooks | None = None


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
            reporter = RefusedImageReporter(report, str(e))
            _hooks = seam.RuntimeHooks(reporter.on_create, reporter.on_compile)
            _hooks.install()
        return None
    _active = rt
    _hooks = seam.RuntimeHooks(rt.on_create, rt.on_compile, serve_call=rt.serve_call)
    _hooks.on_cfunc = rt.serve_cfunc
    _hooks.on_builder_add = rt.serve_builder
    _hooks.image_functions = rt.image.image_functions      # recursion placeholders, cache guard
    # Without a miss report or strict mode only the kinds the image holds need hooks
    # (each hook costs ~10 us at activation); with them, every kind's misses count.
    _hooks.install(None if strict or report else frozenset(rt.manifest.kinds))
    seam_jitclass.ServeHooks().install()    # names jitclass parts; resolves payload references to classes
    for disp in seam.compiled_dispatchers(PINNED):   # a late activation: say what stays JIT
        rt.note_compiled(disp)
    return rt


def active() -> Runtime | None:
    """The activated image of this process (None: none is)."""
    return _active
