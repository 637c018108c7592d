"""snap create: the image appears atomically, or not at all with a clear message."""
from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from conftest import APPS, clean_env, snap, snap_exe


def _no_leftovers(directory: Path) -> None:
    assert [p.name for p in directory.iterdir()] == []


@pytest.mark.parametrize("source, message", [
    (None, "does not exist"),
    ("raise RuntimeError('workload boom')\n", "raised RuntimeError: workload boom"),
    ("import sys\nsys.exit(3)\n", "exited with status 3"),
    ("import numba\nx = 1\n", "compiled nothing"),
    ("import numba\n@numba.njit\ndef f(x):\n    return x\nf(1\n", "SyntaxError"),
])
def test_failing_workload_leaves_no_file(tmp_path, source, message):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    workload = tmp_path / "w.py"
    if source is not None:
        workload.write_text(source)
    p = snap("create", "-w", str(workload), "-o", str(out_dir / "img.so"))
    assert p.returncode != 0
    assert message in p.stderr
    assert "snap create failed" in p.stderr
    _no_leftovers(out_dir)


def test_output_that_is_a_directory_or_in_a_missing_directory(tmp_path):
    p = snap("create", "-w", str(APPS / "kinds_workload.py"), "-o", str(tmp_path))
    assert p.returncode != 0 and "is a directory" in p.stderr
    (tmp_path / "afile").write_text("")      # a missing directory is created (issue 16), unless it cannot be
    p = snap("create", "-w", str(APPS / "kinds_workload.py"), "-o", str(tmp_path / "afile" / "no" / "img.so"))
    assert p.returncode != 0 and "cannot create directory" in p.stderr


