"""The SNAP_SYSIMAGE start-up hook is installed by `pip install .` and `pip install -e .` (issue 16).

Each test installs snap (without dependencies) into a fresh virtualenv; the
dependencies (numba...) come from this interpreter's site-packages through a
plain path line, so that only the fresh install's own .pth files run.
"""
from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import APPS, ROOT, assert_ok, clean_env, run, snap

PROBE = ("import numba\nfrom snapshot import runtime\nrt = (runtime.active() or [None])[0]\n"
         "print(rt is not None and rt.manifest is not None)\n")


def _fresh_install(tmp_path: Path, editable: bool) -> Path:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    purelib = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    cmd = [sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps",
           "--disable-pip-version-check"]
    p = run(cmd + (["-e", str(ROOT)] if editable else [str(ROOT)]), cwd=tmp_path, timeout=300)
    assert_ok(p)
    # dependencies: a plain path (not a site directory: its .pth files are not run)
    (purelib / "zz-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return py


@pytest.mark.parametrize("editable", [False, True], ids=["pip install .", "pip install -e ."])
def test_start_up_hook_is_installed(tmp_path, kinds_image, editable):
    py = _fresh_install(tmp_path, editable)
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    assert (site / "snap-sysimage.pth").read_text() == (ROOT / "snap-sysimage.pth").read_text()
    p = run([str(py), "-c", PROBE], env=clean_env(SNAP_SYSIMAGE=str(kinds_image)), cwd=tmp_path)
    assert_ok(p)
    assert p.stdout == "True\n", p.stderr
    p = run([str(py), "kinds_app.py"], cwd=APPS,
            env=clean_env(SNAP_SYSIMAGE=str(kinds_image), SNAPTEST_FORBID_COMPILE="1"))
    assert_ok(p)                     # served from the image: compiling would raise
    doctor = run([str(py), "-m", "snapshot.cli", "doctor", "--json"], cwd=tmp_path,
                 env=clean_env(SNAP_SYSIMAGE=str(kinds_image)))
    doc = json.loads(doctor.stdout)
    assert doc["hook"]["installed"] is True and doc["hook"]["files"] == [str(site / "snap-sysimage.pth")]
    assert doc["uses"]["python app.py"] == str(kinds_image)


def test_doctor_says_when_the_hook_is_missing(tmp_path):
    py = _fresh_install(tmp_path, editable=True)
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "snap-sysimage.pth").unlink()
    p = run([str(py), "-m", "snapshot.cli", "doctor"], cwd=tmp_path, env=clean_env())
    assert p.returncode == 1
    assert "start-up hook      PROBLEM: not installed in this Python" in p.stdout
