"""A new user's first day (issue 26): no silent surprises from options, missing images,
library projects, `snap check` verdicts and miss reports. Real `snap` subprocesses, real
images."""
from __future__ import annotations

import json
import shutil
import sys

import pytest

from conftest import assert_ok, clean_env, in_a_terminal, run, snap, snap_exe

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


def test_snap_run_unknown_option_before_the_program_is_one_line(tmp_path):
    _project(tmp_path)
    for cmd in ([snap_exe(), "run"], [sys.executable, "-m", "snapshot"]):
        p = run([*cmd, "--strcit", "app.py"], cwd=tmp_path)
        assert p.returncode == 2 and p.stdout == ""
        prog = "snap run" if cmd[-1] == "run" else "python -m snapshot"
        assert _one_line(p) == f"{prog}: no such option --strcit (did you mean --strict?); see {prog} --help"


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
    p = snap("create", "-q", "-w", "wl.py", "--base", "base.so", "-o", "same.so", cwd=tmp_path)   # item 15
    assert p.returncode != 0 and _one_line(p).endswith(
        "Numba compiled nothing while it ran (the base images serve everything it called)")
    info = snap("info", "inc/top.so", cwd=tmp_path)       # item 13: the base said as a user reads it
    assert_ok(info)
    assert "build bases" in info.stdout and "base.so (3 entries, prefix _snap" in info.stdout
    assert "{'" not in info.stdout
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


# ------------------------------------------------------------ item 6: the live line and the workload's output
def test_workload_output_is_not_glued_to_the_live_line(tmp_path):
    import re
    (tmp_path / "wl.py").write_text(
        "import sys, time, numba\n@numba.njit\ndef f(x):\n    return x + 1\n"
        "for i in range(4):\n    print('OUT', f(i))\n    print('ERR', i, file=sys.stderr)\n    time.sleep(0.4)\n")
    rc, text = in_a_terminal([snap_exe(), "create", "-w", "wl.py", "-o", "w-image.so"], tmp_path)
    assert rc == 0, text[-2000:]
    # each line of the workload's own starts a line of the terminal: after a newline, or after
    # the erase of the live line (rich: CR, then erase-line), never after the live line's text
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)        # the escapes themselves
    for word in ("OUT 1", "OUT 4", "ERR 0", "ERR 3"):
        assert word in shown, shown[-2000:]
    for m in re.finditer(r"(OUT|ERR) \d", shown):
        before = shown[:m.start()].rsplit("\n", 1)[-1].rsplit("\r", 1)[-1]
        assert before.strip() == "", repr(shown[max(0, m.start() - 200):m.end()])
    assert "compiled so far" in shown


# ------------------------------------------------------------ item 9: snap doctor
def test_doctor_says_each_image_once_and_the_project_strictness(tmp_path):
    _project(tmp_path, '[tool.snap]\nworkloads = ["wl.py"]\noutput = "app-image.so"\nstrict = true\n')
    assert_ok(snap("create", "-q", cwd=tmp_path))
    (tmp_path / "bad.so").write_bytes(b"not an image")
    p = snap("doctor", cwd=tmp_path)
    assert_ok(p)
    assert "ok: ok:" not in p.stdout
    assert f"[tool.snap] output {tmp_path / 'app-image.so'}: ok: would be served here" in p.stdout
    assert (f"snap run app.py    -> {tmp_path / 'app-image.so'} (strict: a miss is an error, from [tool.snap])"
            in p.stdout)
    p = snap("doctor", cwd=tmp_path, env=clean_env(SNAP_SYSIMAGE="app-image.so:bad.so"))
    assert p.returncode == 1
    assert "SNAP_SYSIMAGE      app-image.so: ok: would be served here" in p.stdout
    assert "SNAP_SYSIMAGE #2   bad.so: PROBLEM: not an ELF file, not a snap image" in p.stdout
    assert "python app.py      -> app-image.so:bad.so\n" in p.stdout
    assert p.stderr == ""               # the runtime's own warning about bad.so: not snap's to give here
    doc = json.loads(snap("doctor", "--json", cwd=tmp_path, env=clean_env(SNAP_SYSIMAGE="bad.so")).stdout)
    assert doc["images"]["SNAP_SYSIMAGE"]["would_serve"] is False
    assert doc["strict"] == {"python app.py": False, "snap run app.py": False}


# ------------------------------------------------------------ item 12: a library image and typed containers
TDLIB = '''\
import numba
from numba import typed, types
import snapshot
snapshot.activate_package(__name__)

@numba.njit
def make(n):
    d = typed.Dict.empty(types.int64, types.float64)
    for i in range(n):
        d[i] = i * 0.5
    return d

@numba.njit
def listed(n):
    out = typed.List()
    for i in range(n):
        out.append(i * 2)
    return out
'''
TDUSE = ("import sys\nsys.path.insert(0, sys.argv[1])\nimport snaptest_forbid\nimport tdlib\n"
         "d = tdlib.make(5)\nl = tdlib.listed(4)\n"
         "print(sum(v for k, v in d.items()), len(d), d[1], list(d.keys()), list(l), l[2], len(l))\n")


