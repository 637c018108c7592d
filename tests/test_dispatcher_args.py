"""Issue 25: specializations whose argument types name a jitted function passed in
(``types.Dispatcher``: ``apply(f, a)``, ``typed.List.sort(key=...)``, which wraps its key
in a new ``njit`` dispatcher at every call) are served from the image, matched by the passed
function's identity (name, code, closure, options), never by the dispatcher object of the
training run. A passed function of other code or another closure is a miss, never another
function's code. Object-mode code whose closure holds such a function is served too (its
environment takes the dispatcher from the closure at install), and so is nopython code
embedding the address of a jitted function held by its closure (the address slot is filled
from the closure at install; or, for a lambda in jitted code Numba makes a jitted function
of, with one made again from its code). The app runs from the image with every Numba compiler entry point made to
raise, and its output (each result's bytes) is compared with a plain-JIT run."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import assert_ok, build_image, clean_env, run, snap

FORBID = {"SNAPTEST_FORBID_COMPILE": "1"}
APP = "dargs_app.py"


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    return build_image(tmp_path_factory, "dargs_workload.py", "dargs-image.so")[0]


@pytest.fixture(scope="module")
def info(image) -> dict:
    p = snap("info", "--json", str(image))
    assert_ok(p)
    return json.loads(p.stdout)


def jit_output(*args: str) -> str:
    p = run([sys.executable, APP, *args])
    assert_ok(p)
    return p.stdout


def image_run(image: Path, tmp_path: Path, *args: str, env: dict | None = None) -> tuple[str, str, list[dict]]:
    report = tmp_path / "misses.jsonl"
    p = snap("run", "--sysimage", str(image), "--report-misses", str(report), APP, *args,
             env=clean_env(**(env or {})))
    assert_ok(p)
    misses = [json.loads(ln) for ln in report.read_text().splitlines()] if report.exists() else []
    return p.stdout, p.stderr, misses


def test_passed_functions_are_in_the_image(info):
    served = {(e["function"], e["signature"].split(" -> ")[0]) for e in info["entries"]}
    for want in [("dargs_lib.apply", "(dispatcher(dargs_lib.twice), array(float64, 1d, C))"),
                 ("dargs_lib.apply", "(dispatcher(dargs_lib.make_scale.<locals>.scale), array(float64, 1d, C))"),
                 ("dargs_lib.apply", "(dispatcher(dargs_lib.make_scale.<locals>.scale), float64)"),
                 ("numba.typed.typedlist._sort", "(ListType[float64], dispatcher(__main__.<lambda>), bool)"),
                 ("numba.typed.typedlist._sort", "(ListType[float64], dispatcher(dargs_lib.plain_key), bool)"),
                 # object mode over a closure cell holding a jitted function made inside a function
                 ("dargs_lib.make_objmode_caller.<locals>.outer", "(float64)"),
                 # nopython code embedding the address of such a function (a sort key)
                 ("dargs_lib.make_sorter.<locals>.udt", "(ListType[float64])"),
                 # a lambda in jitted code passed as a key (a jitted function Numba makes)
                 ("dargs_lib.sort_arrays_by_sum", "(ListType[array(float64, 1d, C)])")]:
        assert want in served, (want, sorted(served))
    assert not [s for s in info["skipped"] if "dispatcher(" in s.get("signature", "")], info["skipped"]


def test_served_with_compilation_forbidden_and_identical_to_the_jit(image, tmp_path):
    """apply(f, a) with f global or made inside a function, sort keys (lambdas, a plain
    function): no compilation, the JIT's bytes, the passed function's dispatcher holding
    its signatures as after the JIT compiled its caller."""
    out, err, misses = image_run(image, tmp_path, env=FORBID)
    assert out == jit_output()
    assert misses == [], misses
    assert "SnapWarning" not in err, err


def test_strict_mode_passes(image):
    p = snap("run", "--strict", "--sysimage", str(image), APP)
    assert_ok(p)
    assert p.stdout == jit_output()


def test_other_code_or_closure_passed_in_is_a_miss_not_a_wrong_result(image, tmp_path):
    """Built with key A (and a closure over 1.5), run with key B of other code under the
    same name (and the same function over -0.5): each such call is compiled by the JIT and
    gives the JIT's result."""
    out, _err, misses = image_run(image, tmp_path, "--other")
    assert out == jit_output("--other")
    missed = {(m["function"], m["signature"]) for m in misses}
    assert ("dargs_lib.apply", "(dispatcher(dargs_lib.make_scale.<locals>.scale), array(float64, 1d, C))") in missed
    assert ("numba.typed.typedlist._sort", "(ListType[float64], dispatcher(__main__.<lambda>), bool)") in missed
    assert ("dargs_lib.make_objmode_caller.<locals>.outer", "(float64)") in missed
    assert ("dargs_lib.make_sorter.<locals>.udt", "(ListType[float64])") in missed


def test_other_code_passed_in_is_refused_even_with_compilation_forbidden(image, tmp_path):
    """Nothing of the image stands in for a passed function of other code: with compilation
    forbidden, the call fails (it would have to compile) rather than run the image's code."""
    report = tmp_path / "m.jsonl"
    p = snap("run", "--sysimage", str(image), "--report-misses", str(report), APP, "--other",
             env=clean_env(**FORBID))
    assert p.returncode != 0
    assert "CompilationForbidden" in p.stderr