def test_interrupted_build_leaves_no_file(tmp_path):
    workload = tmp_path / "slow.py"
    workload.write_text("import time, numba\nprint('ready', flush=True)\ntime.sleep(60)\n")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    # SIGINT as a terminal delivers it: not ignored, even when the test run itself was
    # started in the background (where the shell makes children ignore SIGINT)
    proc = subprocess.Popen([snap_exe(), "create", "-q", "-w", str(workload), "-o", str(out_dir / "img.so")],
                            env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "interrupted" in err
    _no_leftovers(out_dir)


def test_summary_lists_served_and_jit_entries_with_reasons(tmp_path):
    workload = tmp_path / "w.py"
    workload.write_text(
        "import numba\n"
        "@numba.njit\n"
        "def served(x):\n    return x + 1\n"
        "@numba.jit(forceobj=True)\n"
        "def objmode(x):\n    for i in range(x):\n        pass\n    return x + 1\n"
        "@numba.cfunc('float64(float64)')\n"
        "def cf(x):\n    return x * 2\n"
        "@numba.njit\n"
        "def gen(n):\n    yield n\n"
        "served(1); objmode(1); list(gen(2))\n")
    out = tmp_path / "img.so"
    p = snap("create", "-w", str(workload), "-o", str(out), env=clean_env(COLUMNS="200"))
    assert p.returncode == 0, p.stderr
    assert out.exists()
    assert "__main__.served" in p.stderr and "image" in p.stderr
    # object mode is served since issue 25; a lifted loop (and its function) is not
    assert "__main__.objmode" in p.stderr and "lifted loop (object mode)" in p.stderr
    assert "__main__.cf" in p.stderr and "__main__.gen" in p.stderr      # served since issue 4
    assert "3 specialization(s) served by the image, 2 left to the JIT" in p.stderr


def test_workload_gets_its_own_argv_and_cwd(tmp_path):
    workload = tmp_path / "w.py"
    workload.write_text(
        "import os, sys, numba\n"
        "assert sys.argv[1:] == ['--n', '3'], sys.argv\n"
        f"assert os.getcwd() == {str(tmp_path)!r}, os.getcwd()\n"
        "numba.njit(lambda x: x)(1)\n")
    p = snap("create", "-w", "w.py", "-o", "img.so", "--", "--n", "3", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "img.so").exists()


WORKLOAD_EXIT_EFFECTS = """
import atexit, sys, threading, time
import numba

numba.njit(lambda x: x + 1)(1)
log = open("unclosed.txt", "w")          # left open: its buffer is written at exit
log.write("buffered")
atexit.register(lambda: open("atexit.txt", "w").write("ran"))

def late():
    time.sleep(0.3)
    open("thread.txt", "w").write("joined")

threading.Thread(target=late).start()    # not a daemon: exit waits for it
sys.stdout.write("no newline at the end")
"""


def test_what_a_workload_does_at_exit_still_happens(tmp_path):
    """The trace child skips the interpreter's teardown (0.3-0.4 s with Numba loaded); threads,
    atexit handlers, files left open and unflushed output are still finished as at exit."""
    (tmp_path / "w.py").write_text(WORKLOAD_EXIT_EFFECTS)
    p = snap("create", "-q", "-w", "w.py", "-o", "img.so", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.endswith("no newline at the end")
    assert (tmp_path / "unclosed.txt").read_text() == "buffered"
    assert (tmp_path / "atexit.txt").read_text() == "ran"
    assert (tmp_path / "thread.txt").read_text() == "joined"
    assert (tmp_path / "img.so").exists()


def test_builds_are_reproducible(tmp_path):
    """Same inputs, two separate build processes: byte-identical images (no addresses,
    temp paths, timestamps or dict-order noise)."""
    workload = tmp_path / "w.py"
    workload.write_text(
        "import numpy as np, numba\n"
        "@numba.njit\n"
        "def inc(x):\n    return x + 1\n"
        "@numba.njit\n"
        "def apply(f, a):\n    return f(a[0]) + (a * 2 + 1).sum()\n"   # dispatcher arg + array expr
        "@numba.njit\n"
        "def text(x):\n    return len('snap' if x else 'image')\n"   # .bytes.<salted hash()>
        "def make(k):\n"
        "    @numba.njit\n"
        "    def scale(x):\n        return x * k\n"
        "    return scale\n"
        "apply(inc, np.ones(3)); make(2.0)(1.0); make(3.0)(1.0); text(1)\n")
    images = []
    for name in ("a.so", "b.so"):
        p = snap("create", "-q", "-w", str(workload), "-o", str(tmp_path / name))
        assert p.returncode == 0, p.stderr
        images.append((tmp_path / name).read_bytes())
    assert images[0] == images[1]


def test_portable_cpu_target_is_served_here_and_records_its_features(tmp_path):
    import sys

    import linker
    from conftest import run
    (tmp_path / "lib.py").write_text("import numba\n@numba.njit\ndef f(a):\n    return (a * 2.0).sum()\n")
    (tmp_path / "w.py").write_text("import numpy as np, lib\nprint(lib.f(np.arange(4.0)))\n")
    p = snap("create", "-q", "--cpu", "x86-64-v2", "-w", "w.py", "-o", "v2.so", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    from snapshot.image.manifest import Manifest
    manifest = Manifest.from_bytes(linker.ImageFile.open(tmp_path / "v2.so").section("snap.manifest"))
    assert manifest.cpu["target"] == "x86-64-v2"
    assert "sse4.2" in manifest.cpu["features"] and "avx" not in manifest.cpu["features"]
    (tmp_path / "app.py").write_text("import snaptest_forbid\n" + (tmp_path / "w.py").read_text())
    (tmp_path / "snaptest_forbid.py").write_text((APPS / "snaptest_forbid.py").read_text())
    served = run([sys.executable, "app.py"], cwd=tmp_path,
                 env=clean_env(SNAP_SYSIMAGE="v2.so", SNAPTEST_FORBID_COMPILE="1"))
    assert served.returncode == 0, served.stderr
    assert served.stdout == "12.0\n"


def test_unknown_cpu_target_is_a_clear_error(tmp_path):
    p = snap("create", "--cpu", "pentium-9000", "-w", str(APPS / "kinds_workload.py"), "-o", str(tmp_path / "x.so"))
    assert p.returncode != 0
    assert "unknown --cpu 'pentium-9000'" in p.stderr
    assert not (tmp_path / "x.so").exists()


def test_unwritable_output_fails_before_the_workload_runs(tmp_path):
    marker = tmp_path / "ran"
    workload = tmp_path / "w.py"
    workload.write_text(f"open({str(marker)!r}, 'w').close()\nimport numba\nnumba.njit(lambda x: x)(1)\n")
    p = snap("create", "-w", str(workload), "-o", "/proc/snap-test-image.so")
    assert p.returncode != 0
    assert "cannot write '/proc/snap-test-image.so'" in p.stderr and "Traceback" not in p.stderr
    assert not marker.exists()
