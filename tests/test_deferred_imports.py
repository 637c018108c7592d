"""Deferred imports (issue 28): what ``import numba`` loads and a served process never
uses stays unexecuted until something touches it, and then behaves as an ordinary import.

Measured by scripts/bench_start.py (never timed here)."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from conftest import assert_ok, run, small_project, tagged_json

LIB = '''
import numpy as np
from numba import njit

@njit
def scaled(x, k):
    return x * k + 1.5

@njit
def unused(x):
    return x.sum() * 3.0
'''

WORKLOAD = '''
import numpy as np
import dlib
dlib.scaled(np.arange(10.0), 2.0)
'''

PROBE = '''
import json, sys, types
import numpy as np
import dlib
out = {"scaled": dlib.scaled(np.linspace(0, 1, 7), 3.0).tobytes().hex()}
try:
    from snapshot.numba_seam.deferred import pending
    out["pending"] = pending()
except ImportError:
    out["pending"] = None
if "--use" in sys.argv:
    import importlib.metadata, inspect, scipy, scipy.linalg, yaml
    import numba
    out["scipy_version"] = scipy.__version__
    out["norm"] = float(scipy.linalg.norm(np.arange(4.0)))
    out["yaml"] = yaml.safe_load("a: [1, 2]")
    out["numba_version"] = importlib.metadata.version("numba") == numba.__version__
    out["source"] = "def safe_load" in inspect.getsource(yaml.safe_load)
    out["loader"] = type(yaml.__loader__).__name__
    out["plain_modules"] = all(type(m) is types.ModuleType for m in (yaml, scipy, importlib.metadata))
    out["after"] = pending() if out["pending"] is not None else None
if "--miss" in sys.argv:
    # not in the image: compiled by the JIT, which reads the entry points (importlib.metadata)
    out["unused"] = repr(dlib.unused(np.arange(5.0)))
print("PROBE " + json.dumps(out))
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, Path]:
    return small_project(tmp_path_factory, "deferred", {"dlib.py": LIB, "workload.py": WORKLOAD, "probe.py": PROBE}, "d.so")


def _probe(d: Path, *args: str, **env: str) -> dict:
    return tagged_json(d, "probe.py", "PROBE", *args, **env)


def test_a_served_start_leaves_what_numba_imports_and_serving_never_uses_unexecuted(project):
    d, image = project
    plain = _probe(d)
    served = _probe(d, SNAP_SYSIMAGE=str(image), SNAP_STRICT="1")     # strict: no compilation
    assert served["scaled"] == plain["scaled"]
    assert {"yaml", "importlib.metadata", "scipy"} <= set(served["pending"])
    # the switch back: everything imported at once, as without snap
    assert _probe(d, SNAP_SYSIMAGE=str(image), SNAP_NO_DEFER="1")["pending"] == []


def test_deferred_modules_behave_as_imported_when_used_and_a_miss_still_compiles(project):
    d, image = project
    plain = _probe(d, "--use", "--miss")
    served = _probe(d, "--use", "--miss", SNAP_SYSIMAGE=str(image))
    for key in ("scaled", "scipy_version", "norm", "yaml", "numba_version", "source", "loader",
                "plain_modules", "unused"):
        assert served[key] == plain[key], key
    assert served["plain_modules"] and served["source"] and served["numba_version"]
    assert "yaml" not in served["after"] and "scipy" not in served["after"]


# ---------------------------------------------------------------- the mechanism, in one process
SEAM = '''
import sys, threading, time
sys.path.insert(0, {d!r})
from snapshot.numba_seam import deferred
deferred.defer(("slowmod", "badmod", "pkg"))
import slowmod, badmod, pkg
import slowmod as again          # a second import: still not executed
assert deferred.pending() == ["badmod", "pkg", "slowmod"], deferred.pending()
seen = []
def touch():
    seen.append(slowmod.VALUE)
threads = [threading.Thread(target=touch) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
assert seen == [42] * 8, seen
assert open({runs!r}).read() == "x", "executed more than once"
try:
    badmod.anything
except ZeroDivisionError:
    pass
else:
    raise AssertionError("a failing module did not raise")
assert "badmod" not in sys.modules
import pkg.child                 # the package runs before its submodule, as always
assert pkg.ORDER == ["pkg", "child"], pkg.ORDER
print("OK")
'''


def test_the_first_toucher_runs_a_deferred_module_once_others_wait_errors_raise(tmp_path):
    runs = tmp_path / "runs.txt"
    runs.write_text("")
    (tmp_path / "slowmod.py").write_text(textwrap.dedent(f'''
        import time
        with open({str(runs)!r}, "a") as f:
            f.write("x")
        time.sleep(0.3)
        VALUE = 42
    '''))
    (tmp_path / "badmod.py").write_text("1 / 0\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("ORDER = ['pkg']\n")
    (tmp_path / "pkg" / "child.py").write_text("import pkg\npkg.ORDER.append('child')\n")
    p = run([sys.executable, "-c", SEAM.format(d=str(tmp_path), runs=str(runs))], cwd=tmp_path)
    assert_ok(p)
    assert p.stdout.strip() == "OK"


GC_PROBE = '''
import gc, json, sys
if "--off" in sys.argv:
    gc.disable()
runs = []
gc.callbacks.append(lambda phase, info: phase == "start" and runs.append(info["generation"]))
import numba
print("GC " + json.dumps({"during_import": len(runs), "enabled": gc.isenabled()}))
'''


def test_no_cyclic_collection_while_a_served_process_imports_numba(tmp_path, project):
    d, image = project
    (tmp_path / "gcprobe.py").write_text(GC_PROBE)

    def probe(*args: str, **env: str) -> dict:
        return tagged_json(tmp_path, "gcprobe.py", "GC", *args, **env)
    assert probe()["during_import"] > 0                    # the plain import collects, often
    served = probe(SNAP_SYSIMAGE=str(image))
    assert served == {"during_import": 0, "enabled": True}  # none, and the collector back on
    # a program that turned the collector off keeps it off
    assert probe("--off", SNAP_SYSIMAGE=str(image)) == {"during_import": 0, "enabled": False}
