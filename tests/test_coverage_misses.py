"""Issue 25, "every miss has a reason a user can act on": misses Numba's own suite is full of.

- A compilation that fails (a typing error a test expects) leaves no code to store; its miss
  says the training run never compiled it successfully, for that signature, code and closure
  only (another signature, another exec'd function of the same name, a closure of the same
  code over another value, is not in the image).
- A specialization whose argument types name a jitted function made inside another function
  (a sort key) is no miss: served, matched by that function's identity, also when the
  program freed that function before the image was built (tests/test_dispatcher_args.py).

One image from tests/apps/failed_workload.py; the app's output from it is the plain JIT's.
"""
from __future__ import annotations

import json
import sys

import pytest

from conftest import assert_ok, build_image, clean_env, run, snap
from snapshot.image.kinds import FAILED_PREFIX

APP = "failed_app.py"


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return build_image(tmp_path_factory, "failed_workload.py", "failed.so")[0]


@pytest.fixture(scope="module")
def misses(image) -> list[dict]:
    plain = run([sys.executable, APP])
    assert_ok(plain)
    report = image.parent / "misses.jsonl"
    served = snap("run", "--sysimage", str(image), "--report-misses", str(report), APP, env=clean_env())
    assert_ok(served)
    assert served.stdout == plain.stdout
    assert "('TypingError', 'Failed in nopython mode pipeline (step: nopython frontend)')" in plain.stdout
    return [json.loads(line) for line in report.read_text().splitlines()]


def _reasons(misses: list[dict], function: str) -> dict[str, str]:
    return {m["signature"]: m["reason"] for m in misses if m["function"] == function}


def test_failed_compilation_is_told_as_such_for_its_signature_only(misses):
    add_one = _reasons(misses, "failed_lib.add_one")
    assert add_one["(unicode_type)"].startswith(FAILED_PREFIX + " (TypingError there)")
    assert add_one["(float64)"] == "signature not in the image"       # never tried: not a failure
    assert "(int64)" not in add_one                                    # served


def test_failed_compilation_with_a_jitclass_argument_is_told_as_such(misses):
    """A jitclass type's text names its class's address: the miss is matched without it."""
    as_int = _reasons(misses, "failed_lib.as_int")
    assert list(as_int) == ["(instance.jitclass.Floaty#<>)"], as_int
    assert as_int["(instance.jitclass.Floaty#<>)"].startswith(FAILED_PREFIX), as_int


def test_failed_exec_code_is_told_apart_from_other_code_of_its_name(misses):
    bar = [m["reason"] for m in misses if m["function"] == "<dynamic>.bar"]
    # the failing one, and one never compiled (another code): the compiling one is served
    assert sorted(r.split(" (")[0] for r in bar) == sorted([
        FAILED_PREFIX, "the image holds another function of this name"]), bar


def test_failed_closure_is_told_apart_from_closures_of_its_code(misses):
    get = [m["reason"] for m in misses if m["function"] == "failed_lib.make_getitem.<locals>.get"]
    assert sorted(r.split(" (")[0] for r in get) == sorted([
        FAILED_PREFIX, "its closure holds other values than the image's entries were compiled with"]), get


def test_argument_naming_a_local_jitted_function_is_served(misses):
    """The key made inside ``sort_with_local_key`` (a new dispatcher in every call, freed
    before the build) is identified by its code and closure: its caller is served."""
    assert _reasons(misses, "numba.typed.typedlist._sort") == {}


def test_failed_compilations_are_listed_apart_from_what_is_left_to_the_jit(image):
    """They are not specializations the workload compiled (Numba's overload resolution tries
    and drops implementations in most real workloads): `snap info` lists them apart."""
    info = snap("info", "--json", str(image))
    assert_ok(info)
    doc = json.loads(info.stdout)
    failed = {(s["function"], s["signature"]) for s in doc["failed"]}
    assert ("failed_lib.add_one", "(unicode_type)") in failed
    assert all(s["reason"].startswith(FAILED_PREFIX) for s in doc["failed"])
    assert not [s for s in doc["skipped"] if s["reason"].startswith(FAILED_PREFIX)]
    text = snap("info", str(image), env=clean_env())
    assert_ok(text)
    assert "failed in the training run, not stored" in text.stdout
