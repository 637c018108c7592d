"""A new user's first day (issue 26): no silent surprises from options, missing images,
library projects, `snap check` verdicts and miss reports. Real `snap` subprocesses, real
images."""
from __future__ import annotations

import json
import shutil
import sys

import pytest

from conftest import assert_ok, clean_env, run, snap

LIB = "import numba\n@numba.njit\ndef f(x):\n    return x * 2\n@numba.njit\ndef g(x):\n    return x + 1\n"
# the workload leaves a mark when it runs: a refused command line must not run it
WL = ("import sys, alib\nopen('ran.txt', 'w').write(' '.join(sys.argv[1:]))\n"
      "alib.f(1)\nalib.g(1)\nalib.g(1.5)\n")
APP = "import alib\nprint(alib.f(1), alib.g(1), alib.f(2.5))\n"


def _project(tmp_path, toml: str | None = None):
    (tmp_path / "alib.py").write_text(LIB)
    (tmp_path / "wl.py").write_text(WL)
    (tmp_path / "app.py").write_text(APP)
    if toml is not None:
        (tmp_path / "pyproject.toml").write_text(toml)


def _one_line(p) -> str:
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, p.stderr
    assert "Traceback" not in p.stderr
    return lines[0]


# ------------------------------------------------------------ item 1: options of snap create
@pytest.mark.parametrize("args, says", [
    (["--outptu", "x.so"], "no such option --outptu (did you mean --output?)"),
    (["--add-miss", "m.jsonl"], "no such option --add-miss (did you mean --add-misses?)"),
    (["--no-package"], "no such option --no-package"),
    (["--small"], "no such option --small"),
    (["7"], "got unexpected extra argument (7)"),
])
def test_unknown_option_or_stray_word_is_a_one_line_error_and_nothing_runs(tmp_path, args, says):
    _project(tmp_path, '[tool.snap]\nworkloads = ["wl.py"]\noutput = "build/app.so"\n')
    p = snap("create", "-w", "wl.py", *args, cwd=tmp_path)
    assert p.returncode == 2
    line = _one_line(p)
    assert line.startswith("snap create: " + says), line
    assert "arguments for the workload go after `--`" in line and line.endswith("see snap create --help")
    assert not (tmp_path / "ran.txt").exists()            # the workload never ran
    assert not (tmp_path / "build").exists() and not (tmp_path / "x.so").exists()


def test_arguments_after_double_dash_go_to_the_workload(tmp_path):
    _project(tmp_path)
    assert_ok(snap("create", "-q", "-w", "wl.py", "-o", "a.so", "--", "--outptu", "7", cwd=tmp_path))
    assert (tmp_path / "ran.txt").read_text() == "--outptu 7"
    # a misspelt option of another command: one line too, with the suggestion
    p = snap("info", "--jsn", "a.so", cwd=tmp_path)
    assert p.returncode == 2
    assert _one_line(p) == "snap info: no such option --jsn (did you mean --json?); see snap info --help"


def test_second_console_name_is_the_same_command(tmp_path):
    from conftest import snap_exe
    from pathlib import Path
    exe = Path(snap_exe()).with_name("numba-snap")
    assert exe.exists(), "pyproject.toml [project.scripts] numba-snap"
    p = run([str(exe), "--version"])
    assert_ok(p)
    assert p.stdout.startswith("snap ")
    _project(tmp_path)
    assert_ok(run([str(exe), "create", "-q", "-w", "wl.py", "-o", "a.so"], cwd=tmp_path))
    p = run([str(exe), "run", "-J", "a.so", "app.py"], cwd=tmp_path)
    assert_ok(p)
    assert p.stdout == "2 2 5.0\n"


