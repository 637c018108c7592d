"""@guvectorize gufuncs (cpu, parallel, dynamic) and parallel @vectorize served from an image.

Every served call is proven with compilation forbidden and compared with a plain-JIT run.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from conftest import APPS, app_reference, assert_ok, build_image, clean_env, run, snap

FORBID = {"SNAPTEST_FORBID_COMPILE": "1"}
FILES = ("gufunc_lib.py", "gufunc_app.py", "gufunc_workload.py", "snaptest_forbid.py")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, str]:
    return build_image(tmp_path_factory, "gufunc_workload.py", "gufunc.so")   # summary: stderr


@pytest.fixture(scope="module")
def reference() -> dict[str, str]:
    return app_reference("gufunc_app.py")


def from_image(image: Path, *args: str, env: dict | None = None, cwd=APPS):
    return run([sys.executable, "gufunc_app.py", *args],
               env=clean_env(SNAP_SYSIMAGE=str(image), **(env or {})), cwd=cwd)


def test_create_lists_gufuncs_as_served(built):
    _, out = built
    for name in ("gufunc_lib.cumweight", "gufunc_lib.pscaled_sum", "gufunc_lib.dyn_sum",
                 "gufunc_lib.edited_max", "gufunc_lib.padd3"):
        assert name in out
    # 2 cumweight + 2 pscaled_sum + 2 dyn_sum + 1 edited_max + 2 padd3 (9 kernels), plus
    # 2 weight (called by a kernel) + jit_calls_gufunc (jitted, calls a gufunc) + 3 exec'd kernels
    assert out.count("gufunc_lib.__rewritten") == 3           # one name, three kernels
    assert "15 specialization(s) served by the image, 0 left to the JIT" in out
    assert "image (gufunc)" in out and "image (ufunc)" in out


def test_all_gufunc_kinds_served_with_compilation_forbidden(built, reference):
    image, _ = built
    p = from_image(image, env=FORBID)
    assert_ok(p)
    assert p.stdout == reference["base"]
    assert "('types', 'GUFunc', 'ufunc', 'ufunc')" in p.stdout
    assert "('exec', [6.0, 22.0, 38.0], [14.0, 126.0, 366.0], [36.0, 748.0, 3572.0])" in p.stdout
    assert "SnapWarning" not in p.stderr


def test_forbidding_compilation_really_forbids():
    p = run([sys.executable, "gufunc_app.py"], env=clean_env(**FORBID))
    assert p.returncode != 0
    assert "CompilationForbidden" in p.stderr


def test_new_dynamic_signature_and_jit_code_calling_an_image_gufunc(built, reference, tmp_path):
    image, _ = built
    report = tmp_path / "misses.jsonl"
    p = from_image(image, "--extra", env={"SNAP_REPORT": str(report)})
    assert_ok(p)
    assert p.stdout == reference["extra"]
    misses = [json.loads(line) for line in report.read_text().splitlines()]
    functions = {m["function"] for m in misses}
    assert "gufunc_lib.dyn_sum" in functions                 # complex128: not in the image
    assert "gufunc_lib.cumweight" not in functions           # served, also when called from JIT code


def test_strict_mode_names_a_gufunc_miss(built):
    image, _ = built
    p = from_image(image, "--extra", env={"SNAP_STRICT": "1"})
    assert p.returncode != 0
    assert "gufunc_lib.dyn_sum(array(complex128, 1d, A), array(complex128, 1d, A))" in p.stderr
    assert "strict mode" in p.stderr


def test_edited_kernel_is_jit_compiled_with_one_warning(built, tmp_path):
    image, _ = built
    for name in FILES:
        shutil.copy(APPS / name, tmp_path / name)
    lib = tmp_path / "gufunc_lib.py"
    old = "        if a[i] > m:\n"
    new = "        if a[i] < m:\n"            # max -> min
    src = lib.read_text()
    assert old in src
    lib.write_text(src.replace(old, new, 1))
    expected = run([sys.executable, "gufunc_app.py"], cwd=tmp_path)
    assert_ok(expected)
    assert "('emax', [0.0, 4.0, 8.0])" in expected.stdout
    p = from_image(image, cwd=tmp_path)
    assert_ok(p)
    assert p.stdout == expected.stdout
    assert p.stderr.count("gufunc_lib.edited_max changed") == 1


def test_unchanged_gufuncs_of_an_edited_file_are_still_served(built, reference, tmp_path):
    image, _ = built
    for name in FILES:
        shutil.copy(APPS / name, tmp_path / name)
    lib = tmp_path / "gufunc_lib.py"
    lib.write_text(lib.read_text().replace('"""Gufuncs of', '"""Edited. Gufuncs of', 1))
    p = from_image(image, env=FORBID, cwd=tmp_path)
    assert_ok(p)
    assert p.stdout == reference["base"]


def test_gufunc_images_are_reproducible(built, tmp_path):
    """The parallel wrapper's symbol carries id(env) in decimal: it must not reach the image."""
    image, _ = built
    again = tmp_path / "again.so"
    assert_ok(snap("create", "-q", "-w", "gufunc_workload.py", "-o", str(again)))
    assert again.read_bytes() == image.read_bytes()
