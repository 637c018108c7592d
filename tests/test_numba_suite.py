"""Numba's own test suite as a correctness oracle (scripts/numba_suite.py).

The same tests run three times: under the plain JIT, as the training workload of
`snap create`, and from the image. Every test that passes under the plain JIT
must pass under `snap create` (the training run is transparent) and from the
image (an image never changes a result). The default run takes two quick
modules; the larger set is marked slow:

    bash scripts/test.sh -m slow -k numba_suite
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import ROOT, assert_ok, clean_env, run, snap

RUNNER = str(ROOT / "scripts" / "numba_suite.py")
QUICK = ["numba.tests.test_closure", "numba.tests.test_recursion"]
FULL = ["numba.tests.test_dictobject", "numba.tests.test_typedlist", "numba.tests.test_jitclasses",
        "numba.tests.test_generators", "numba.tests.test_closure", "numba.tests.test_recursion",
        "numba.tests.test_record_dtype", "numba.tests.npyufunc.test_gufunc"]
# Tests that cannot pass under `snap create` by design (the training run compiles every
# cache=True function afresh, so cache hits they assert never happen), with the reason.
TRAINING_EXCLUDED: dict[str, str] = {}
# Tests that inspect side effects of compiling, which an image does not compile, with the reason.
IMAGE_EXCLUDED: dict[str, str] = {
    "numba.tests.test_dictobject.TestTypedDictInitialValues.test_mutation_not_carried_single_function":
        "inspects the overloads a callee gains when its caller is JIT-compiled (`baz.signatures`); "
        "served from the image, the caller is not compiled and neither is the callee",
}


def _outcomes(path: Path) -> dict:
    return json.loads(path.read_text())


def _differential(tmp_path: Path, modules: list[str]) -> dict:
    env = clean_env()
    plain = tmp_path / "plain.json"
    assert_ok(run([sys.executable, RUNNER, "--out", str(plain), *modules], cwd=tmp_path, env=env,
                  timeout=3600))
    image = tmp_path / "suite.so"
    trained = tmp_path / "trained.json"
    p = snap("create", "-q", "-w", RUNNER, "-o", str(image), "--", "--out", str(trained), *modules,
             cwd=tmp_path, env=env, timeout=3600)
    assert_ok(p)
    served = tmp_path / "image.json"
    misses = tmp_path / "misses.jsonl"
    p = snap("run", "--sysimage", str(image), "--report-misses", str(misses), RUNNER,
             "--out", str(served), *modules, cwd=tmp_path, env=env, timeout=3600)
    assert_ok(p)                                   # no crash, no hang
    return {"plain": _outcomes(plain), "trained": _outcomes(trained), "image": _outcomes(served),
            "misses": [json.loads(line) for line in misses.read_text().splitlines()] if misses.exists() else []}


def _regressions(plain: dict, other: dict, excluded: dict[str, str]) -> list[str]:
    return [f"{tid}: {other['tests'].get(tid)} ({other['details'].get(tid, '')})"
            for tid, outcome in plain["tests"].items()
            if outcome == "pass" and other["tests"].get(tid) != "pass" and tid not in excluded]


def _check(res: dict) -> None:
    plain = res["plain"]
    assert plain["summary"]["pass"] > 0
    assert _regressions(plain, res["trained"], TRAINING_EXCLUDED) == []
    assert _regressions(plain, res["image"], IMAGE_EXCLUDED) == []
    compiled_plain = sum(plain["compilations"].values())
    compiled_image = sum(res["image"]["compilations"].values())
    reasons = Counter((m["kind"], m["reason"]) for m in res["misses"])
    print(f"\n{len(plain['tests'])} tests; plain passes {plain['summary']['pass']}; compilations plain "
          f"{compiled_plain}, from the image {compiled_image} "
          f"({1 - compiled_image / max(compiled_plain, 1):.0%} served)")
    for (kind, reason), n in reasons.most_common():
        print(f"  {n:5d}  {kind}: {reason}")
    assert compiled_image < compiled_plain


def test_quick_modules_pass_from_the_image(tmp_path):
    _check(_differential(tmp_path, QUICK))


@pytest.mark.slow
def test_numba_suite_passes_from_the_image(tmp_path):
    _check(_differential(tmp_path, FULL))
