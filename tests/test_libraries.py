"""Real libraries served from an image (issue 4).

For each library: `snap create` traces its workload (tests/workloads/*_workload.py)
on plain JIT and saves the returned arrays as the reference; the image must serve
at least 98% of the entry points the workload compiled (the rest are listed with
a reason in the manifest); then the workload runs again from the image with every
Numba compiler entry point raising (tests/workloads/_forbidden.py) and in strict
mode, and must return exactly the reference arrays.

pynndescent takes minutes to trace cold: marked slow (run the whole set with
`bash scripts/test.sh -m "slow or not slow"`).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import ROOT, assert_ok, clean_env, snap

WORKLOADS = ROOT / "tests" / "workloads"
COVERAGE = 0.98

LIBRARIES = [
    pytest.param("numba_stats", "numba_stats", id="numba-stats"),
    pytest.param("numbagg", "numbagg", id="numbagg"),
    pytest.param("sparse", "sparse", id="sparse"),
    pytest.param("librosa", "librosa", id="librosa"),
    pytest.param("pynndescent", "pynndescent", id="pynndescent", marks=pytest.mark.slow),
]


def _load(path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


@pytest.mark.parametrize("workload, module", LIBRARIES)
def test_library_served_from_image(workload: str, module: str, tmp_path):
    pytest.importorskip(module)
    image, ref, got = tmp_path / f"{workload}.so", tmp_path / "ref.npz", tmp_path / "image.npz"
    p = snap("create", "-w", f"{workload}_workload.py", "-o", str(image), "-q",
             cwd=WORKLOADS, env=clean_env(SNAPTEST_RESULTS=str(ref)), timeout=3600)
    assert_ok(p)

    info = snap("info", "--json", str(image))
    assert_ok(info)
    doc = json.loads(info.stdout)
    served, left = len(doc["entries"]), doc["skipped"]
    for s in left:
        assert s["reason"], s
    coverage = served / (served + len(left))
    assert coverage >= COVERAGE, (
        f"{workload}: {served} served, {len(left)} left to the JIT:\n"
        + "\n".join(f"  {s['function']}{s['signature']}: {s['reason']}" for s in left))

    r = snap("run", "--sysimage", str(image), "--strict", "_forbidden.py", f"{workload}_workload.py",
             cwd=WORKLOADS, env=clean_env(SNAPTEST_FORBID_COMPILE="1", SNAPTEST_RESULTS=str(got)),
             timeout=600)
    assert_ok(r)
    expected, actual = _load(ref), _load(got)
    assert sorted(actual) == sorted(expected)
    for k in expected:
        np.testing.assert_array_equal(actual[k], expected[k], err_msg=f"{workload}: {k}")


@pytest.mark.slow
@pytest.mark.parametrize("workload, module", LIBRARIES[:4])
def test_library_cpu_variants_equal_the_jit_at_each_level(workload: str, module: str, tmp_path):
    """A `--cpu portable` image of the library's workload: each variant this CPU has (forced
    with SNAP_CPU), strict and with compilation forbidden, returns exactly what the plain JIT
    at that level (NUMBA_CPU_NAME) returns."""
    import sys

    from conftest import run
    from snapshot.image.host import LEVELS, host_cpu_features
    pytest.importorskip(module)
    image = tmp_path / f"{workload}.so"
    assert_ok(snap("create", "-w", f"{workload}_workload.py", "-o", str(image), "-q", "--cpu", "portable",
                   cwd=WORKLOADS, env=clean_env(), timeout=3600))
    for level in ("x86-64-v2", "x86-64-v3", "x86-64-v4"):
        if not set(LEVELS[level][1]) <= host_cpu_features():
            continue
        ref, got = tmp_path / f"jit-{level}.npz", tmp_path / f"image-{level}.npz"
        assert_ok(run([sys.executable, f"{workload}_workload.py"], cwd=WORKLOADS, timeout=1800,
                      env=clean_env(NUMBA_CPU_NAME=level, NUMBA_CPU_FEATURES="", SNAPTEST_RESULTS=str(ref))))
        assert_ok(snap("run", "--sysimage", str(image), "--strict", "_forbidden.py", f"{workload}_workload.py",
                       cwd=WORKLOADS, timeout=600,
                       env=clean_env(SNAP_CPU=level, SNAPTEST_FORBID_COMPILE="1", SNAPTEST_RESULTS=str(got))))
        expected, actual = _load(ref), _load(got)
        assert sorted(actual) == sorted(expected)
        for k in expected:
            np.testing.assert_array_equal(actual[k], expected[k], err_msg=f"{workload} at {level}: {k}")
