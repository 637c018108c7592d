"""Issue 25, item 3: every kind Numba's own cache serves is served from the image.

- closures holding builtin functions, identified by what each cell holds (a builtin by its
  qualified name, a builtin method also by what it is bound to, a method of NumPy's global
  generator by its name, not by the generator's changing state);
- object-mode functions (``forceobj=True``), reading their globals when they run and holding
  the closure's own objects (not the payload's copies);
- code exec'd in globals of its own (no ``__name__``), whose environment Numba's cache refuses.

One image from tests/apps/coverage_workload.py; the app runs from it with compilation
forbidden and must print what the plain JIT prints; with --other, closures of the same code
holding other builtins or objects, and generated code reading another value, must be misses
that compute what the JIT computes."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_ok, build_image, clean_env, run, snap
from snapshot.errors import Unfingerprintable
from snapshot.image.fingerprint import value_key

APP = "coverage_app.py"


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    return build_image(tmp_path_factory, "coverage_workload.py", "coverage.so")[0]


def _from_image(image: Path, tmp_path: Path, *args: str, **env: str) -> tuple[str, list[dict]]:
    report = tmp_path / "misses.jsonl"
    p = snap("run", "--sysimage", str(image), "--report-misses", str(report), APP, *args,
             env=clean_env(**env))
    assert_ok(p)
    misses = [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []
    return p.stdout, misses


def test_closures_over_builtins_are_served(image, tmp_path):
    plain = run([sys.executable, APP])
    assert_ok(plain)
    out, misses = _from_image(image, tmp_path, SNAPTEST_FORBID_COMPILE="1")
    assert out == plain.stdout
    assert misses == []


def test_other_builtin_held_is_a_miss_not_the_old_code(image, tmp_path):
    plain = run([sys.executable, APP, "--other"])
    assert_ok(plain)
    out, misses = _from_image(image, tmp_path, "--other")
    assert out == plain.stdout            # cos, exp, log: not the image's sqrt
    assert "('cos', '-0.4161468365471424')" in out and "('rebound', '2.1972245773362196')" in out
    missed = sorted(m["qualname"] for m in misses)
    assert missed == ["kernel", "make_pusher.<locals>.push", "make_rebindable.<locals>.apply",
                      "make_unary.<locals>.apply", "make_unary.<locals>.apply"], misses
    pusher = next(m for m in misses if m["qualname"] == "make_pusher.<locals>.push")
    assert "its environment holds another closure's objects" in pusher["reason"]
    generated = next(m for m in misses if m["qualname"] == "kernel")
    assert generated["reason"].startswith("global K (read compiling <dynamic>.kernel) differs"), generated


def test_builtin_methods_are_keyed_by_what_they_are_bound_to():
    """``[1].append`` and ``[2].append`` are one builtin of two lists (code over one must not
    serve the other); a method of an object with no structure cannot be fingerprinted."""
    assert value_key([1].append) == value_key([1].append)
    assert value_key([1].append) != value_key([2].append)
    assert value_key("a".upper) != value_key("b".upper)
    assert value_key(dict.fromkeys) != value_key(type("D", (dict,), {}).fromkeys)
    assert value_key(math.sqrt) != value_key(math.cos)
    assert value_key(np.sqrt) != value_key(np.exp)
    import threading
    with pytest.raises(Unfingerprintable):
        value_key(threading.Lock().acquire)
    before = value_key(np.random.random)
    np.random.random(3)                 # the generator's state moves; the function is the same
    assert value_key(np.random.random) == before
