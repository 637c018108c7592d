"""The validity model (snapshot/image/validity.py): an entry is served only where it is exactly
what the JIT would run here; everything else gets the JIT, with its true reason.

Real images of tests/apps/validity_workload.py; "served" is proved with Numba's compiler
entry points made to raise, "same result" by comparing the program's output with the
plain JIT's, character for character (reprs of floats are exact).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import assert_ok, clean_env, run, snap

BUILD_ENV = {"SCALE": "1", "MULT": "1"}


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("validity") / "validity.so"
    p = snap("create", "-w", "validity_workload.py", "-o", str(out), env=clean_env(**BUILD_ENV))
    assert_ok(p)
    return out


def _plain(*args: str, **env: str):
    p = run([sys.executable, "validity_app.py", *args], env=clean_env(**BUILD_ENV, **env))
    assert_ok(p)
    return p.stdout


def _from_image(image: Path, *args: str, **env: str):
    return run([sys.executable, "validity_app.py", *args],
               env=clean_env(**{**BUILD_ENV, "SNAP_SYSIMAGE": str(image), **env}))


def _report(path: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        out.setdefault(rec["qualname"], []).append(rec)
    return out


def test_served_exactly_with_compilation_forbidden(image):
    """Variants of one function under two global configurations, exec-generated code, a
    lambda, a redefined function, locals=, eager and lazy dispatchers of one function, an
    array default argument: all served, strict, nothing compiled, the JIT's results."""
    p = _from_image(image, "served", SNAPTEST_FORBID_COMPILE="1", SNAP_STRICT="1")
    assert_ok(p)
    assert p.stdout == _plain("served")
    assert "Warning" not in p.stderr, p.stderr


def test_what_differs_gets_the_jit_with_its_true_reason(image, tmp_path):
    report = tmp_path / "misses.jsonl"
    p = _from_image(image, "all", SNAP_REPORT=str(report))
    assert_ok(p)
    assert p.stdout == _plain("all")
    assert "changed since" not in p.stderr          # nothing was edited: no staleness warning
    misses = _report(report)
    assert misses["reduce"][0]["kind"] == "stale" and "global append" in misses["reduce"][0]["reason"]
    for same_name in ("lambdas.<locals>.<lambda>", "redefined"):
        assert misses[same_name][0]["kind"] == "not in image"
        assert "another function of this name" in misses[same_name][0]["reason"]
    assert "other options" in misses["_div"][0]["reason"]            # locals= differs
    assert [m["signature"] for m in misses["clipped"]] == ["(float64, array(float64, 2d, C))"]
    assert "_absval" not in misses       # the eager dispatcher converts; it never compiles
    assert "_lookup_combine" not in misses


def test_changed_globals_never_give_a_wrong_result(image, tmp_path):
    env = {"SCALE": "10", "MULT": "5"}
    reference = run([sys.executable, "validity_app.py", "served"], env=clean_env(**env))
    assert_ok(reference)
    assert reference.stdout.splitlines()[0] == "scaled 35.0"
    report = tmp_path / "misses.jsonl"
    p = run([sys.executable, "validity_app.py", "served"],
            env=clean_env(**env, SNAP_SYSIMAGE=str(image), SNAP_REPORT=str(report)))
    assert_ok(p)
    assert p.stdout == reference.stdout
    (miss,) = _report(report)["scaled"]
    assert miss["kind"] == "stale" and "SCALE" in miss["reason"] and "TABLE" in miss["reason"]
    strict = run([sys.executable, "validity_app.py", "served"],
                 env=clean_env(**env, SNAP_SYSIMAGE=str(image), SNAP_STRICT="1"))
    assert strict.returncode != 0
    assert "global validity_lib.SCALE" in strict.stderr


def test_late_activation_serves_unused_dispatchers(image, tmp_path):
    report = tmp_path / "late.jsonl"
    p = run([sys.executable, "validity_late_app.py", str(image), str(report)],
            env=clean_env(**BUILD_ENV))
    assert_ok(p)
    assert p.stdout.splitlines() == ["before 3", "scaled 5.0", "clipped 1.5", "reduce 10.0", "after 3"]
    late = _report(report)["_absval"]           # abs_lazy's (int64), abs_eager's (float64)
    assert {m["kind"] for m in late} == {"late"}
    assert {m["reason"] for m in late} == {"compiled before the image was activated"}
    assert "(int64)" in [m["signature"] for m in late]
    assert "compiled before the image" in p.stderr and "was activated" in p.stderr


def test_snap_check_does_not_call_generated_code_stale(image):
    p = snap("check", str(image), env=clean_env(**BUILD_ENV))
    assert_ok(p)
    assert "stale" not in p.stdout


def test_training_run_frees_what_the_program_frees(tmp_path):
    """The recorder keeps no reference to the program's objects (issue: Numba's leak checks
    failed under `snap create`): NRT allocations balance, arrays and dropped dispatchers die."""
    env = clean_env(NUMBA_NRT_STATS="1")
    assert_ok(run([sys.executable, "transparency_workload.py"], env=env))
    p = snap("create", "-q", "-w", "transparency_workload.py", "-o", str(tmp_path / "t.so"), env=env)
    assert_ok(p)


def test_settings_read_making_options_flags_are_inputs(tmp_path):
    """Settings Numba reads while a dispatcher's options become compiler flags, before the
    compilation proper (TargetOptions.finalize: EXTEND_VARIABLE_LIFETIMES, DEBUGINFO_DEFAULT)
    are inputs like those read compiling: under them the JIT compiles other code, so the
    image does not serve what was compiled without them."""
    (tmp_path / "w.py").write_text("from numba import njit\n\n\n@njit\ndef f(x):\n    return x + 1\n\n\n"
                                   "print(f(1))\n")
    assert_ok(snap("create", "-q", "-w", "w.py", "-o", "t.so", cwd=tmp_path))
    report = tmp_path / "misses.jsonl"
    p = run([sys.executable, "w.py"], cwd=tmp_path, env=clean_env(
        SNAP_SYSIMAGE="t.so", SNAP_REPORT=str(report), NUMBA_EXTEND_VARIABLE_LIFETIMES="1"))
    assert_ok(p)
    assert p.stdout == "2\n"
    misses = _report(report)
    assert misses["f"][0]["kind"] == "stale", misses
    assert "EXTEND_VARIABLE_LIFETIMES" in misses["f"][0]["reason"], misses
