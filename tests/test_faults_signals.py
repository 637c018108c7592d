"""snap create under signals: whatever ends it, in whatever phase, leaves nothing behind.

Every signal that ends a command in practice (Ctrl-C's SIGINT, SIGTERM from timeout,
docker stop or a CI cancel, SIGHUP from a closed terminal, SIGQUIT, and SIGKILL) is
sent to `snap create` while it waits in each phase of a build: the workload running
(it has started a process of its own, and the build has a CPU-variant helper), then
collecting, code generation, linking, writing the image (half written) and verifying
it before the commit. The phase is reached for certain: snap stops at a named point
when _SNAP_STALL_AT names it (snapshot/create/lifeline.py) and says so on stderr.

After each: the output path holds the previous image byte for byte, no temporary file
is left beside it, no process of the build is alive (found through /proc by a marker in
their environment, which every descendant inherits), and the command exits non-zero
with one line saying so (SIGKILL: no line, the kernel's exit status).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from conftest import clean_env, snap_exe

WORKLOAD = """\
import os, subprocess, sys, time
import numba

# a process of the workload's own: it must end with the build too
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])


@numba.njit
def f(x):
    return x + 1


f(1)
f(1.5)
if os.environ.get("_SNAP_STALL_AT") == "training":
    sys.stderr.write("snap: stalled at training\\n")
    sys.stderr.flush()
    time.sleep(600)
"""

POINTS = ["training", "collecting", "code generation", "linking", "writing", "verify"]
SIGNALS = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGKILL]
OLD = b"\x7fELF an image from an earlier build, which must survive the interrupted one\n"
CATCHABLE = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


def marked(marker: str) -> list[int]:
    """Live processes (not zombies) whose environment carries ``marker``."""
    needle = marker.encode()
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    continue
            with open(f"/proc/{d}/environ", "rb") as f:
                env = f.read()
        except (OSError, IndexError):
            continue
        if needle in env:
            found.append(int(d))
    return found


def _kill_all(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _default_signals() -> None:
    # as a terminal or a supervisor delivers them: not ignored, even when the test run itself
    # was started in the background or under nohup
    for s in CATCHABLE:
        signal.signal(s, signal.SIG_DFL)


class Lines:
    """Every line a stream gives, read by a thread: waiting for one never blocks on the pipe
    (processes left running would hold it open)."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self.done = threading.Event()
        self._changed = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        self.done.set()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, needle: str, timeout: float) -> int:
        """The number of lines up to the one containing ``needle``."""
        with self._changed:
            ok = self._changed.wait_for(lambda: self.done.is_set()
                                        or any(needle in x for x in self.lines), timeout)
            assert ok and any(needle in x for x in self.lines), \
                f"never reached {needle!r}:\n{''.join(self.lines)}"
            return next(i for i, x in enumerate(self.lines) if needle in x) + 1


@pytest.fixture(scope="module")
def workload(tmp_path_factory) -> Path:
    w = tmp_path_factory.mktemp("sigw") / "w.py"
    w.write_text(WORKLOAD)
    return w


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_signal_in_every_phase_leaves_nothing(workload, tmp_path, sig, point):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "img.so"
    out.write_bytes(OLD)
    marker = f"snaptest-{uuid.uuid4().hex}"
    env = clean_env(_SNAP_STALL_AT=point, SNAPTEST_MARKER=marker)
    proc = subprocess.Popen([snap_exe(), "create", "-q", "--cpu", "x86-64,x86-64-v2", "-w", str(workload),
                             "-o", str(out)], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_signals)
    try:
        err = Lines(proc.stderr)
        seen = err.wait_for(f"snap: stalled at {point}", 120)
        alive = marked(marker)
        # the scan sees the build (the command, and before the commit phase the training
        # child, its guardian or helper and the workload's process): it can fail
        assert proc.pid in alive and len(alive) >= (1 if point == "verify" else 3), alive
        proc.send_signal(sig)
        proc.wait(timeout=60)
        err.done.wait(3)          # what the command wrote before it exited (others may hold the pipe)
        rest = "".join(err.lines[seen:])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 20          # SIGKILL's effects travel down the tree
    while marked(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = marked(marker)
    _kill_all(left)
    assert left == [], f"processes of the build still alive after {sig.name} at {point}: {left}"
    assert sorted(p.name for p in out_dir.iterdir()) == ["img.so"], list(out_dir.iterdir())
    assert out.read_bytes() == OLD
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
        return
    lines = [line for line in rest.splitlines() if line.strip()]
    assert proc.returncode != 0 and len(lines) == 1, (proc.returncode, rest)
    assert lines[0].startswith("snap create interrupted") and "no image written" in lines[0], lines[0]
    if sig != signal.SIGINT:
        assert sig.name in lines[0], lines[0]


def test_a_build_that_is_not_interrupted_still_commits_and_leaves_no_process(workload, tmp_path):
    """The same build, not stopped: the image replaces the old one, and the workload's own
    process (still sleeping when the workload ended) ends with the build."""
    out = tmp_path / "img.so"
    out.write_bytes(OLD)
    marker = f"snaptest-{uuid.uuid4().hex}"
    p = subprocess.run([snap_exe(), "create", "-q", "--cpu", "x86-64,x86-64-v2", "-w", str(workload),
                        "-o", str(out)], cwd=tmp_path, env=clean_env(SNAPTEST_MARKER=marker),
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert out.read_bytes()[:4] == b"\x7fELF" and out.read_bytes() != OLD
    assert sorted(x.name for x in tmp_path.iterdir()) == ["img.so"]
    deadline = time.monotonic() + 20
    while marked(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = marked(marker)
    _kill_all(left)
    assert left == []
