"""Issue 4: more kinds of Numba code served from the image — jitclass, @cfunc,
generators — and kinds verified to be served already (literal_unroll over a
heterogeneous tuple, functions made inside functions, one function under two
option sets, structref). One image is built by `snap create` from
tests/apps/kinds2_workload.py; the app runs from it with every Numba compiler
entry point made to raise, and its output is compared with a plain-JIT run."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from conftest import APPS, app_reference, assert_ok, build_image, clean_env, run, snap

FORBID = {"SNAPTEST_FORBID_COMPILE": "1"}


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    return build_image(tmp_path_factory, "kinds2_workload.py", "kinds2-image.so")[0]


@pytest.fixture(scope="module")
def reference() -> dict[str, str]:
    """Plain-JIT output of the app, without and with --extra (new JIT code mixing)."""
    return app_reference("kinds2_app.py")


@pytest.fixture(scope="module")
def served(image, tmp_path_factory) -> tuple[str, list[dict]]:
    """The app run from the image with compilation forbidden: (stdout, miss report)."""
    report = tmp_path_factory.mktemp("report") / "misses.jsonl"
    p = snap("run", "--sysimage", str(image), "--report-misses", str(report), "kinds2_app.py",
             env=clean_env(**FORBID))
    assert_ok(p)
    assert "SnapWarning" not in p.stderr, p.stderr
    misses = [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []
    return p.stdout, misses


@pytest.fixture(scope="module")
def info(image) -> dict:
    p = snap("info", "--json", str(image))
    assert_ok(p)
    return json.loads(p.stdout)


def lines(out: str, labels: tuple[str, ...]) -> list[str]:
    return [ln for ln in out.splitlines() if ln.startswith(tuple(f"('{x}'," for x in labels))]


# kind -> (labels of the app's output lines, functions the image must serve for it)
KINDS = {
    "jitclass": (("acc_new", "acc_add", "acc_prop", "acc_setprop", "acc_setattr", "acc_isinstance",
                  "use_acc", "make_acc", "scaled", "linked"),
                 ["kinds2_lib.Acc.<ctor>", "kinds2_lib.Acc.__init__", "kinds2_lib.Acc.add",
                  "kinds2_lib.Acc.double", "kinds2_lib.Acc.unit", "kinds2_lib.Acc.scaled",
                  "kinds2_lib.Acc.<box-get:x>", "kinds2_lib.Acc.<box-set:x>",
                  "kinds2_lib.Acc.<box-get:double>", "kinds2_lib.Acc.<box-call:add>",
                  "kinds2_lib.use_acc", "kinds2_lib.make_acc",
                  "kinds2_lib.Node.<ctor>", "kinds2_lib.Node.length", "kinds2_lib.Node.<box-get:next>",
                  "kinds2_lib.build_list"]),
    "cfunc": (("c_hypot", "c_hypot_cffi", "c_sum"), ["kinds2_lib.c_hypot", "kinds2_lib.c_sum"]),
    "generator": (("gen", "consume_gen"), ["kinds2_lib.gen_squares", "kinds2_lib.gen_arr",
                                            "kinds2_lib.consume_gen"]),
    "literal_unroll": (("unroll",), ["kinds2_lib.unroll_sum"]),
    "two_options": (("two_options",), ["kinds2_lib.poly"]),
    "inner_function": (("inner",), ["kinds2_lib.run_inner.<locals>.inner"]),
    "structref": (("structref", "structref_made"),
                  ["kinds2_lib.point_norm2", "kinds2_lib.point_x", "kinds2_lib.make_point",
                   "numba.experimental.structref.StructRefProxy.__new__.<locals>.ctor"]),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_kind_is_served_with_compilation_forbidden(kind, served, reference, info):
    labels, functions = KINDS[kind]
    out, misses = served
    want = lines(reference["base"], labels)
    assert len(want) == len(labels)
    assert lines(out, labels) == want
    in_image = {e["function"] for e in info["entries"]}
    assert set(functions) <= in_image, set(functions) - in_image
    assert not [m for m in misses if m["function"] in functions]


def test_whole_app_is_served_and_nothing_is_left_to_the_jit(served, reference, info):
    out, misses = served
    assert out == reference["base"]
    assert misses == []
    assert info["skipped"] == []
    kinds = {e["kind"] for e in info["entries"]}
    assert {"jitclass", "cfunc", "dispatcher"} <= kinds
    # one function under two option sets: two entries, told apart by their options
    assert [e["function"] for e in info["entries"]].count("kinds2_lib.poly") == 2


def test_forbidding_compilation_really_forbids_here():
    p = run([sys.executable, "kinds2_app.py"], env=clean_env(**FORBID))
    assert p.returncode != 0
    assert "CompilationForbidden" in p.stderr


def test_strict_mode_passes(image, reference):
    p = snap("run", "--strict", "--sysimage", str(image), "kinds2_app.py")
    assert_ok(p)
    assert p.stdout == reference["base"]


def test_new_jit_code_uses_image_jitclass_generators_and_options(image, reference, tmp_path):
    """New JIT code iterates an image generator (and returns one to Python), calls
    jitclass methods, properties and the constructor, and an image function."""
    report = tmp_path / "m.jsonl"
    p = snap("run", "--sysimage", str(image), "--report-misses", str(report),
             "kinds2_app.py", "--extra")
    assert_ok(p)
    assert p.stdout == reference["extra"]
    compiled = {json.loads(ln)["function"] for ln in report.read_text().splitlines()}
    assert compiled == {"__main__.jit_mix", "__main__.jit_gen_box"}, compiled


def _copy_app(tmp_path: Path, edit: tuple[str, str]) -> Path:
    for name in ("kinds2_app.py", "snaptest_forbid.py"):
        shutil.copy(APPS / name, tmp_path)
    src = (APPS / "kinds2_lib.py").read_text()
    assert edit[0] in src
    (tmp_path / "kinds2_lib.py").write_text(src.replace(edit[0], edit[1]))
    return tmp_path


@pytest.mark.parametrize("edit,warning", [
    (("self.x += v\n", "self.x += 2 * v\n"), "kinds2_lib.Acc.add changed"),       # a method
    (('("n", types.int64)', '("n", types.int32)'), None),                          # the field spec
    (("return np.sqrt(a * a + b * b)", "return a + b"), "kinds2_lib.c_hypot changed"),
    (("yield i * i", "yield i * i * i"), "kinds2_lib.gen_squares changed"),
])
def test_edited_code_is_not_served(image, tmp_path, edit, warning):
    """An edited method, jitclass spec, cfunc or generator is JIT-compiled, never served stale."""
    work = _copy_app(tmp_path, edit)
    expected = run([sys.executable, "kinds2_app.py"], cwd=work)
    assert_ok(expected)
    p = snap("run", "--sysimage", str(image), "kinds2_app.py", cwd=work)
    assert_ok(p)
    assert p.stdout == expected.stdout
    if warning:
        # only the edited function is stale: its neighbours (a property's getter and
        # setter share one qualname) are still served
        stale = [ln for ln in p.stderr.splitlines() if "changed since the image" in ln]
        assert len(stale) == 1 and warning in stale[0], p.stderr


REPRO_WORKLOAD = '''
import numpy as np
from numba import cfunc, njit, types
from numba.experimental import jitclass

@jitclass([("v", types.float64[:]), ("k", types.int64)])
class Box2:
    def __init__(self, n):
        self.v = np.arange(n * 1.0)
        self.k = n
    def total(self):
        return self.v.sum() * self.k

@njit
def gen(n):
    for i in range(n):
        yield Box2(i + 1).total()

@cfunc("int64(int64)")
def twice(x):
    return 2 * x

b = Box2(3)
print(b.total(), b.k, list(gen(3)), twice.ctypes(4))
'''


def test_builds_with_jitclass_generators_and_cfunc_are_reproducible(tmp_path):
    """jitclass type names carry id() in Numba; the training run uses counters instead."""
    (tmp_path / "w.py").write_text(REPRO_WORKLOAD)
    images, printed = [], []
    for name in ("a.so", "b.so"):
        p = snap("create", "-q", "-w", "w.py", "-o", name, cwd=tmp_path)
        assert_ok(p)
        images.append((tmp_path / name).read_bytes())
        printed.append(p.stdout)            # the workload's own output, on the JIT
    assert images[0] == images[1]
    shutil.copy(APPS / "snaptest_forbid.py", tmp_path)
    (tmp_path / "app.py").write_text("import snaptest_forbid\n" + REPRO_WORKLOAD)
    p = snap("run", "--sysimage", "a.so", "app.py", cwd=tmp_path, env=clean_env(**FORBID))
    assert_ok(p)
    assert p.stdout == printed[0] == "9.0 3 [0.0, 2.0, 9.0] 8\n"
