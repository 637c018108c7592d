"""Start-up hook: ``SNAP_SYSIMAGE=my.so python app.py``.

Installed as a ``.pth`` line that imports this module only when SNAP_SYSIMAGE (or
SNAP_TRAINING_CHILDREN: a child of ``snap create``'s workload) is set, so ordinary
interpreters pay nothing. Activation waits until the program
imports numba (a program that never does never opens the image), and the
variables are inherited by child processes (multiprocessing workers included).

  SNAP_SYSIMAGE=path   image to start from (several: a.so:b.so, the first first)
  SNAP_STRICT=1        a miss, stale entry or refused image is an error
  SNAP_REPORT=file     append every JIT compilation that still happens (JSON lines)
  SNAP_DEBUG=1         a strict-mode error shows its whole traceback (default: one line)
  SNAP_NO_DEFER=1      import what numba imports at start-up at once (see numba_seam/deferred.py)

A relative SNAP_SYSIMAGE that does not exist from the working directory is looked
up along ``sys.path`` (how ``snapshot.ray`` ships an image in Ray's ``py_modules``).

The variable is read once, at interpreter start: one that appears in ``os.environ``
later (Dask's ``Environ`` plugin, ``Nanny(env=...)``, a program setting it) cannot
serve this process. ``check_late_environ`` (registered as a ``numba_extensions``
entry point, so Numba calls it at the process's first compilation) warns once.
"""
from __future__ import annotations

import os


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


_inspecting = False


def inspecting() -> None:
    """This process is snap's own command (``snap create/info/check/doctor``): an image in
    SNAP_SYSIMAGE is something it inspects, never what it runs on (no activation, and
    no warning of the runtime's about it when the command imports numba)."""
    global _inspecting
    _inspecting = True


def _activate() -> None:
    if _inspecting:
        return
    from . import gcpause
    gcpause.pause()     # before allocating much: no full collection of numba's heap here
    try:
        _activate_now()
    finally:
        gcpause.resume()


# What the start-up hook (or snap itself, for child processes) saw or set: a
# SNAP_SYSIMAGE value other than these was set after the interpreter started.
_seen: set[str] = set()


def resolve(path: str) -> str:
    """``path``, or for a relative one missing from the working directory, the first
    ``sys.path`` entry that holds it."""
    if os.path.isabs(path) or os.path.exists(path):
        return path
    import sys
    for base in sys.path:
        candidate = os.path.join(base or ".", path)
        if os.path.isfile(candidate):
            return candidate
    return path


def export(image: str, *, strict: bool = False, report: str | None = None) -> dict[str, str]:
    """Put the image settings in ``os.environ`` for child processes (snap's own doing:
    never reported as a late variable); returns them."""
    env = {"SNAP_SYSIMAGE": image, "SNAP_STRICT": "1" if strict else "0"}
    if report:
        env["SNAP_REPORT"] = report
    _seen.add(image)
    os.environ.update(env)
    return env


def expect(image: str) -> None:
    """``SNAP_SYSIMAGE=image`` is being set by snap itself (a worker plugin): never reported
    as a variable set too late."""
    _seen.add(image)


def check_late_environ() -> None:
    """SNAP_SYSIMAGE set after this interpreter started and no image activated: warn once."""
    value = os.environ.get("SNAP_SYSIMAGE")
    if not value or value in _seen:
        return
    _seen.add(value)
    import sys
    rt = sys.modules.get("snapshot.runtime")
    if rt is not None and rt.active():
        return
    import warnings

    from .errors import SnapWarning
    warnings.warn(
        f"snap: SNAP_SYSIMAGE={value} was set after this Python process started (by the program, "
        "Dask's Environ plugin or Nanny(env=...)), or the start-up hook snap-sysimage.pth is not "
        "installed: the image is read only at interpreter start, so this process runs on the JIT. "
        "Set it before the process starts (export it before starting the cluster), or use "
        "snapshot.dask.SnapNannyPlugin / `dask worker --preload snapshot.dask --snap-image PATH` "
        "for Dask, snapshot.ray.runtime_env(PATH) for Ray, or call snapshot.activate(PATH) "
        "before the first jitted call", SnapWarning, stacklevel=2)


def _activate_now() -> None:
    from .errors import Guard
    value, strict = os.environ["SNAP_SYSIMAGE"], _flag("SNAP_STRICT")
    report = os.environ.get("SNAP_REPORT") or None

    def activate(image: str) -> None:
        from .runtime import activate
        activate(resolve(image), strict=strict, report=report)
    # the program's images, in precedence order (os.pathsep-separated, like PATH); whatever
    # goes wrong inside snap, the program must still run (on the JIT)
    from .errors import SnapStrictError
    for image in images_of(value):
        try:
            Guard(strict)(f"activating {image}", activate, image)
        except SnapStrictError as e:
            e.at_import = True      # the user's line only imported numba: said so, not blamed
            raise


def images_of(value: str) -> list[str]:
    """The image paths of a ``SNAP_SYSIMAGE`` value (``a.so`` or ``a.so:b.so``)."""
    return [p for p in value.split(os.pathsep) if p.strip()]


def install_from_env() -> None:
    if os.environ.get("SNAP_TRAINING_CHILDREN"):
        # a child process of `snap create`'s workload: what it compiles is noted, so the build
        # can say so (numba_seam/children.py)
        from .numba_seam import children
        if children.in_child():
            from .numba_seam.post_import import when_imported
            when_imported("numba", lambda _: children.listen())
    if not os.environ.get("SNAP_SYSIMAGE"):
        return
    _seen.add(os.environ["SNAP_SYSIMAGE"])
    from .excepthook import install_strict_excepthook
    install_strict_excepthook()
    from .numba_seam.post_import import around_import, when_imported
    when_imported("numba", lambda _: _activate())
    # no cyclic collection while numba imports (it allocates ~50k container objects, no
    # cyclic garbage; the collections it triggers cost ~6% of `import numba`, measured) and
    # until the image is activated (then gc.freeze: runtime/activation.py)
    from . import gcpause
    around_import("numba", gcpause.pause, gcpause.resume)
    if not _flag("SNAP_NO_DEFER"):
        # what numba imports and a served process never uses stays unexecuted until touched
        from .numba_seam import deferred, deferred_lowering
        deferred.defer()
        deferred_lowering.defer()
