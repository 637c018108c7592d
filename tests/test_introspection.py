"""Issue 25, item 1: introspection of served entries answers as the JIT would.

One program (tests/apps/introspect_app.py: a plain @njit function with a callee, fastmath,
parallel=True, a generator) runs under the plain JIT, and from an image built from it by
`snap create` with Numba's compiler made to raise for the program's calls and strict mode
on: the calls are served, and every inspection output (LLVM IR, assembly, typed IR
annotation, annotation info, CFG dot sources) equals the JIT's as a string -- object
addresses removed, which differ between any two processes, the JIT's own included.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import assert_ok, build_image, clean_env, run

APP = "introspect_app.py"


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    return build_image(tmp_path_factory, APP, "introspect.so")[0]


@pytest.fixture(scope="module")
def plain() -> list[str]:
    p = run([sys.executable, APP, "inspect"])
    assert_ok(p)
    return p.stdout.splitlines()


@pytest.fixture(scope="module")
def served(image, tmp_path_factory) -> tuple[list[str], Path]:
    report = tmp_path_factory.mktemp("report") / "misses.jsonl"
    p = run([sys.executable, APP, "inspect"],
            env=clean_env(SNAP_SYSIMAGE=str(image), SNAP_STRICT="1", SNAPTEST_FORBID_COMPILE="1",
                          SNAP_REPORT=str(report)))
    assert_ok(p)
    assert "Warning" not in p.stderr, p.stderr
    return p.stdout.splitlines(), report


def test_calls_served_and_results_identical(plain, served):
    lines, report = served
    assert lines[0] == plain[0]                  # the results, before anything is inspected
    assert lines[3] == plain[3]                  # and after
    assert not report.exists() or not report.read_text().strip()     # no miss, none reported


@pytest.mark.parametrize("func", ["with_callee", "callee", "fast", "par", "gen"])
def test_inspection_equals_the_jit(plain, served, func):
    jit = json.loads(plain[1])[func]
    image = json.loads(served[0][1])[func]
    assert set(image) == set(jit)
    for what in jit:
        assert image[what] == jit[what], f"{func}: {what} differs from the JIT's"


def test_inspecting_leaves_the_dispatchers_as_they_were(served):
    assert served[0][2] == "dispatchers unchanged True"
