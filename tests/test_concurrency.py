"""Processes starting from an image while `snap create -o` replaces it: each one uses
the old or the new image (or falls back cleanly); none crashes or reads a torn file."""
from __future__ import annotations

import subprocess
import sys
import time

from conftest import assert_ok, clean_env, snap, snap_exe

LIB = "import numba\n@numba.njit\ndef f(x):\n    return x * 2 + 1\n"
APP = """
import snapshot.runtime as r
import clib
print(clib.f(20), clib.f(2.5))
rt = (r.active() or [None])[0]
print("image" if rt is not None and rt.installed else "jit")
"""


def test_sixteen_processes_while_the_image_is_replaced(tmp_path):
    (tmp_path / "clib.py").write_text(LIB)
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "wa.py").write_text("import clib\nclib.f(1)\n")
    (tmp_path / "wb.py").write_text("import clib\nclib.f(1); clib.f(1.5)\n")
    assert_ok(snap("create", "-q", "-w", "wa.py", "-o", "img.so", cwd=tmp_path))
    env = clean_env(SNAP_SYSIMAGE=str(tmp_path / "img.so"))
    builders = []
    apps = []
    deadline = time.monotonic() + 240
    for round_ in range(4):
        workload = "wb.py" if round_ % 2 == 0 else "wa.py"
        builders.append(subprocess.Popen([snap_exe(), "create", "-q", "-w", workload, "-o", "img.so"],
                                         cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True))
        for _ in range(4):
            apps.append(subprocess.Popen([sys.executable, "app.py"], cwd=tmp_path, env=env,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            time.sleep(0.15)
    for b in builders:
        _, err = b.communicate(timeout=max(1, deadline - time.monotonic()))
        assert b.returncode == 0, err
    modes = []
    for a in apps:
        out, err = a.communicate(timeout=max(1, deadline - time.monotonic()))
        assert a.returncode == 0, err
        lines = out.splitlines()
        assert lines[0] == "41 6.0", out
        assert "Traceback" not in err and "Segmentation" not in err, err
        modes.append(lines[1])
    assert len(apps) == 16
    assert "image" in modes
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".img.so")]
    assert leftovers == []