# ------------------------------------------------------------ item 2: snap run with no image
def test_strict_or_report_with_no_image_is_refused(tmp_path):
    _project(tmp_path)
    for opts in (["--strict"], ["--report-misses", "r.jsonl"]):
        p = snap("run", *opts, "app.py", cwd=tmp_path)
        assert p.returncode == 2 and p.stdout == ""
        line = _one_line(p)
        assert f"{opts[0]} but no image to run from: give --sysimage IMAGE before the program" in line
    assert not (tmp_path / "r.jsonl").exists()
    p = snap("run", "--strict", "app.py", "-J", "a.so", cwd=tmp_path)
    assert p.returncode == 2
    assert "(-J after app.py is passed to the program; snap run's options go before it" in _one_line(p)
    p = snap("run", "app.py", cwd=tmp_path)                  # no image, not strict: said, then the JIT
    assert_ok(p)
    assert p.stdout == "2 2 5.0\n"
    assert "no image (no --sysimage, SNAP_SYSIMAGE or [tool.snap] output): app.py runs on the JIT" in _one_line(p)


# ------------------------------------------------------------ item 3: [tool.snap] package overridden
def test_app_image_in_a_library_project(tmp_path):
    (tmp_path / "mylib").mkdir()
    (tmp_path / "mylib" / "__init__.py").write_text(LIB)
    (tmp_path / "wl.py").write_text("import mylib\nmylib.f(1)\n")
    (tmp_path / "app_w.py").write_text("import numba, mylib\n@numba.njit\ndef h(x):\n    return mylib.g(x)\n"
                                       "h(1)\n")
    (tmp_path / "pyproject.toml").write_text('[tool.snap]\nworkloads = ["wl.py"]\npackage = "mylib"\n')

    def functions(image):
        doc = json.loads(snap("info", "--json", str(image), cwd=tmp_path).stdout)
        return doc["build"].get("package"), {e["function"] for e in doc["entries"]}

    assert_ok(snap("create", "-q", cwd=tmp_path))
    (lib_image,) = (tmp_path / "mylib" / "_snap").iterdir()
    assert functions(lib_image) == ("mylib", {"mylib.f"})
    assert_ok(snap("create", "-q", "-w", "app_w.py", "-o", "build/appx.so", cwd=tmp_path))
    assert functions(tmp_path / "build" / "appx.so") == (None, {"__main__.h", "mylib.g"})
    assert_ok(snap("create", "-q", "-w", "app_w.py", "--package", "", "-o", "build/appy.so", cwd=tmp_path))
    assert functions(tmp_path / "build" / "appy.so") == (None, {"__main__.h", "mylib.g"})
    p = snap("create", "-q", "-w", "app_w.py", "--package", "", cwd=tmp_path)   # no output: says so
    assert p.returncode != 0 and "give --workload and --output" in _one_line(p)
    assert_ok(snap("create", "-q", "--package", "mylib", "-o", "build/lib.so", cwd=tmp_path))
    assert functions(tmp_path / "build" / "lib.so") == ("mylib", {"mylib.f"})


# ------------------------------------------------------------ item 4: snap check of an incremental image
def test_check_of_an_incremental_image_needs_its_base(tmp_path):
    _project(tmp_path)
    (tmp_path / "top.py").write_text("import alib\nalib.f(1)\nalib.f(2.5)\n")
    assert_ok(snap("create", "-q", "-w", "wl.py", "-o", "base.so", cwd=tmp_path))
    assert_ok(snap("create", "-q", "-w", "top.py", "--base", "base.so", "-o", "inc/top.so", cwd=tmp_path))
    p = snap("check", "inc/top.so", cwd=tmp_path)
    assert p.returncode == 1, p.stdout
    assert "built on the image base.so, which is not next to it" in p.stdout.strip().splitlines()[-1]
    strict = snap("run", "--strict", "-J", "inc/top.so", "app.py", cwd=tmp_path)   # what check foretold
    assert strict.returncode != 0
    assert_ok(snap("check", "inc/top.so", "base.so", cwd=tmp_path))     # activated first: checked with it
    shutil.copy(tmp_path / "base.so", tmp_path / "inc" / "base.so")
    p = snap("check", "inc/top.so", cwd=tmp_path)
    assert_ok(p)
    doc = json.loads(snap("check", "--json", "inc/top.so", cwd=tmp_path).stdout)
    assert doc["bases"] == [{"file": "base.so", "path": str(tmp_path / "inc" / "base.so"), "status": "ok"}]
    assert_ok(snap("run", "--strict", "-J", "inc/top.so", "app.py", cwd=tmp_path))
    # another build of the base next to it: refused by the runtime, and so by check
    assert_ok(snap("create", "-q", "-w", "top.py", "-o", "inc/base.so", cwd=tmp_path))
    p = snap("check", "inc/top.so", cwd=tmp_path)
    assert p.returncode == 1 and "built on another build of base.so" in p.stdout


