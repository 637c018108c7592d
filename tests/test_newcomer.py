"""What a newcomer meets first (issue 16): CLI conventions, one-line errors, clear warnings."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import APPS, assert_ok, clean_env, run, snap

MODES = ["snap run", "python -m snapshot", "SNAP_SYSIMAGE"]


def launch(mode: str, image: Path | str, app: str, *args: str, env: dict | None = None, cwd=APPS):
    env = clean_env(**(env or {}))
    if mode == "snap run":
        return snap("run", "--sysimage", str(image), app, *args, env=env, cwd=cwd)
    if mode == "python -m snapshot":
        return run([sys.executable, "-m", "snapshot", "--sysimage", str(image), app, *args], env=env, cwd=cwd)
    env["SNAP_SYSIMAGE"] = str(image)
    return run([sys.executable, app, *args], env=env, cwd=cwd)


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
    assert "Traceback" in debug.stderr and "runtime.py" in debug.stderr
    assert "SnapStrictError: snap: kinds_lib.add(complex128, int64)" in debug.stderr


@pytest.mark.parametrize("mode", MODES)
def test_strict_refused_image_is_one_line(mode, tmp_path):
    bad = tmp_path / "bad.so"
    bad.write_text("not an image\n")
    p = launch(mode, bad, "kinds_app.py", env={"SNAP_STRICT": "1"})
    assert p.returncode == 1
    assert p.stderr.strip().splitlines() == [
        f"snap: cannot use image {bad}: not an ELF file, not a snap image (strict mode); "
        "at kinds_app.py:7 (SNAP_DEBUG=1 shows the traceback)"], p.stderr


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
