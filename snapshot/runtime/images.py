"""The active images of a process, in precedence order: each compile request asks them in turn.

A process may run from several images at once: the program's (``SNAP_SYSIMAGE``,
``snap run``, ``snapshot.activate``), first, in the order given, then the images
libraries ship and activate themselves (``snapshot.activate_package``), in the
order they were activated. Each image is checked on its own (fingerprint, CPU,
every entry's identity and validity) and serves what it holds; a request no image
serves is one miss, reported once with the reason of the first image that knows
the function. New JIT code may call code of any image: each image's functions
are linked through their own stand-in libraries and image-unique symbol prefix.
"""
from __future__ import annotations

import os
from typing import Any, Callable

from ..errors import Guard, SnapStrictError
from ..image import kinds as K
from ..numba_seam import install as seam
from ..numba_seam import split_signature
from .report import describe, record_jit
from .serving import Runtime


class ImageSet:
    """The active images (see module doc) behind Numba's hooks (``install.RuntimeHooks``)."""

    def __init__(self) -> None:
        self.images: list[Runtime] = []
        self._programs = 0                    # how many of ``images`` are the program's (first)
        self.refused: list[tuple[str, str]] = []     # (path, why) of refused program images
        self.strict = False                   # any image activated in strict mode
        self.report: str | None = None        # the miss report (the first activation naming one)
        self.guard = Guard(False)

    # ------------------------------------------------------------ membership
    def add(self, rt: Runtime) -> None:
        """A program image goes after the program's images before it, a library's last."""
        rt.peers = lambda: self.images
        if rt.package is None:
            self.images.insert(self._programs, rt)
            self._programs += 1
        else:
            self.images.append(rt)
        self._settings(rt.strict, rt._report_path)

    def refuse(self, path: str, why: str, strict: bool, report: str | None) -> None:
        """A program image that cannot be used here: misses then say so."""
        self.refused.append((path, why))
        self._settings(strict, report)

    def _settings(self, strict: bool, report: str | None) -> None:
        self.strict = self.strict or strict
        self.guard.strict = self.strict
        self.report = self.report or report

    # ------------------------------------------------------------ hooks
    def on_create(self, owner, kind: str) -> None:
        """An objmode block is about to be compiled: install its entry now."""
        self._guarded(self._once, owner, kind)

    def on_compile(self, owner, sig, hooked: str = K.DISPATCHER) -> Any:
        """Numba is about to compile ``sig`` for ``owner`` (seen by the hook of kind ``hooked``):
        the compile result of the first image serving exactly that request, or None after
        reporting the miss (the JIT then compiles)."""
        return self._guarded(self._on_compile, owner, sig, hooked)

    def serve_call(self, owner, values: tuple) -> Any:
        """A dispatcher's first call with these values' types: an image's compile result or
        None (Numba's own path follows and reports any miss)."""
        for rt in self.images:
            if rt.holds_nothing_for(owner):      # known at its first request: no guard
                continue
            cres = self._guarded(rt.serve_call, owner, values)
            if cres is not None:
                return cres
        return None

    def serve_cfunc(self, owner) -> bool:
        """A @cfunc is being compiled: its code taken from an image instead (True if served)."""
        return bool(self._guarded(self._once, owner, K.CFUNC))

    def serve_builder(self, builder, sig) -> Any:
        """A gufunc builder's ``add``: an image's compile result, or None (the JIT compiles)."""
        for rt in self.images:
            cres = self._guarded(rt.serve_add, builder, sig)
            if cres is not None:
                return cres
        self.on_compile(builder, sig, K.GUFUNC)       # miss report / strict mode
        return None

    def _guarded(self, hook: Callable, owner, *args) -> Any:
        # (the collector is not paused here: see gcpause.py)
        return self.guard("serving from the image", hook, owner, *args)

    def _once(self, owner, kind: str) -> bool:
        return any(rt.serve_once(owner, kind) for rt in self.images)

    def _on_compile(self, owner, sig, hooked: str) -> Any:
        try:
            args, return_type = split_signature(sig)
        except Exception:  # noqa: BLE001 - Numba reports a bad signature its own way
            return None
        if hooked in (K.DISPATCHER, K.DUFUNC):          # the others are served on their own paths
            if seam.has_overload(owner, args):
                return None                             # compiled already: Numba returns it
            for rt in self.images:
                cres = rt.serve_request(owner, hooked, args, return_type)
                if cres is not None:
                    return cres
        self._miss(owner, args, nested=seam.is_nested_compile())
        return None

    # ------------------------------------------------------------ misses
    def _miss(self, owner, args: tuple, nested: bool = False) -> None:
        """Report a compilation no image served. One nested in another compilation (a callee
        typed from a caller the JIT compiles) is reported only when an image held it and
        could not serve it (stale, not servable; not one that failed in the training run):
        the caller's miss says the rest."""
        key, name, sig = describe(owner, args)
        for rt in self.images:
            said = rt.miss_reason(owner, key, sig)
            if said is not None:
                (kind, reason), where = said, rt.path
                break
        else:
            if nested:
                return
            if self.refused:
                (where, reason), kind = self.refused[0], K.MISS_REFUSED
            else:
                kind, reason = K.MISS_NOT_IN_IMAGE, "function not in the image"
                where = os.pathsep.join(rt.path for rt in self.images)
        if nested and (kind in (K.MISS_NOT_IN_IMAGE, K.MISS_REFUSED, K.MISS_LATE) or K.failed(reason)):
            # (a nested compilation the training run saw fail: an implementation Numba's
            # overload resolution tries and drops, `ol_hasattr` and the like; the JIT fails
            # it the same way here, and the caller's miss is the one to report)
            return
        record_jit(self.report, kind, name, sig, reason, args, image=where)
        if self.strict:
            what = ("is not in the image" if kind == K.MISS_NOT_IN_IMAGE
                    else f"is not served ({kind}) by the image")
            raise SnapStrictError(f"snap: {name.replace(':', '.')}{sig} {what} {where}: {reason} "
                                  "(strict mode)")