# ------------------------------------------------------------ item 7: checked before the training run
def test_bad_inputs_are_refused_before_the_workload_runs(tmp_path):
    _project(tmp_path)
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    p = snap("create", "-w", "wl.py", "--add-misses", "bad.jsonl", "-o", "b.so", cwd=tmp_path)
    assert p.returncode != 0 and "invalid JSON" in _one_line(p)
    p = snap("create", "-w", "wl.py", "-o", "alib.so", cwd=tmp_path)       # would shadow alib.py
    assert p.returncode == 2 and "would shadow the module alib" in _one_line(p)
    p = snap("create", "-w", "wl.py", "-o", "numpy.so", cwd=tmp_path)      # numba imports numpy
    assert p.returncode == 2 and "would shadow the module numpy" in _one_line(p)
    assert not (tmp_path / "ran.txt").exists()


def test_project_add_misses_file_not_there_yet_is_skipped(tmp_path):
    """The fold-misses recipe: add-misses in [tool.snap] before the first miss report exists."""
    _project(tmp_path, '[tool.snap]\nworkloads = ["wl.py"]\noutput = "app-image.so"\n'
                       'add-misses = ["misses.jsonl"]\n')
    p = snap("create", cwd=tmp_path)
    assert_ok(p)
    assert "[tool.snap] add-misses " in p.stderr and "misses.jsonl: no such file yet, skipped" in p.stderr
    p = snap("run", "--report-misses", "misses.jsonl", "app.py", cwd=tmp_path)
    assert_ok(p)
    assert_ok(snap("create", "-q", cwd=tmp_path))                            # now folded in
    strict = snap("run", "--strict", "app.py", cwd=tmp_path)
    assert_ok(strict)
    assert strict.stdout == "2 2 5.0\n"


# ------------------------------------------------------------ item 8: check's verdict says what serves
def test_check_with_some_stale_entries_says_the_rest_serve(tmp_path):
    _project(tmp_path)
    assert_ok(snap("create", "-q", "-w", "wl.py", "-o", "a.so", cwd=tmp_path))
    (tmp_path / "alib.py").write_text(LIB.replace("x * 2", "x * 3"))
    p = snap("check", "a.so", cwd=tmp_path)
    assert p.returncode == 1
    last = p.stdout.strip().splitlines()[-1]
    assert last.startswith("partly served: a.so: 2 of 3 entries fresh, served; "
                           "1 of 3 entries stale (alib.f changed)"), last
    (tmp_path / "alib.py").write_text(LIB.replace("x * 2", "x * 3").replace("x + 1", "x + 2"))
    last = snap("check", "a.so", cwd=tmp_path).stdout.strip().splitlines()[-1]
    assert last.startswith("not served: ") and "3 of 3 entries stale" in last


# ------------------------------------------------------------ item 10: --report-misses into a new directory
def test_report_misses_creates_its_directory(tmp_path):
    _project(tmp_path)
    assert_ok(snap("create", "-q", "-w", "wl.py", "-o", "a.so", cwd=tmp_path))
    p = snap("run", "-J", "a.so", "--report-misses", "out/new/r.jsonl", "app.py", cwd=tmp_path)
    assert_ok(p)
    misses = [json.loads(x) for x in (tmp_path / "out" / "new" / "r.jsonl").read_text().splitlines()]
    assert [(m["function"], m["signature"]) for m in misses] == [("alib.f", "(float64)")]
    (tmp_path / "file").write_text("")
    p = snap("run", "-J", "a.so", "--report-misses", "file/r.jsonl", "app.py", cwd=tmp_path)
    assert p.returncode == 2 and p.stdout == ""
    assert "cannot write the miss report" in _one_line(p)
