"""Numba's own test suite as a correctness oracle (scripts/numba_suite.py).

The same tests run three times: under the plain JIT, as the training workload of
`snap create`, and from the image. Every test that passes under the plain JIT
must pass under `snap create` (the training run is transparent) and from the
image (an image never changes a result). The default run takes three quick
modules (QUICK); the larger sets are marked slow, each its own test so that one can
run alone: FULL (once as built, once from a generated CPU variant) and each list
of MORE (``-k language``, ``-k objects``, ``-k control``, ``-k containers``,
``-k extending``):

    bash scripts/test.sh -m slow -k numba_suite

A test that cannot pass from an image by design is listed in IMAGE_EXCLUDED (or
TRAINING_EXCLUDED for the training run) with the reason; every other difference
is a bug in snap, fixed with a regression test outside the suite run
(tests/test_suite_regressions.py).
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import ROOT, assert_ok, clean_env, run, snap
from snapshot.image.variants import parse_targets

RUNNER = str(ROOT / "scripts" / "numba_suite.py")
QUICK = ["numba.tests.test_closure", "numba.tests.test_recursion", "numba.tests.test_mathlib"]
FULL = ["numba.tests.test_dictobject", "numba.tests.test_typedlist", "numba.tests.test_jitclasses",
        "numba.tests.test_generators", "numba.tests.test_closure", "numba.tests.test_recursion",
        "numba.tests.test_record_dtype", "numba.tests.npyufunc.test_gufunc",
        # inspection of served entries (inspect_llvm/asm/cfg/types, annotation info, debug info)
        "numba.tests.test_dispatcher.TestDispatcherMethods", "numba.tests.test_debuginfo.TestDebugInfoEmission"]
# More of the suite, one slow test each (a list takes 5-10 minutes of plain JIT on 2 cores):
# the Python language as Numba compiles it (builtins, containers, iteration, exceptions,
# literal dispatch, enums, math, typeof) ...
LANGUAGE = ["numba.tests.test_builtins", "numba.tests.test_lists", "numba.tests.test_tuples",
            "numba.tests.test_optional", "numba.tests.test_enums", "numba.tests.test_typeof",
            "numba.tests.test_iteration", "numba.tests.test_literal_dispatch",
            "numba.tests.test_mathlib", "numba.tests.test_exceptions"]
# ... objects and state: pickled dispatchers, globals, first-class functions, structref, nested
# calls, the random generators' state, types; and control flow, containers and casts (the two
# lists were chosen after the others, as modules of the suite no fix had been made for: all
# their tests passed from the image the first time, 92% and 88% of their compilations served)
OBJECTS = ["numba.tests.test_serialize", "numba.tests.test_globals", "numba.tests.test_func_interface",
           "numba.tests.test_struct_ref", "numba.tests.test_nested_calls", "numba.tests.test_random",
           "numba.tests.test_types"]
CONTROL = ["numba.tests.test_dicts", "numba.tests.test_slices", "numba.tests.test_range",
           "numba.tests.test_flow_control", "numba.tests.test_casting", "numba.tests.test_maxmin",
           "numba.tests.test_usecases", "numba.tests.test_polynomial"]
# ... and containers and algorithms over them (sets, heapq, sorting, number constructors,
# array iteration: 385 tests, all passing from the image the first time, 97% of 2,406
# compilations served; the rest tests expecting a typing error)
CONTAINERS = ["numba.tests.test_sets", "numba.tests.test_heapq", "numba.tests.test_sort",
              "numba.tests.test_numberctor", "numba.tests.test_array_iterators"]
# ... and the extension API, lifted loops and with-blocks, array reductions and manipulation
# (654 tests pass under the JIT; from the image the first time all but two typing-error
# tests of test_extending -- an @overload re-registered in a test method with other options,
# fixed in numba_seam/values.py -- and the cache-statistics tests below)
EXTENDING = ["numba.tests.test_extending", "numba.tests.test_array_reductions",
             "numba.tests.test_withlifting", "numba.tests.test_looplifting",
             "numba.tests.test_array_manipulation"]
MORE = {"language": LANGUAGE, "objects": OBJECTS, "control": CONTROL, "containers": CONTAINERS,
        "extending": EXTENDING}
# Tests that cannot pass under `snap create` by design (the training run compiles every
# cache=True function afresh, so cache hits they assert never happen), with the reason.
_CACHE_STATS = ["numba.tests.test_struct_ref.TestStructRefCaching.test_structref_caching",
                "numba.tests.test_extending.TestOverloadMethodCaching.test_caching_overload_method",
                *(f"numba.tests.test_withlifting.TestLiftObjCaching.test_objmode_caching_{t}"
                  for t in ("basic", "call_closure_bad", "call_closure_good"))]
TRAINING_EXCLUDED: dict[str, str] = dict.fromkeys(
    _CACHE_STATS, "asserts Numba's cache statistics (hits for a second cache=True dispatcher): the "
                  "training run compiles every cache=True function afresh")
# Tests that inspect side effects of compiling, which an image does not compile, with the reason.
IMAGE_EXCLUDED: dict[str, str] = dict.fromkeys(
    _CACHE_STATS, "asserts Numba's cache statistics: a call the image serves neither hits nor misses "
                  "Numba's on-disk cache")


def _outcomes(path: Path) -> dict:
    return json.loads(path.read_text())


def _differential(tmp_path: Path, modules: list[str], cpu: str | None = None) -> dict:
    """Plain JIT, snap create, the image; with ``cpu`` (``--cpu`` of snap create) the image
    runs its lowest CPU variant (``SNAP_CPU``): with several, one generated by replaying
    Numba's code generation, not the code the training run compiled."""
    env = clean_env()
    plain = tmp_path / "plain.json"
    assert_ok(run([sys.executable, RUNNER, "--out", str(plain), *modules], cwd=tmp_path, env=env,
                  timeout=3600))
    image = tmp_path / "suite.so"
    trained = tmp_path / "trained.json"
    p = snap("create", "-q", "-w", RUNNER, "-o", str(image), *(["--cpu", cpu] if cpu else []),
             "--", "--out", str(trained), *modules, cwd=tmp_path, env=env, timeout=3600)
    assert_ok(p)
    if cpu:
        env = clean_env(SNAP_CPU=parse_targets(cpu)[0])
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
    compiled_image = sum(n for k, n in res["image"]["compilations"].items() if k != "inspection")
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


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MORE))
def test_more_of_numbas_suite_passes_from_the_image(tmp_path, name):
    """One of the lists in MORE (``-k language`` runs one alone)."""
    _check(_differential(tmp_path, MORE[name]))


@pytest.mark.slow
def test_numba_suite_passes_from_a_generated_cpu_variant(tmp_path):
    """The same, from the x86-64-v2 variant of a ``--cpu portable`` image: code the training
    run never compiled, generated by replaying Numba's optimization and backend."""
    _check(_differential(tmp_path, FULL, cpu="portable"))
