"""The release job recipe (docs/release-workflow.yml, issue 27), parsed and run here.

The workflow's `wheels` job builds one library image per Numba release in a virtualenv of
its own (snap installed from this tree, as SNAP_SPEC says), `snap check`s each, builds the
wheel and retags it manylinux with auditwheel. The test runs those `run:` steps, in order,
with bash, on a copy of tests/apps/snaplib; then installs the manylinux wheel into fresh
virtualenvs and probes it with Numba's compiler forbidden (tests/test_library_images.py).

* default: NUMBA_RELEASES = this environment's Numba (one image);
* slow: two Numba minors in one wheel (0.63 and this one): each fresh virtualenv holding
  either minor serves the library from its own image, and one holding a third minor is
  quiet and computes the same bits on the JIT.

Installing numba/llvmlite into the build virtualenvs uses the package index (pip's cache
after the first run).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numba
import pytest

from conftest import APPS, ROOT, assert_ok, clean_env, run
from test_library_images import fresh_venv, probe
from snapshot.image.packaged import PACKAGE_DIR, numba_minor

WORKFLOW = ROOT / "docs" / "release-workflow.yml"


def load_workflow() -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(WORKFLOW.read_text())


def test_workflow_is_a_release_job_with_check_and_publish():
    doc = load_workflow()
    assert set(doc["jobs"]) == {"wheels", "publish"}
    # YAML 1.1 reads the key `on` as True
    trigger = doc.get("on", doc.get(True))
    assert "push" in trigger and trigger["push"]["tags"] == ["v*"]
    wheels = doc["jobs"]["wheels"]
    assert wheels["strategy"]["matrix"]["python"] == ["3.10", "3.11", "3.12", "3.13"]
    runs = "\n".join(s["run"] for s in wheels["steps"] if "run" in s)
    assert "snap\" create -q --package" in runs and "snap\" check" in runs
    assert "auditwheel repair --plat manylinux" in runs
    releases = doc["env"]["NUMBA_RELEASES"].split()
    assert [numba_minor(v) for v in releases] == [f"0.{m}" for m in range(63, 69)]
    publish = doc["jobs"]["publish"]
    assert publish["needs"] == "wheels"
    assert any(s.get("uses", "").startswith("pypa/gh-action-pypi-publish") for s in publish["steps"])


def run_wheels_job(tmp: Path, numba_releases: list[str]) -> tuple[Path, Path]:
    """Run the `wheels` job's steps on a copy of snaplib; (project copy, manylinux wheel)."""
    doc = load_workflow()
    project = tmp / "snaplib"
    shutil.copytree(APPS / "snaplib", project,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", PACKAGE_DIR, "__pycache__"))
    env = clean_env(**{k: str(v) for k, v in doc["env"].items()})
    env["NUMBA_RELEASES"] = " ".join(numba_releases)
    env["SNAP_SPEC"] = str(ROOT)                       # snap from this tree, a regular install
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"   # `python`: this one
    for step in doc["jobs"]["wheels"]["steps"]:
        if "run" not in step:
            continue
        assert "${{" not in step["run"], step["name"]   # plain shell: runnable outside CI
        p = subprocess.run(["bash", "-c", step["run"]], cwd=project, env=env, capture_output=True,
                           text=True, timeout=1800)
        assert p.returncode == 0, f"step {step['name']!r}: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    (wheel,) = (project / "wheelhouse").glob("*.whl")
    assert "manylinux_2_17_x86_64" in wheel.name, wheel.name
    return project, wheel


def images_in(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as z:
        return {Path(n).name for n in z.namelist() if n.startswith(f"snaplib/{PACKAGE_DIR}/")
                and n.endswith(".so")}


def site_python(venv: Path) -> str:
    return str(venv / "bin" / "python")


def test_wheels_job_runs_locally(tmp_path):
    project, wheel = run_wheels_job(tmp_path, [numba.__version__])
    minor = numba_minor(numba.__version__)
    (image,) = images_in(wheel)
    assert f"-numba{minor}-" in image
    # a fresh virtualenv on the job's build environment (that Numba, snap installed)
    build_env = project / "build" / f"venv-{numba.__version__}"
    fresh = fresh_venv(tmp_path / "fresh", wheel, python=site_python(build_env))
    served, got = probe(fresh, tmp_path, "forbid", "served")
    assert_ok(served)
    assert [Path(a).name for a in got["active"]] == [image]


@pytest.mark.slow
def test_wheel_with_two_numba_minors_serves_either_and_is_quiet_on_a_third(tmp_path):
    oldest, here = "0.63.1", numba.__version__
    assert numba_minor(here) != numba_minor(oldest)
    project, wheel = run_wheels_job(tmp_path, [oldest, here])
    assert {re.search(r"-numba(0\.\d+)-", n).group(1) for n in images_in(wheel)} == {
        numba_minor(oldest), numba_minor(here)}

    results = {}
    for v in (oldest, here):
        fresh = fresh_venv(tmp_path / f"fresh-{v}", wheel, python=site_python(project / "build" / f"venv-{v}"))
        served, got = probe(fresh, tmp_path, "forbid", f"served-{v}")
        assert_ok(served)
        (active,) = got["active"]
        assert f"-numba{numba_minor(v)}-" in Path(active).name
        assert "Warning" not in served.stderr, served.stderr
        results[v] = got["arrays"]

    # a third minor: no image fits; quiet, the JIT serves, the same bits as the images
    third = "0.65.1"
    venv = tmp_path / "venv-third"
    assert_ok(run([sys.executable, "-m", "venv", str(venv)]))
    assert_ok(run([site_python(venv), "-m", "pip", "install", "-q", f"numba=={third}", str(ROOT)],
                  timeout=900))
    fresh = fresh_venv(tmp_path / "fresh-third", wheel, python=site_python(venv))
    jit, ref = probe(fresh, tmp_path, "jit", "third")
    assert_ok(jit)
    assert ref["active"] == [] and jit.stderr == "", jit.stderr
    for v, arrays in results.items():
        for k in ref["arrays"]:
            assert arrays[k].tobytes() == ref["arrays"][k].tobytes(), (v, k)
