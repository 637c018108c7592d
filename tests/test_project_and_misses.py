"""Release-pipeline loop: report misses at run time, fold them into the next build;
a bare `snap create` / `snap run` inside a project configured by [tool.snap]."""
from __future__ import annotations

import json
import sys

from conftest import assert_ok, clean_env, run, snap

LIB = "import numba\n@numba.njit\ndef f(x):\n    return x * 2\n"
APP = ("import numba, numpy as np\nimport alib\n"
       "print(alib.f(1), alib.f(1.5), alib.f(np.arange(3)).tolist())\n")


def _project(tmp_path):
    (tmp_path / "alib.py").write_text(LIB)
    (tmp_path / "wl.py").write_text("import alib\nalib.f(1)\n")
    (tmp_path / "app.py").write_text(APP)


def test_report_misses_then_add_misses_serves_them(tmp_path):
    _project(tmp_path)
    assert_ok(snap("create", "-q", "-w", "wl.py", "-o", "a.so", cwd=tmp_path))
    p = snap("run", "--sysimage", "a.so", "--report-misses", "misses.jsonl", "app.py", cwd=tmp_path)
    assert_ok(p)
    assert p.stdout == "2 3.0 [0, 2, 4]\n"
    misses = [json.loads(x) for x in (tmp_path / "misses.jsonl").read_text().splitlines()]
    assert {(m["kind"], m["function"], m["signature"]) for m in misses} == {
        ("not in image", "alib.f", "(float64)"), ("not in image", "alib.f", "(array(int64, 1d, C))")}
    assert all(m["reason"] == "signature not in the image" and m["types"] for m in misses)
    p = snap("create", "-w", "wl.py", "--add-misses", "misses.jsonl", "-o", "b.so", cwd=tmp_path)
    assert_ok(p)
    assert "3 specialization(s) served by the image" in p.stderr
    strict = snap("run", "--strict", "--sysimage", "b.so", "app.py", cwd=tmp_path)
    assert_ok(strict)
    assert strict.stdout == "2 3.0 [0, 2, 4]\n"


def test_missing_or_bad_miss_report_is_a_clear_error(tmp_path):
    _project(tmp_path)
    p = snap("create", "-w", "wl.py", "--add-misses", "nope.jsonl", "-o", "b.so", cwd=tmp_path)
    assert p.returncode != 0 and "miss report 'nope.jsonl' does not exist" in p.stderr
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    p = snap("create", "-w", "wl.py", "--add-misses", "bad.jsonl", "-o", "b.so", cwd=tmp_path)
    assert p.returncode != 0 and "invalid JSON" in p.stderr
    assert not (tmp_path / "b.so").exists()


def test_report_records_refused_images(tmp_path):
    _project(tmp_path)
    (tmp_path / "bad.so").write_bytes(b"not an image")
    p = run([sys.executable, "app.py"], cwd=tmp_path,
            env=clean_env(SNAP_SYSIMAGE="bad.so", SNAP_REPORT="r.jsonl"))
    assert_ok(p)
    kinds = {json.loads(x)["kind"] for x in (tmp_path / "r.jsonl").read_text().splitlines()}
    assert kinds == {"refused"}


def test_bare_snap_create_and_run_inside_a_project(tmp_path):
    _project(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n\n[tool.snap]\nworkloads = ["wl.py"]\noutput = "build/demo.so"\n'
        'cpu = "x86-64-v2"\nstrict = true\n')
    (tmp_path / "build").mkdir()
    assert_ok(snap("create", "-q", cwd=tmp_path))
    assert (tmp_path / "build" / "demo.so").exists()
    p = snap("run", "app.py", cwd=tmp_path)          # strict from the project: f(float64) is a miss
    assert p.returncode != 0 and "alib.f(float64) is not in the image" in p.stderr
    (tmp_path / "pyproject.toml").write_text(
        '[tool.snap]\nworkloads = ["wl.py"]\noutput = "build/demo.so"\nbogus = 1\n')
    p = snap("create", cwd=tmp_path)
    assert p.returncode != 0 and "unknown key(s) in [tool.snap]: bogus" in p.stderr


def test_cfunc_served_and_one_not_in_the_image_is_reported_and_refused_in_strict_mode(tmp_path):
    src = ("import sys, numba\n@numba.cfunc('float64(float64)')\ndef cf(x):\n    return x * 2.0\n"
           "@numba.njit\ndef g(x):\n    return x + 1\nprint(cf.ctypes(1.0), g(1))\n"
           "if '--more' in sys.argv:\n"
           "    @numba.cfunc('float64(float64)')\n    def cf2(x):\n        return x * 3.0\n"
           "    print(cf2.ctypes(1.0))\n")
    (tmp_path / "app.py").write_text(src)
    assert_ok(snap("create", "-q", "-w", "app.py", "-o", "c.so", cwd=tmp_path))
    p = snap("run", "--sysimage", "c.so", "--report-misses", "r.jsonl", "app.py", cwd=tmp_path)
    assert_ok(p)
    assert p.stdout == "2.0 2\n"
    assert not (tmp_path / "r.jsonl").exists()          # the cfunc came from the image
    p = snap("run", "--sysimage", "c.so", "--report-misses", "r.jsonl", "app.py", "--more", cwd=tmp_path)
    assert_ok(p)
    assert p.stdout == "2.0 2\n3.0\n"
    misses = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [(m["function"], m["kind"]) for m in misses] == [("__main__.cf2", "not in image")]
    strict = snap("run", "--strict", "--sysimage", "c.so", "app.py", "--more", cwd=tmp_path)
    assert strict.returncode != 0 and "__main__.cf2(float64) is not in the image" in strict.stderr
