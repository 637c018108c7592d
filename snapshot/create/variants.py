"""The CPU variants the training run does not compile itself, generated beside it.

The training run compiles for one target (``cpu.training_target``); every other
variant's code is Numba's code generation replayed for its CPU from the recorded
IR (``numba_seam/replay.py``). Replaying costs about what the JIT's own LLVM work
costs (1.7 s per variant for the kmeans example, whose training run takes 3.5 s),
so it is done in a helper process forked before the workload starts: each code
library is sent to it as the training run finalizes it, and the helper replays it
for every other variant on the machine's other core while the workload goes on.
Once the image is planned, the helper generates its variants' objects from the
recipe while this process generates the training target's.

The helper is an accelerator, never a dependency: if it cannot be started or
fails, the variants are generated in this process from the same records, with
the same result byte for byte (``SNAP_VARIANT_HELPER=0`` forces that).
"""
from __future__ import annotations

import os
import pickle
import signal
import socket
import struct
import threading
from typing import Any, Callable

from ..numba_seam.replay import LibraryKeys, Replay, ReplayError, library_records
from .codegen import CodeRecipe, generate
from .cpu import CpuTarget
from .lifeline import die_with_parent

HELPER_ENV = "SNAP_VARIANT_HELPER"
_LEN = struct.Struct("<Q")


def _send(sock: socket.socket, msg: Any) -> None:
    data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_LEN.pack(len(data)) + data)


def _recv(sock: socket.socket) -> Any:
    """The next message, or None at end of stream."""
    head = _recv_exactly(sock, _LEN.size)
    if head is None:
        return None
    body = _recv_exactly(sock, _LEN.unpack(head)[0])
    return None if body is None else pickle.loads(body)


