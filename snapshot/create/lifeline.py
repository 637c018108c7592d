"""How long the processes of ``snap create`` live: never longer than the command.

A build is a tree of processes: ``snap create`` (the command), the training child
(``trace.py``, the workload runs in it), the variants' helper it forks
(``variants.py``) and whatever processes the workload starts. Whatever ends the
command -- Ctrl-C, ``SIGTERM`` from ``timeout``/``docker stop``/a CI cancel,
``SIGHUP`` from a closed terminal, even ``SIGKILL`` -- ends the whole tree, and
the output path keeps what it had (the new image has no name until it is
committed: command.py).

The mechanisms, each for a case the others cannot cover:

* the training child runs in a session of its own, so the command can kill the
  tree as one process group (``kill_group``), the workload's own processes
  included; a terminal's Ctrl-C reaches the command alone, which then does so;
* the training child and the helper ask the kernel to ``SIGKILL`` them when
  their parent dies (``die_with_parent``: ``prctl(PR_SET_PDEATHSIG)``), which
  holds even when the parent is ``SIGKILL``ed and runs no code of its own. A
  pipe the child watches would need a thread of the child to run Python code,
  which a workload holding the GIL (or stopped in a long C call) delays; the
  kernel's signal needs nothing from the child;
* processes the workload starts do not inherit that request (the kernel clears
  it at fork), so the training child forks a guardian first thing
  (``guard_group``): it waits, doing nothing, for the training child to end and
  then kills the group -- the workload's leftovers included, however the
  training child ended;
* in the command, ``SIGTERM``/``SIGHUP``/``SIGQUIT`` become an exception like
  Ctrl-C's ``KeyboardInterrupt`` (``interruptions``): the cleanup that runs for
  Ctrl-C runs for them, and the command exits with a one-line message.

A process the workload detaches into a session of its own (a daemon) leaves the
group and is not the build's to end.
"""
from __future__ import annotations

import os
import signal
import sys
import time
from contextlib import contextmanager
from typing import Iterator

# Fault injection for tests: a process reaching the named point says so on stderr and waits
# there (forever) for whatever the test sends it, so a signal lands in a known phase.
STALL_ENV = "_SNAP_STALL_AT"
# the command tells the training child its pid (the child dies with it) and which of the
# ending signals it held back around the fork (the child lets them through again)
PARENT_ENV = "_SNAP_TRACE_PARENT"
UNBLOCK_ENV = "_SNAP_TRACE_UNBLOCK"


def stall_point(name: str) -> None:
    if os.environ.get(STALL_ENV) == name:
        os.write(2, f"snap: stalled at {name}\n".encode())
        while True:
            time.sleep(3600)


# ------------------------------------------------------------ the command (parent) side
class Interrupted(KeyboardInterrupt):
    """A signal that ends ``snap create``, raised where the command is, like Ctrl-C's
    KeyboardInterrupt (and caught wherever that is: the cleanup is the same)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


# the signals that end a command in practice (SIGKILL cannot be caught: the kernel's
# parent-death signal and the guardian answer for it)
ENDING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


class _State:
    active = False       # interruptions() is in force
    raised = False       # one Interrupted was raised: the cleanup it started is not interrupted
    committed = False    # the image is in place: a signal now interrupts nothing


_state = _State()


def _on_signal(signum: int, frame) -> None:
    if _state.raised or _state.committed:
        return
    _state.raised = True
    raise Interrupted(signum)


@contextmanager
def interruptions() -> Iterator[None]:
    """Within: SIGINT, SIGTERM, SIGHUP and SIGQUIT raise ``Interrupted`` (the first one;
    the next ones are ignored while its cleanup runs). A signal the command was started
    with ignored (``nohup``: SIGHUP) stays ignored. Only in the main thread (Python runs
    signal handlers there alone)."""
    import threading
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for s in ENDING:
        if signal.getsignal(s) is not signal.SIG_IGN:
            previous[s] = signal.signal(s, _on_signal)
    _state.active, _state.raised, _state.committed = True, False, False
    try:
        yield
    finally:
        _state.active = False
        for s, handler in previous.items():
            signal.signal(s, handler)


def committed() -> None:
    """The image is in place (called with the ending signals blocked): one arriving now ends
    nothing that is not already finished, and says no "no image written"."""
    if _state.active:
        _state.committed = True


@contextmanager
def signals_held() -> Iterator[set]:
    """The ending signals held back (delivered when the block ends): for steps that must not
    be cut in two (the child started but not yet known, the image linked but not yet
    renamed). Yields the ones that were not blocked before."""
    before = signal.pthread_sigmask(signal.SIG_BLOCK, ENDING)
    try:
        yield {s for s in ENDING if s not in before}
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def kill_group(proc) -> None:
    """Kill the training child's process group (the child, its guardian and helper, the
    workload's processes) and reap the child. Only while the child is not reaped: its pid,
    the group's id, is then still ours, never another process's."""
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()


# ------------------------------------------------------------ the training child's side
_PR_SET_PDEATHSIG = 1


def training_child_start() -> None:
    """First thing in the training child: die with the command, let the signals it held
    back through again."""
    parent = os.environ.pop(PARENT_ENV, "")
    if parent.isdigit():
        die_with_parent(int(parent))
    held = os.environ.pop(UNBLOCK_ENV, "")
    if held:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {int(s) for s in held.split(",") if s.isdigit()})


def _pdeathsig(sig: int) -> bool:
    """Ask the kernel for ``sig`` when the thread that forked this process ends (Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(sig), ctypes.c_ulong(0), ctypes.c_ulong(0),
                          ctypes.c_ulong(0)) == 0
    except (OSError, AttributeError):
        return False


def die_with_parent(parent: int) -> None:
    """SIGKILL this process when ``parent`` dies, however it dies. If it already has (before
    the request was made), end now."""
    _pdeathsig(signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def guard_group(close: tuple[int, ...] = ()) -> int:
    """Fork the guardian of this process's group: it waits for this process to end, then kills
    the group (what the workload started and left, the helper). Returns its pid (0: none,
    this process does not lead its own group, or fork failed). ``close``: descriptors the
    guardian must not hold open (the command reads the event pipe to its end)."""
    owner = os.getpid()
    if os.getpgid(0) != owner:      # not our own group: killing it would kill our caller's
        return 0
    try:
        pid = os.fork()
    except OSError:
        return 0
    if pid:
        return pid
    try:                            # the guardian: no Python code of the build's runs here
        for s in ENDING:
            signal.signal(s, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        for fd in close:
            try:
                os.close(fd)
            except OSError:
                pass
        _pdeathsig(signal.SIGUSR1)
        while os.getppid() == owner:       # (polled too: no prctl outside Linux)
            signal.sigtimedwait({signal.SIGUSR1}, 1.0)
        os.killpg(0, signal.SIGKILL)
    finally:
        os._exit(0)
