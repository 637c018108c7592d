"""snap create / snap run end to end: every served kind with compilation forbidden,
correctness beyond the image, start-up fidelity, refusal and strict mode."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from conftest import APPS, MODES, assert_ok, clean_env, launch, run, snap
from imagetools import forge

FORBID = {"SNAPTEST_FORBID_COMPILE": "1"}






@pytest.mark.parametrize("mode", MODES)
def test_every_kind_served_with_compilation_forbidden(kinds_image, kinds_reference, mode):
    p = launch(mode, kinds_image, "kinds_app.py", env=FORBID)
    assert_ok(p)
    assert p.stdout == kinds_reference["base"]
    assert "Warning" not in p.stderr, p.stderr   # no SnapWarning, no NumbaWarning


def test_forbidding_compilation_really_forbids(kinds_reference):
    """The guard itself: without an image, the app cannot run when compiling raises."""
    p = run([sys.executable, "kinds_app.py"], env=clean_env(**FORBID))
    assert p.returncode != 0
    assert "CompilationForbidden" in p.stderr


def test_new_signatures_and_mixing_jit_with_image(kinds_image, kinds_reference, tmp_path):
    report = tmp_path / "misses.jsonl"
    p = launch("snap run", kinds_image, "kinds_app.py", "--extra",
               env={"SNAP_REPORT": str(report)})
    assert_ok(p)
    assert p.stdout == kinds_reference["extra"]
    misses = [json.loads(line) for line in report.read_text().splitlines()]
    functions = {m["function"] for m in misses}
    assert "kinds_lib.add" in functions                      # add(complex, int): new types
    assert any(f.endswith("newfn") for f in functions)       # new JIT code calling image code
    assert not any(f == "kinds_lib.square" for f in functions)


def test_main_argv_exit_code_and_traceback_match_plain_python(kinds_image):
    for args in (["a", "b"], ["raise"], ["exit"]):
        plain = run([sys.executable, "introspect.py", *args])
        for mode in MODES:
            p = launch(mode, kinds_image, "introspect.py", *args)
            assert p.returncode == plain.returncode, (mode, args, p.stderr)
            assert p.stdout == plain.stdout, (mode, args)
            assert p.stderr == plain.stderr, (mode, args)


def test_start_up_hook_costs_nothing_when_unset():
    p = run([sys.executable, "-c", "import sys; print('snapshot' in sys.modules)"])
    assert_ok(p)
    assert p.stdout.strip() == "False"


def _edited_copy(tmp_path: Path, old: str, new: str) -> Path:
    for name in ("kinds_lib.py", "kinds_app.py", "snaptest_forbid.py"):
        shutil.copy(APPS / name, tmp_path / name)
    lib = tmp_path / "kinds_lib.py"
    src = lib.read_text()
    assert old in src
    lib.write_text(src.replace(old, new, 1))
    return tmp_path


def test_edited_function_is_not_served_and_warns_once(kinds_image, tmp_path):
    work = _edited_copy(tmp_path, "def square(x):\n    return x * x\n",
                        "def square(x):\n    return x * x + 100.0\n")
    expected = run([sys.executable, "kinds_app.py"], cwd=work)
    assert_ok(expected)
    p = launch("snap run", kinds_image, "kinds_app.py", cwd=work)
    assert_ok(p)
    assert p.stdout == expected.stdout                       # apply() inlines square: JIT too
    assert p.stderr.count("kinds_lib.square changed") == 1
    assert "('apply', [100.0, 101.0" in p.stdout


def test_unchanged_functions_of_an_edited_file_are_still_served(kinds_image, tmp_path, kinds_reference):
    work = _edited_copy(tmp_path, '"""Jitted functions', '"""Edited docstring. Jitted functions')
    p = launch("snap run", kinds_image, "kinds_app.py", cwd=work, env=FORBID)
    assert_ok(p)
    assert p.stdout == kinds_reference["base"]


def test_strict_mode_stale_entry_is_an_error(kinds_image, tmp_path):
    work = _edited_copy(tmp_path, "return n if n < 2 else fib(n - 1) + fib(n - 2)",
                        "return n if n < 3 else fib(n - 1) + fib(n - 2)")
    p = launch("snap run", kinds_image, "kinds_app.py", cwd=work, env={"SNAP_STRICT": "1"})
    assert p.returncode != 0
    assert "kinds_lib.fib changed" in p.stderr and "strict mode" in p.stderr


def test_strict_mode_miss_is_an_error_naming_function_and_signature(kinds_image):
    p = snap("run", "--strict", "--sysimage", str(kinds_image), "kinds_app.py", "--extra")
    assert p.returncode != 0
    assert "kinds_lib.add(complex128, int64) is not in the image" in p.stderr


def test_strict_mode_passes_when_everything_is_served(kinds_image, kinds_reference):
    p = snap("run", "--strict", "--sysimage", str(kinds_image), "kinds_app.py")
    assert_ok(p)
    assert p.stdout == kinds_reference["base"]


def _numba_version() -> bytes:
    import numba
    return numba.__version__.encode()


@pytest.mark.parametrize("what", ["numba version", "cpu feature"])
def test_image_for_another_environment_is_refused_and_program_runs_on_jit(
        kinds_image, kinds_reference, tmp_path, what):
    forged = tmp_path / "forged.so"
    if what == "numba version":
        v = _numba_version()
        forge(kinds_image, forged, b'"numba":"' + v + b'"', b'"numba":"' + b"9" * len(v) + b'"')
        needle = "numba " + "9" * len(v) + " (image) vs " + v.decode() + " (here)"
    else:
        manifest = kinds_image.read_bytes()
        start = manifest.index(b'"features":["') + len(b'"features":["')
        feature = manifest[start:manifest.index(b'"', start)]
        fake = b"zz" + b"z" * (len(feature) - 2)
        forge(kinds_image, forged, b'"features":["' + feature + b'"', b'"features":["' + fake + b'"')
        needle = "this CPU lacks features the image needs: " + fake.decode()
    p = launch("snap run", forged, "kinds_app.py")
    assert_ok(p)
    assert p.stdout == kinds_reference["base"]
    assert needle in p.stderr
    assert p.stderr.count("SnapWarning") == 1
    strict = launch("snap run", forged, "kinds_app.py", env={"SNAP_STRICT": "1"})
    assert strict.returncode != 0
    assert needle in strict.stderr


LOAD_PROBE = """
import numba
from numba.np.ufunc import parallel
from snapshot import runtime
rt = (runtime.active() or [None])[0]     # the program's image
print("activated", rt is not None, "mapped", rt.loaded is not None, "threads", parallel._is_initialized)
import kinds_lib          # eager signatures: their entries install at decoration
print("mapped", rt.loaded is not None, "threads", parallel._is_initialized)
print(kinds_lib.eager_mul(6, 7), "threads", parallel._is_initialized)
print(kinds_lib.par_sum(kinds_lib.np.arange(4.0)), "threads", parallel._is_initialized)
"""


def test_code_is_mapped_at_the_first_install_not_at_activation(kinds_image):
    """Activation checks the image but maps no code: a process that never calls image code
    pays no dlopen, and Numba's threading layer starts only when code using it is installed
    (its parallel function's first use), as under the JIT: not when other code is mapped."""
    env = clean_env(SNAP_SYSIMAGE=str(kinds_image), **FORBID)
    p = run([sys.executable, "-c", LOAD_PROBE], env=env)
    assert_ok(p)
    assert p.stdout.splitlines() == ["activated True mapped False threads False",
                                     "mapped True threads False", "42 threads False", "12.0 threads True"]
    strict = run([sys.executable, "-c", LOAD_PROBE], env={**env, "SNAP_STRICT": "1"})
    assert_ok(strict)         # strict mode maps at activation: a load failure fails early
    assert strict.stdout.splitlines() == ["activated True mapped True threads False",
                                          "mapped True threads False", "42 threads False", "12.0 threads True"]


REENTRANT_PROBE = """
import warnings
warnings.simplefilter("error")          # any SnapWarning fails the probe
import numba
from snapshot import runtime
from snapshot.numba_seam import resolver as seam
original = seam.prepare_runtime

def prepare(parfors):                   # image code used from inside the mapping itself:
    import sys                          # kinds_lib is being imported, its first @vectorize
    print("inside", sys.modules["kinds_lib"].add(6, 36))   # is what maps the image
    original(parfors)

seam.prepare_runtime = prepare
import kinds_lib
print("mapped", runtime.active()[0].loaded is not None, kinds_lib.square(3.0))
"""


def test_image_code_used_while_the_image_is_being_mapped_runs_on_the_jit(kinds_image):
    p = run([sys.executable, "-c", REENTRANT_PROBE], env=clean_env(SNAP_SYSIMAGE=str(kinds_image)))
    assert_ok(p)
    assert p.stdout.splitlines() == ["inside 42", "mapped True 9.0"]


def test_image_that_cannot_be_loaded_warns_at_first_use_and_program_runs_on_jit(
        kinds_image, kinds_reference, tmp_path):
    """An intact image whose code cannot be mapped here (an import this process lacks):
    activation succeeds, the first install warns once, the JIT serves everything."""
    import linker
    with linker.ImageFile.open(kinds_image) as img:
        name = next(n for n, weak in zip(img.imports, img._weak) if n.startswith("Py") and not weak)
    bogus = name[:-1] + ("x" if name[-1] != "x" else "y")
    forged = tmp_path / "unloadable.so"
    forge(kinds_image, forged, b"\0" + name.encode() + b"\0", b"\0" + bogus.encode() + b"\0")
    report = tmp_path / "misses.jsonl"
    p = launch("SNAP_SYSIMAGE", forged, "kinds_app.py", env={"SNAP_REPORT": str(report)})
    assert_ok(p)
    assert p.stdout == kinds_reference["base"]
    assert f"1 unresolved import(s): {bogus}" in p.stderr and "running on the JIT" in p.stderr
    assert p.stderr.count("SnapWarning") == 1 and "Traceback" not in p.stderr
    misses = [json.loads(line) for line in report.read_text().splitlines()]
    assert misses and {m["kind"] for m in misses} == {"refused"}
    assert all(bogus in m["reason"] for m in misses)
    strict = launch("SNAP_SYSIMAGE", forged, "kinds_app.py", env={"SNAP_STRICT": "1"})
    assert strict.returncode != 0
    assert f"1 unresolved import(s): {bogus}" in strict.stderr and "strict mode" in strict.stderr


def _corrupt(kind: str, image: Path, dst: Path) -> Path:
    data = image.read_bytes()
    if kind == "truncated":
        dst.write_bytes(data[: len(data) // 2])
    elif kind == "flipped byte in code":
        i = data.index(b"\x55\x48") if b"\x55\x48" in data else len(data) // 3
        dst.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:])
    elif kind == "flipped byte in manifest":
        i = data.index(b"kinds_lib.add") if b"kinds_lib.add" in data else data.index(b"kinds_lib")
        dst.write_bytes(data[:i] + b"X" + data[i + 1:])
    elif kind == "empty":
        dst.write_bytes(b"")
    elif kind == "not an ELF":
        dst.write_text("this is not an image\n")
    elif kind == "foreign ELF":
        shutil.copy(sys.executable if Path(sys.executable).stat().st_size < 50_000_000 else "/bin/ls", dst)
    elif kind == "missing":
        pass
    return dst


@pytest.mark.parametrize("kind", ["truncated", "flipped byte in code", "flipped byte in manifest",
                                  "empty", "not an ELF", "foreign ELF", "missing"])
def test_bad_image_warns_and_program_runs_on_jit(kinds_image, kinds_reference, tmp_path, kind):
    bad = _corrupt(kind, kinds_image, tmp_path / "bad.so")
    p = launch("SNAP_SYSIMAGE", bad, "kinds_app.py")
    assert_ok(p)
    assert p.stdout == kinds_reference["base"]
    assert "SnapWarning" in p.stderr and "running on the JIT" in p.stderr
    assert "Traceback" not in p.stderr


CACHED_LIB = '''
import numpy as np
from numba import njit, prange

@njit(cache=True)
def g(x):
    return x * 3.0

@njit(cache=True)
def f(a):
    s = 0.0
    for i in range(a.shape[0]):
        s += g(a[i])
    return s

@njit(cache=True, parallel=True)
def p(a):
    s = 0.0
    for i in prange(a.shape[0]):
        s += a[i]
    return s
'''
CACHED_APP = "import snaptest_forbid\nimport numpy as np, clib\nprint(clib.f(np.ones(5)), clib.p(np.ones(7)))\n"


def test_cache_true_functions_with_a_warm_numba_cache(tmp_path):
    """A workload whose functions load from Numba's cache is still fully served,
    and an edit to a callee is still detected (the trace compiles afresh)."""
    shutil.copy(APPS / "snaptest_forbid.py", tmp_path)
    (tmp_path / "clib.py").write_text(CACHED_LIB)
    (tmp_path / "capp.py").write_text(CACHED_APP)
    env = clean_env(NUMBA_CACHE_DIR=str(tmp_path / "nbcache"))
    warm = run([sys.executable, "capp.py"], cwd=tmp_path, env=env)
    assert_ok(warm)
    assert warm.stdout == "15.0 7.0\n"
    p = snap("create", "-q", "-w", "capp.py", "-o", "c.so", cwd=tmp_path, env=env)
    assert_ok(p)
    served = snap("run", "--sysimage", "c.so", "capp.py", cwd=tmp_path, env={**env, **FORBID})
    assert_ok(served)
    assert served.stdout == "15.0 7.0\n"
    (tmp_path / "clib.py").write_text(CACHED_LIB.replace("x * 3.0", "x * 4.0"))
    edited = snap("run", "--sysimage", "c.so", "capp.py", cwd=tmp_path, env=env)
    assert_ok(edited)
    assert edited.stdout == "20.0 7.0\n"
    assert "clib.g changed" in edited.stderr
