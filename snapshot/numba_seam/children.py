"""What the training workload's child processes compile (``snap create``).

An image is built in the training process from its live compile results; what a
multiprocessing worker or a subprocess of the workload compiles dies with that
process. Such a specialization is not silently absent: each one is noted (module,
function, signature, pid) in a file the training process names in the environment
its children inherit, and the build lists it as left to the JIT with what to do, so
``snap create`` says so and a miss of it in a served process says why (not "not in
the image").

Two ways a child compiles, two ways it is noted:
* forked from the training process (multiprocessing's ``fork``): Numba's hooks of the
  recorder are there already, and ``Recorder.keep`` notes instead of recording;
* a new interpreter (``spawn``, ``forkserver``, ``subprocess``): the ``.pth`` start-up
  hook sees ``SNAP_TRAINING_CHILDREN`` and, once the child imports numba, ``listen``
  wraps ``add_overload``.
One JSON line per compilation, appended with a single ``write`` (O_APPEND: lines of
concurrent children do not interleave); a child killed midway loses only its own lines.
"""
from __future__ import annotations

import json
import os
from typing import Any

SPOOL_ENV = "SNAP_TRAINING_CHILDREN"        # the file children append to
PID_ENV = "SNAP_TRAINING_PID"               # the training process itself (not a child)


def start(path: str) -> None:
    """In the training process, before the workload: children note into ``path``."""
    with open(path, "w"):
        pass
    os.environ[SPOOL_ENV] = path
    os.environ[PID_ENV] = str(os.getpid())


def in_child() -> bool:
    """Is this a child of a training process (its compilations die with it)?"""
    pid = os.environ.get(PID_ENV)
    return bool(os.environ.get(SPOOL_ENV)) and pid is not None and pid != str(os.getpid())


def note(owner: Any, args: tuple, return_type: Any = None) -> None:
    """Note a compilation of this child process (never raises: the child's program goes on)."""
    try:
        from . import owner_py_func, signature_text
        f = owner_py_func(owner)
        line = json.dumps({"module": getattr(f, "__module__", None) or "<dynamic>",
                           "qualname": getattr(f, "__qualname__", "?"),
                           "signature": signature_text(tuple(args), return_type),
                           "pid": os.getpid()}) + "\n"
        fd = os.open(os.environ[SPOOL_ENV], os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    except Exception:  # noqa: BLE001 - a note only makes a miss reason clearer
        pass


def listen() -> None:
    """In a new interpreter started by the workload: note every compilation once numba is in."""
    from numba.core import dispatcher
    orig = dispatcher._DispatcherBase.add_overload

    def add_overload(self, cres):
        sig = getattr(cres, "signature", None)
        if sig is not None and not (getattr(cres, "metadata", None) or {}).get("snap"):
            note(self, sig.args, sig.return_type)
        return orig(self, cres)

    dispatcher._DispatcherBase.add_overload = add_overload


def collect(path: str) -> list[tuple[str, str, str, int]]:
    """What the children noted: (module, qualname, signature, pid), first note of each; the
    file removed and the children's variables dropped from this process's environment."""
    out: dict[tuple[str, str, str], int] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    d = json.loads(line)
                    key = (str(d["module"]), str(d["qualname"]), str(d["signature"]))
                    out.setdefault(key, int(d["pid"]))
                except (ValueError, KeyError, TypeError):
                    continue            # a line cut short by a child killed while writing
    except OSError:
        pass
    try:
        os.unlink(path)
    except OSError:
        pass
    for name in (SPOOL_ENV, PID_ENV):
        os.environ.pop(name, None)
    return [(*k, pid) for k, pid in out.items()]
