"""Supported Numba releases (issue 27): the differences live in numba_seam/releases.py.

numba < 0.67 puts process addresses into the code it emits; the training run installs
0.67's names (numba_seam/backports.py) so that builds are reproducible on every supported
release (tests/test_snap_create.py::test_builds_are_reproducible, run by scripts/matrix.py
on each). Here, on whatever Numba this suite runs: the backport produces exactly the IR
Numba 0.67+ produces itself (run on 0.67+, it replaces Numba's own code by the backport and
compares), and nothing outside numba_seam/ compares Numba versions.
"""
from __future__ import annotations

import re
import sys

import numba
import pytest

from conftest import ROOT, assert_ok, clean_env, run
from snapshot.numba_seam import releases

PROGRAM = '''\
import sys
import numba
from snapshot.numba_seam import Patches, backports

if sys.argv[1] == "backport":
    backports._content_named_pickles(Patches())     # whatever this release has

K = (1.5, "snap", None)


@numba.njit
def checked(x):
    if x < 0:
        raise ValueError("negative", 3, 2.5)        # static exception args: serialize_uncached
    return x + 1


@numba.jit(forceobj=True)
def boxed(x):
    return (x, K)                                   # a constant object: serialize_object


checked(1.0)
boxed(1)
for d in (checked, boxed):
    for ir in d.inspect_llvm().values():
        print(ir)
'''


def test_release_flags_follow_this_numba():
    assert releases.NUMBA[:2] == tuple(int(p) for p in numba.__version__.split(".")[:2])
    assert releases.supported(), numba.__version__
    assert releases.SUPPORTED[0] == "0.63" and releases.SUPPORTED[-1] == "0.68"
    assert releases.DETERMINISTIC_CONTEXT_REPR == (releases.NUMBA >= (0, 67))
    assert releases._parse("0.63.1") == (0, 63, 1) and releases._parse("0.68.0rc1") == (0, 68, 0)


@pytest.mark.skipif(not releases.CONTENT_NAMED_PICKLES, reason="compares with numba >= 0.67's own code")
def test_backported_pickle_names_give_numbas_own_ir(tmp_path):
    (tmp_path / "prog.py").write_text(PROGRAM)
    # object-mode lowering walks sets of variable names: one hash seed for both processes
    env = clean_env(PYTHONHASHSEED="0")
    own = run([sys.executable, "prog.py", "own"], cwd=tmp_path, env=env)
    backport = run([sys.executable, "prog.py", "backport"], cwd=tmp_path, env=env)
    assert_ok(own)
    assert_ok(backport)
    assert ".const.pickledata." in own.stdout and ".const.picklebuf." in own.stdout
    assert backport.stdout == own.stdout


def test_context_repr_has_no_address():
    from numba.core import cpu
    from snapshot.numba_seam import backports
    ctx = cpu.CPUContext(numba.core.typing.Context())
    if releases.DETERMINISTIC_CONTEXT_REPR:
        assert backports.context_repr(ctx) == repr(ctx)       # the backport is 0.67's repr
    assert " at 0x" not in backports.context_repr(ctx)


def test_no_version_checks_outside_the_seam():
    """Numba-release differences are flags in numba_seam/releases.py, not scattered checks."""
    pattern = re.compile(r"numba\.__version__\s*[<>]=?|version_info\(\s*numba|parse\(numba\.__version__")
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "snapshot").rglob("*.py")
                 if p.name != "releases.py" and pattern.search(p.read_text())]
    assert offenders == []


def test_example_served_on_the_oldest_supported_numba():
    """The default run's check of the oldest supported Numba (``matrix.py --quick``): a
    virtualenv with numba 0.63 (made once, kept in .matrix/), the k-means example built and
    served there with compilation forbidden, identical to that Numba's JIT."""
    py = "%d.%d" % sys.version_info[:2]
    p = run([sys.executable, str(ROOT / "scripts" / "matrix.py"), "--python", py, "--numba", "0.63",
             "--quick"], cwd=ROOT, env=clean_env(), timeout=1800)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"CPython {py}, numba 0.63.1: green (1 passed" in p.stdout, p.stdout


@pytest.mark.slow
def test_smoke_on_the_oldest_supported_numba():
    """scripts/matrix.py for (this CPython, numba 0.63): a virtualenv with the oldest supported
    Numba (made once, kept in .matrix/), the k-means example, three real libraries and the
    bitwise harness served with compilation forbidden and identical to the JIT there."""
    py = "%d.%d" % sys.version_info[:2]
    p = run([sys.executable, str(ROOT / "scripts" / "matrix.py"), "--python", py, "--numba", "0.63"],
            cwd=ROOT, env=clean_env(), timeout=3600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"CPython {py}, numba 0.63.1: green (5 passed" in p.stdout, p.stdout
