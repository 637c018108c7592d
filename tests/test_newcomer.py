"""What a newcomer meets first (issue 16): CLI conventions, one-line errors, clear warnings."""
from __future__ import annotations

import sys

import pytest

from conftest import MODES, assert_ok, clean_env, launch, run, snap





# ------------------------------------------------------------ explicit image paths (item 3)
@pytest.mark.parametrize("mode", ["snap run", "python -m snapshot"])
def test_explicit_image_that_does_not_exist_is_an_error(mode, tmp_path):
    p = launch(mode, tmp_path / "missing.so", "kinds_app.py")
    assert p.returncode == 2, p.stderr
    assert p.stdout == ""                        # the program did not run
    assert p.stderr.strip().splitlines() == [
        f"snap: image {str(tmp_path / 'missing.so')!r} does not exist "
        f"(build it with `snap create --output {tmp_path / 'missing.so'}`)"]
    p = launch(mode, tmp_path, "kinds_app.py")
    assert p.returncode == 2 and "is a directory" in p.stderr


def test_environment_variable_naming_a_missing_image_warns_and_runs(tmp_path, kinds_reference):
    p = launch("SNAP_SYSIMAGE", tmp_path / "missing.so", "kinds_app.py")
    assert_ok(p)
    assert p.stdout == kinds_reference["base"]
    assert p.stderr.count("SnapWarning") == 1 and "no such file or directory" in p.stderr


# ------------------------------------------------------------ strict errors (item 5)
@pytest.mark.parametrize("mode", MODES)
def test_strict_miss_is_one_line_naming_the_callers_line(kinds_image, mode):
    p = launch(mode, kinds_image, "kinds_app.py", "--extra", env={"SNAP_STRICT": "1"})
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("snap: kinds_lib.add(complex128, int64) is not in the image")
    assert "(strict mode); at kinds_app.py:" in lines[0]
    assert lines[0].endswith("(SNAP_DEBUG=1 shows the traceback)")
    debug = launch(mode, kinds_image, "kinds_app.py", "--extra", env={"SNAP_STRICT": "1", "SNAP_DEBUG": "1"})
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr and "snapshot/runtime/" in debug.stderr
    assert "SnapStrictError: snap: kinds_lib.add(complex128, int64)" in debug.stderr


@pytest.mark.parametrize("mode", MODES)
def test_strict_refused_image_is_one_line(mode, tmp_path):
    bad = tmp_path / "bad.so"
    bad.write_text("not an image\n")
    p = launch(mode, bad, "kinds_app.py", env={"SNAP_STRICT": "1"})
    assert p.returncode == 1
    assert p.stderr.strip().splitlines() == [
        f"snap: cannot use image {bad}: not an ELF file, not a snap image (strict mode); "
        "the image was activated when kinds_app.py:7 imported numba (SNAP_DEBUG=1 shows the traceback)"], p.stderr


def test_other_exceptions_keep_their_traceback_under_the_start_up_hook(kinds_image, tmp_path):
    (tmp_path / "boom.py").write_text("import numba\nraise ValueError('mine')\n")
    p = launch("SNAP_SYSIMAGE", kinds_image, "boom.py", cwd=tmp_path, env={"SNAP_STRICT": "1"})
    assert p.returncode == 1
    assert "Traceback" in p.stderr and "ValueError: mine" in p.stderr