def test_library_image_serves_the_typed_container_methods_its_workload_used(tmp_path):
    from conftest import APPS
    (tmp_path / "tdlib").mkdir()
    (tmp_path / "tdlib" / "__init__.py").write_text(TDLIB)
    (tmp_path / "wl.py").write_text(TDUSE)
    (tmp_path / "app.py").write_text(TDUSE)
    env = clean_env(PYTHONPATH=str(APPS))
    p = snap("create", "--json", "-w", "wl.py", "--package", "tdlib", "--", str(APPS), cwd=tmp_path, env=env)
    assert_ok(p)
    doc = json.loads(p.stdout)
    served = {e["function"] for e in doc["entries"]}
    assert {"tdlib.make", "tdlib.listed", "numba.typed.typeddict._iter", "numba.typed.typeddict._length",
            "numba.typed.typeddict._getitem"} <= served, served
    assert not [s for s in doc["skipped"] if s["reason"].startswith("not in package")], doc["skipped"]
    jit = run([sys.executable, "app.py", str(APPS)], cwd=tmp_path, env=clean_env(PYTHONPATH=str(APPS)))
    assert_ok(jit)
    # the user's process: the library's image active, Numba's compiler forbidden, strict
    served_run = run([sys.executable, "app.py", str(APPS)], cwd=tmp_path,
                     env=clean_env(PYTHONPATH=str(APPS), SNAPTEST_FORBID_COMPILE="1", SNAP_STRICT="1"))
    assert_ok(served_run)
    assert served_run.stdout == jit.stdout == "5.0 5 0.5 [0, 1, 2, 3, 4] [0, 2, 4, 6] 4 4\n"


# ------------------------------------------------------------ item 15: refusals say what to do next
def test_refusals_say_what_to_do_next(tmp_path):
    _project(tmp_path)
    (tmp_path / "plain.py").write_text("print('no numba here')\n")
    p = snap("create", "-w", "plain.py", "-o", "e.so", cwd=tmp_path)
    assert p.returncode != 0
    assert "snap create failed: the workload compiled nothing the image can serve: Numba compiled nothing" \
        in p.stderr and "call its jitted functions" in p.stderr
    assert not (tmp_path / "e.so").exists()
    # an image whose CPU this machine cannot run (SNAP_CPU: taken to be a lower level)
    assert_ok(snap("create", "-q", "--cpu", "x86-64-v2", "-w", "wl.py", "-o", "v2.so", cwd=tmp_path))
    p = snap("check", "v2.so", cwd=tmp_path, env=clean_env(SNAP_CPU="x86-64"))
    assert p.returncode == 1
    assert "--cpu portable" in p.stdout.strip().splitlines()[-1]
    p = run([sys.executable, "app.py"], cwd=tmp_path, env=clean_env(SNAP_CPU="x86-64", SNAP_SYSIMAGE="v2.so"))
    assert_ok(p)
    assert "build it for several machines with snap create --cpu portable" in p.stderr


# ------------------------------------------------------------ item 11: demo.sh with an absolute SNAP_VENV
@pytest.mark.slow      # the whole demo (a build, two runs of the example): half a minute
def test_demo_runs_with_an_absolute_virtualenv(tmp_path):
    """scripts/demo.sh in a copy of the clone, SNAP_VENV an absolute path elsewhere: a virtualenv
    whose python is this one (pip made a no-op: nothing is installed), its snap this snap."""
    import os
    from conftest import ROOT
    clone = tmp_path / "clone"
    (clone / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "demo.sh", clone / "scripts" / "demo.sh")
    shutil.copytree(ROOT / "examples" / "kmeans", clone / "examples" / "kmeans",
                    ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    venv = tmp_path / "elsewhere" / "venv"
    (venv / "bin").mkdir(parents=True)
    stubs = {"python": f'[ "$1 $2" = "-m pip" ] && exit 0\nexec "{sys.executable}" "$@"\n',
             "snap": f'exec "{snap_exe()}" "$@"\n'}
    for name, body in stubs.items():
        (venv / "bin" / name).write_text("#!/bin/sh\n" + body)
        os.chmod(venv / "bin" / name, 0o755)
    p = run(["bash", str(clone / "scripts" / "demo.sh")], cwd=tmp_path, env=clean_env(SNAP_VENV=str(venv)))
    assert_ok(p)
    assert "results identical: yes" in p.stdout
    assert f"{venv}/bin/snap info examples/kmeans/kmeans-image.so" in p.stdout
    assert (clone / "examples" / "kmeans" / "kmeans-image.so").exists()