def _recv_exactly(sock: socket.socket, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


class VariantBuilder:
    """Generates the variants of ``targets`` from what the training run records."""

    def __init__(self, targets: list[CpuTarget], after_fork: Callable[[], None] = lambda: None) -> None:
        """``after_fork`` runs first in the helper (it undoes the training run's hooks there)."""
        self.targets = targets
        self._after_fork = after_fork
        self.keys = LibraryKeys()
        self.note: str | None = None          # why the helper was not used, if it was not
        self._sent: set[int] = set()
        self._sock: socket.socket | None = None
        self._pid = 0                         # the helper's
        self._owner = os.getpid()             # the training run's
        if targets and os.environ.get(HELPER_ENV, "1").strip() not in ("0", "no", "false"):
            self._fork()

    # ------------------------------------------------------------ training run side
    def _fork(self) -> None:
        """Start the helper (before the workload: the process has no other thread yet)."""
        parent, child = socket.socketpair()
        try:
            pid = os.fork()
        except OSError as e:
            parent.close()
            child.close()
            self.note = f"no helper process ({e.strerror})"
            return
        if pid == 0:                                   # the helper: never returns
            status = 1
            try:
                die_with_parent(self._owner)       # whatever ends the training run ends it
                parent.close()
                self._after_fork()
                _helper(child, self.targets)
                status = 0
            finally:
                os._exit(status)
        child.close()
        self._sock, self._pid = parent, pid

    def finalized(self, lib) -> None:
        """A code library the training run finalized: to the helper, with what it links."""
        if self._sock is None or os.getpid() != self._owner:
            # (a process the workload forked compiles its own libraries: they are not the
            # training run's, and its writes would garble the stream)
            return
        try:
            _send(self._sock, ("lib", library_records(lib, self.keys, self._sent)))
        except ReplayError as e:
            self._fail(str(e))
        except OSError as e:
            self._fail(f"helper process lost ({e.strerror or e})")
        except Exception as e:  # noqa: BLE001 - never the workload's problem: generated here later
            self._fail(f"{type(e).__name__}: {e}")

    def _fail(self, why: str) -> None:
        """Give the helper up (the variants are then generated in this process)."""
        self.note = why
        self._close(stop=True)

    def _close(self, stop: bool = False) -> None:
        """Close the stream and reap the helper; ``stop``: it is given up, killed first (it
        may be busy, or wait for the end of a stream processes the workload forked hold)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._pid:
            try:
                if stop:
                    os.kill(self._pid, signal.SIGKILL)
                os.waitpid(self._pid, 0)
            except (ChildProcessError, ProcessLookupError):
                pass
            self._pid = 0

    # ------------------------------------------------------------ build side
    def start(self, recipe: CodeRecipe, prefixes: dict[str, str]) -> None:
        """Ask the helper for the objects (it works while this process generates its own)."""
        if self._sock is None:
            return
        try:
            _send(self._sock, ("generate", recipe, prefixes))
        except OSError as e:
            self._fail(f"helper process lost ({e.strerror or e})")

    def objects(self, recipe: CodeRecipe, prefixes: dict[str, str], libraries: list) -> dict[str, bytes]:
        """Each variant's object (BuildError-worthy problems raise ReplayError)."""
        result = None
        if self._sock is not None:
            try:
                result = _recv(self._sock)
            except Exception as e:  # noqa: BLE001 - a broken stream: generated here instead
                result = f"helper process: {type(e).__name__}: {e}"
            self._close()
            if result is None:
                self.note = "the helper process ended unexpectedly"
            elif isinstance(result, ReplayError):
                raise result
            elif isinstance(result, str):
                self.note, result = result, None
        if result is not None:
            return result
        # in this process, from the same records: the libraries in finalization order, then
        # any other the recipe names
        sent: set[int] = set()
        replays = _Replays(self.targets)
        replays.add([r for lib in [*libraries, *self.keys.libraries] for r in library_records(lib, self.keys, sent)])
        return replays.objects(recipe, prefixes)


class _Replays:
    """Every variant's replay, fed the same records, then asked for the objects."""

    def __init__(self, targets: list[CpuTarget]) -> None:
        self.targets = targets
        self.by_target = {t.option: Replay(t.name, t.features, t.required) for t in targets}

    def add(self, records: list) -> None:
        for rec in records:
            for r in self.by_target.values():
                r.add(rec)

    def objects(self, recipe: CodeRecipe, prefixes: dict[str, str]) -> dict[str, bytes]:
        return {t.option: generate(recipe, self.by_target[t.option].module, t, prefixes[t.option])
                for t in self.targets}


def _helper(sock: socket.socket, targets: list[CpuTarget]) -> None:
    """The helper process: replay libraries as they come, then generate the variants.

    A reader thread drains the socket into a queue, so the training run never waits
    on a busy helper. Code that cannot be generated for a variant is sent back as the
    ReplayError it is (the build's error); any other failure as text (the build then
    generates the variants itself)."""
    import queue
    inbox: "queue.Queue[Any]" = queue.Queue()

    def read() -> None:
        while True:
            try:
                msg = _recv(sock)
            except OSError:
                msg = None
            inbox.put(msg)
            if msg is None or msg[0] == "generate":
                return

    threading.Thread(target=read, daemon=True).start()
    replays: _Replays | None = None
    error: Any = None
    while True:
        msg = inbox.get()
        if msg is None:                  # the training run ended without a build
            return
        try:
            if replays is None:
                replays = _Replays(targets)
            if msg[0] == "lib":
                if error is None:
                    replays.add(msg[1])
                continue
            _, recipe, prefixes = msg
            out: Any = error if error is not None else replays.objects(recipe, prefixes)
        except ReplayError as e:         # the build's error too: said as it is
            error = out = e
            if msg[0] == "lib":
                continue
        except Exception as e:  # noqa: BLE001 - reported; the build falls back to itself
            error = out = f"helper process: {type(e).__name__}: {e}"
            if msg[0] == "lib":
                continue
        try:
            _send(sock, out)
        except OSError:
            pass
        return