# ------------------------------------------------------------ warnings (item 6)
@pytest.mark.parametrize("kind", ["not an ELF", "truncated"])
def test_image_warning_says_the_path_once_with_the_words_of_snap_info(kinds_image, tmp_path, kind):
    bad = tmp_path / "bad.so"
    if kind == "truncated":
        bad.write_bytes(kinds_image.read_bytes()[:len(kinds_image.read_bytes()) // 2])
    else:
        bad.write_text("not an image\n")
    p = launch("SNAP_SYSIMAGE", bad, "kinds_app.py")
    assert_ok(p)
    warning = [line for line in p.stderr.splitlines() if "SnapWarning" in line]
    assert len(warning) == 1 and warning[0].count(str(bad)) == 1, p.stderr
    # not attributed to whatever line imported numba first: the image has no line
    assert warning[0].startswith("SnapWarning: snap: cannot use image "), p.stderr
    info = snap("info", str(bad))
    assert info.returncode != 0
    reason = info.stderr.split(f"{bad.name}: ", 1)[1].strip()
    assert f"{bad}: {reason}; running on the JIT" in warning[0], (warning, info.stderr)


# ------------------------------------------------------------ snap run usage (item 9)
@pytest.mark.parametrize("cmd", [["snap"], [sys.executable, "-m", "snapshot"]])
def test_run_without_a_program_says_so(cmd):
    from conftest import snap_exe
    p = run(([snap_exe(), "run"] if cmd == ["snap"] else cmd))
    assert p.returncode == 2
    assert "required" not in p.stderr
    assert "give the Python program to run" in p.stderr
    assert "program [args ...]" in p.stderr        # usage: program required, args optional


# ------------------------------------------------------------ help, version, completion (items 1, 10)
def test_help_is_shown_as_written():
    p = snap("create", "--help")
    assert_ok(p)
    text = " ".join(p.stdout.split())
    assert "options default to its pyproject.toml [tool.snap] table" in text
    assert "Default: [tool.snap] workloads of pyproject.toml" in text
    assert "Default: [tool.snap] output" in text
    assert "-w, --workload FILE" in p.stdout and "-o, --output FILE" in p.stdout
    for label in ("<bool>", "<str>", "<list[str]>", "{IMAGE}", "╭"):
        assert label not in p.stdout, label
    for cmd, args in (("info", "[IMAGE]"), ("check", "[IMAGE...]")):
        p = snap(cmd, "--help")
        assert_ok(p)
        assert f"Usage: snap {cmd} [OPTIONS] {args}\n" in p.stdout
        assert "<str>" not in p.stdout and "<bool>" not in p.stdout
        assert "[tool.snap] output" in " ".join(p.stdout.split())
    p = snap("--help")
    assert_ok(p)
    for cmd in ("create", "info", "check", "doctor", "run"):
        assert f"  {cmd} " in p.stdout


def test_version_and_shell_completion():
    from importlib.metadata import version
    p = snap("--version")
    assert_ok(p)
    assert p.stdout.startswith(f"snap {version('snap-sysimage')} (numba ")
    from conftest import snap_exe
    # typer finds the shell among the process's ancestors (shellingham): run it from one,
    # as a user does (`; exit` keeps bash from exec'ing snap in its place)
    p = run(["bash", "-c", f"'{snap_exe()}' --show-completion; exit $?"], env=clean_env(SHELL="/bin/bash"))
    assert_ok(p)
    assert "_SNAP_COMPLETE=complete_bash" in p.stdout
    p = run([snap_exe()], env=clean_env(_SNAP_COMPLETE="complete_bash", COMP_WORDS="snap do", COMP_CWORD="1"))
    assert_ok(p)
    assert p.stdout.split() == ["doctor"]


# ------------------------------------------------------------ project defaults (items 2, 10)
LIB = "import numba\n@numba.njit\ndef f(x):\n    return x * 2\n"


def _project(tmp_path, output="build/app.so"):
    (tmp_path / "alib.py").write_text(LIB)
    (tmp_path / "wl.py").write_text("import alib\nalib.f(1)\n")
    (tmp_path / "app.py").write_text("import alib\nprint(alib.f(2))\n")
    (tmp_path / "misses.jsonl").write_text("")
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.snap]\nworkloads = ["wl.py"]\noutput = "{output}"\nadd-misses = ["misses.jsonl"]\n')


def test_project_output_directory_is_created_and_info_check_default_to_it(tmp_path):
    _project(tmp_path)
    assert_ok(snap("create", "-q", cwd=tmp_path))          # build/ did not exist
    assert (tmp_path / "build" / "app.so").is_file()
    info = snap("info", "--json", cwd=tmp_path)
    assert_ok(info)
    import json
    doc = json.loads(info.stdout)
    assert doc["build"]["add-misses"] == ["misses.jsonl"]
    assert doc["build"]["workloads"] == ["wl.py"]
    check = snap("check", cwd=tmp_path)
    assert_ok(check)
    assert "would be served here" in check.stdout
    assert "build add-misses" in snap("info", cwd=tmp_path).stdout
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    p = snap("info", cwd=tmp_path)
    assert p.returncode == 2 and "give IMAGE (or set output or package in [tool.snap]" in p.stderr


# ------------------------------------------------------------ shadowing (item 4)
def test_output_that_would_shadow_a_module_next_to_it_is_refused(tmp_path):
    _project(tmp_path)
    p = snap("create", "-w", "wl.py", "-o", "alib.so", cwd=tmp_path)
    assert p.returncode == 2
    assert "would shadow the module alib" in p.stderr and "--output alib-image.so" in p.stderr
    assert not (tmp_path / "alib.so").exists()


def test_output_that_would_shadow_an_imported_module_on_the_path_is_refused(tmp_path):
    """numpy.so in the workload's directory would hide the installed numpy: found after the run."""
    _project(tmp_path)
    (tmp_path / "wl.py").write_text("import numpy, alib\nalib.f(1)\n")
    p = snap("create", "-q", "-w", "wl.py", "-o", "numpy.so", cwd=tmp_path)
    assert p.returncode == 2 and "would shadow the module numpy" in p.stderr
    assert [x.name for x in tmp_path.iterdir() if x.suffix == ".so" or x.name.endswith(".tmp")] == []
    sub = tmp_path / "images"
    p = snap("create", "-q", "-w", "wl.py", "-o", str(sub / "numpy.so"), cwd=tmp_path)   # not on the path
    assert_ok(p)


# ------------------------------------------------------------ piped output (item 7)
def test_piped_info_is_not_cut_to_80_columns(kinds_image):
    env = clean_env()
    env.pop("COLUMNS")
    p = snap("info", str(kinds_image), env=env)
    assert_ok(p)
    assert "…" not in p.stdout
    assert max(len(line) for line in p.stdout.splitlines()) > 80


# ------------------------------------------------------------ snap doctor (item 11)
def test_doctor_reports_the_hook_and_the_images(kinds_image, tmp_path):
    import json
    _project(tmp_path, output="app-image.so")
    p = snap("doctor", "--json", cwd=tmp_path, env=clean_env(SNAP_SYSIMAGE=str(kinds_image)))
    doc = json.loads(p.stdout)
    assert doc["hook"]["installed"] is True and doc["hook"]["files"]
    assert doc["images"]["SNAP_SYSIMAGE"]["would_serve"] is True
    assert doc["images"]["project"]["exists"] is False     # not built yet
    assert doc["uses"] == {"python app.py": str(kinds_image), "snap run app.py": str(kinds_image)}
    assert p.returncode == 1 and doc["ok"] is False
    assert_ok(snap("create", "-q", cwd=tmp_path))
    p = snap("doctor", cwd=tmp_path)
    assert_ok(p)
    assert "start-up hook      ok" in p.stdout
    assert f"snap run app.py    -> {tmp_path / 'app-image.so'}" in p.stdout
    assert "python app.py      -> no image" in p.stdout


# ------------------------------------------------------------ progress (item 8)
SLOW_WORKLOAD = ("import time, numba\n@numba.njit\ndef f(x):\n    return x + 1\nf(1)\nf(1.5)\n"
                 "time.sleep(1.5)\n")


def test_progress_lines_when_piped(tmp_path):
    (tmp_path / "wl.py").write_text(SLOW_WORKLOAD)
    p = snap("create", "-w", "wl.py", "-o", "w-image.so", cwd=tmp_path)
    assert_ok(p)
    lines = p.stderr.splitlines()
    import re
    assert re.fullmatch(r" +\d+\.\d s  running workload wl\.py", lines[0]), lines[0]
    assert any(re.fullmatch(r" +\d+\.\d s  linking", x) for x in lines)
    assert "report.py" not in p.stderr and "\x1b" not in p.stderr


def test_live_progress_on_a_terminal_counts_specializations(tmp_path):
    from conftest import in_a_terminal, snap_exe
    (tmp_path / "wl.py").write_text(SLOW_WORKLOAD)
    status, text = in_a_terminal([snap_exe(), "create", "-w", "wl.py", "-o", "w-image.so"], tmp_path)
    assert status == 0
    assert "running workload wl.py (1 s; 2 specialization(s) compiled so far)" in text, text[-2000:]


def test_create_json_summary(tmp_path):
    import json
    (tmp_path / "wl.py").write_text("import numba\n@numba.njit\ndef f(x):\n    return x + 1\nf(1)\n")
    p = snap("create", "--json", "-w", "wl.py", "-o", "w-image.so", cwd=tmp_path)
    assert_ok(p)
    doc = json.loads(p.stdout)
    assert doc["output"] == "w-image.so" and doc["size"] == (tmp_path / "w-image.so").stat().st_size
    assert [(e["function"], e["signature"]) for e in doc["entries"]] == [("__main__.f", "(int64) -> int64")]
