"""Code that embeds process addresses ("dynamic globals") and `with objmode` blocks.

The image names each address at build time (a scipy ``cython_special`` capsule,
a symbol of Numba's threading layer or of llvmlite's table, a module-level
object) and fills a late-bound slot when the entry is installed; the tests run
the app from the image with compilation forbidden and compare with plain JIT.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from conftest import APPS, assert_ok, build_image, clean_env, run, snap

FORBID = {"SNAPTEST_FORBID_COMPILE": "1"}
SERVED = {"ppf_wap", "ppf_ctypes", "threads_ok", "threads_sum", "call_triple", "_seed", "seeded_draw", "pair_sum", "cos_twice"}


@pytest.fixture(scope="module")
def dyn_image(tmp_path_factory) -> Path:
    return build_image(tmp_path_factory, "dynglobal_workload.py", "dyn.so")[0]


@pytest.fixture(scope="module")
def reference() -> str:
    p = run([sys.executable, "dynglobal_app.py"])
    assert_ok(p)
    return p.stdout


def _from_image(image: Path, *args: str, **env: str):
    return run([sys.executable, "dynglobal_app.py", *args], env=clean_env(SNAP_SYSIMAGE=str(image), **env))


def _info(image: Path) -> dict:
    p = snap("info", "--json", str(image))
    assert_ok(p)
    return json.loads(p.stdout)


def test_served_with_compilation_forbidden(dyn_image, reference):
    p = _from_image(dyn_image, **FORBID)
    assert_ok(p)
    assert p.stdout == reference
    assert "Warning" not in p.stderr, p.stderr


def test_addresses_are_named_in_the_manifest(dyn_image):
    info = _info(dyn_image)
    entries = {e["function"].rsplit(".", 1)[-1]: e for e in info["entries"]}
    assert SERVED <= set(entries)
    named = lambda fn: set(entries[fn]["addresses"].values())   # noqa: E731
    assert "scipy.special.cython_special.__pyx_capi__['ndtri']" in named("ppf_wap")
    assert "object dynglobal_lib.ndtri_wap" in named("ppf_wap")         # the py_addr of the constant
    assert named("ppf_ctypes") == {"scipy.special.cython_special.__pyx_capi__['ndtri']"}
    assert named("threads_sum") == named("threads_ok") == {"symbol get_num_threads"}
    assert named("call_triple") == {"symbol dynglobal_triple"}
    assert named("cos_twice") == {"pointer dynglobal_lib.libm_cos"}
    kinds = {(e["function"], e["kind"]) for e in info["entries"]}
    assert ("dynglobal_lib._seed", "objmode") in kinds and ("dynglobal_lib._seed", "dispatcher") in kinds


def test_unnameable_address_is_reported_with_its_reason(dyn_image):
    skipped = {s["function"]: s["reason"] for s in _info(dyn_image)["skipped"]}
    assert set(skipped) == {"dynglobal_lib._make_call_neg.<locals>.call_neg"}
    reason = skipped["dynglobal_lib._make_call_neg.<locals>.call_neg"]
    assert reason.startswith("code embeds process addresses (dynamic globals): an address")
    assert "ctypes callback" in reason and "0x" not in reason      # no process address in the manifest


def test_missing_symbol_at_run_time_warns_and_jits(dyn_image, reference, tmp_path):
    report = tmp_path / "misses.jsonl"
    p = _from_image(dyn_image, DYNGLOBAL_UNREGISTERED="1", SNAP_REPORT=str(report))
    assert_ok(p)
    assert p.stdout == reference
    assert "SnapWarning" in p.stderr and "cannot find symbol dynglobal_triple" in p.stderr, p.stderr
    assert "call_triple" in p.stderr
    misses = [json.loads(line) for line in report.read_text().splitlines()]
    assert {m["function"] for m in misses} == {"dynglobal_lib.call_triple"}   # the rest is served


def test_without_the_image_the_app_compiles(reference):
    """The guard: the same app cannot run with compilation forbidden and no image."""
    p = run([sys.executable, "dynglobal_app.py"], env=clean_env(**FORBID))
    assert p.returncode != 0 and "CompilationForbidden" in p.stderr


def test_images_with_addresses_and_objmode_are_reproducible(dyn_image, tmp_path):
    again = tmp_path / "again.so"
    assert_ok(snap("create", "-q", "-w", "dynglobal_workload.py", "-o", str(again), cwd=APPS))
    assert again.read_bytes() == dyn_image.read_bytes()


def test_images_do_not_depend_on_bytecode_files(tmp_path):
    """The same build with the app's modules compiled from source (no __pycache__ yet) and
    loaded from their .pyc files gives the same bytes: the pickles Numba embeds in code
    (the `with objmode` block's dispatcher) must not depend on which equal strings were one
    object (a module's co_filename is shared when compiled, not when unmarshalled)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("dynglobal_workload.py", "dynglobal_app.py", "dynglobal_lib.py", "snaptest_forbid.py"):
        shutil.copy(APPS / name, src / name)
    env = {k: v for k, v in clean_env().items() if k != "PYTHONDONTWRITEBYTECODE"}
    builds = []
    for i in range(2):
        out = tmp_path / f"b{i}.so"
        assert_ok(snap("create", "-q", "-w", "dynglobal_workload.py", "-o", str(out), cwd=src, env=env))
        builds.append(out.read_bytes())
        assert (src / "__pycache__").is_dir()        # the second build reads the .pyc files
    assert builds[0] == builds[1]
