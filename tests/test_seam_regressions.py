"""Regression tests for snap bugs found on real code (tests/apps/seamfix_lib.py): each case
served from the image with compilation forbidden, output identical to the plain JIT's.

1. ``locals=`` of variables Numba's SSA pass versions (``i.1``): compiling adds them to the
   dispatcher's locals dict, so the options read after a compilation differed from the
   ones read before (pynndescent's ``simple_heap_push`` was never served);
2. one process address used twice in a function (``numba.dynamic.globals.<hex>.1``): the
   build crashed; now served (two jitclass instances returned, libm's ``cos`` called twice)
   or skipped with its reason (a non-contiguous global array's data);
3. an exception class made inside a function, raised by a jitted function compiled into
   its caller (called directly, as a first-class function value, or passed in): image
   code raised another class object, which the caller's ``except`` missed.
"""
from __future__ import annotations

import json
import os
import sys

import pytest

from conftest import APPS, ROOT, assert_ok, build_image, clean_env, run, snap

FORBID = {"SNAP_STRICT": "1", "SNAPTEST_FORBID_COMPILE": "1"}


@pytest.fixture(scope="module")
def seamfix(tmp_path_factory):
    return build_image(tmp_path_factory, "seamfix_workload.py", "seamfix.so")


def test_seam_regressions_served_with_the_jits_results(seamfix):
    image, _ = seamfix
    plain = run([sys.executable, "seamfix_app.py"])
    assert_ok(plain)
    assert "MISSED" not in plain.stdout and plain.stdout.count(" caught ") == 5
    served = run([sys.executable, "seamfix_app.py"], env=clean_env(SNAP_SYSIMAGE=str(image), **FORBID))
    assert_ok(served)
    assert served.stdout == plain.stdout


def test_what_the_image_holds(seamfix):
    image, _ = seamfix
    info = snap("info", "--json", str(image))
    assert_ok(info)
    doc = json.loads(info.stdout)
    entries = {e["function"] for e in doc["entries"]}
    for name in ("annotated", "heap_push", "two_instances", "cos_pair", "call_first_class", "via_value",
                 "via_tuple", "direct", "apply", "module_check", "make_checker.<locals>.check"):
        assert f"seamfix_lib.{name}" in entries, name
    [strided] = [s for s in doc["skipped"] if s["function"] == "seamfix_lib.read_strided_twice"]
    assert strided["reason"].startswith("code embeds process addresses (dynamic globals): "
                                        "the data of the global array seamfix_lib.STRIDED")
    [cos_pair] = [e for e in doc["entries"] if e["function"] == "seamfix_lib.cos_pair"]
    assert len(cos_pair["addresses"]) == 1          # one slot for both uses of the address


def test_locals_served_after_the_dispatcher_jit_compiled_another_signature(seamfix):
    """The first signature (not in the image) is JIT-compiled, which versions the locals dict;
    then compilation is forbidden and the image's signature must be served."""
    image, _ = seamfix
    plain = run([sys.executable, "-c", "import numpy as np, seamfix_lib as s; "
                 "print('jit', s.annotated(np.arange(5))); print('image', s.annotated(np.arange(5.0)))"])
    assert_ok(plain)
    p = run([sys.executable, "seamfix_late_app.py"], env=clean_env(SNAP_SYSIMAGE=str(image)))
    assert_ok(p)
    assert p.stdout == plain.stdout


def test_options_text_ignores_the_versions_numba_adds_to_locals():
    """In process: the options text of a dispatcher with ``locals=`` is the same before and
    after a compilation (which adds ``i.1``...), and keeps what the user wrote."""
    code = """if True:
        import numpy as np
        from numba import float64, int64, njit
        from snapshot.numba_seam.kinds import _dispatcher_options
        @njit(locals={"i": int64, "acc": float64, "weird.1": int64})
        def f(x):
            acc = 0.0
            i = 0
            for i in range(x.shape[0]):
                acc += x[i]
            if acc > 3:
                acc = acc * 2
            return acc, i
        before = _dispatcher_options(f, f.targetoptions)
        f(np.arange(4.0))
        added = sorted(k for k in f.locals if k not in ("i", "acc", "weird.1"))
        assert added and all(k.split(".")[0] in ("i", "acc") for k in added), added
        assert _dispatcher_options(f, f.targetoptions) == before, before
        assert "weird.1" in before and "acc.1" not in before
        print("ok")
    """
    p = run([sys.executable, "-c", code], cwd=ROOT)
    assert_ok(p)
    assert p.stdout == "ok\n"


@pytest.mark.slow
def test_pynndescent_simple_heap_push_served(tmp_path):
    """The real case of bug 1: an eager signature with ``locals=``, compiled at import."""
    pytest.importorskip("pynndescent")
    prog = tmp_path / "heap.py"
    prog.write_text(
        "import snaptest_forbid\n"
        "import numpy as np\n"
        "from pynndescent.utils import simple_heap_push\n"
        "pr = np.full(8, np.inf, dtype=np.float32); ix = np.full(8, -1, dtype=np.int32)\n"
        "for k, p in enumerate([5.0, 3.0, 9.0, 1.0, 7.0, 2.0, 8.0, 4.0, 6.0, 0.5]):\n"
        "    simple_heap_push(pr, ix, np.float32(p), np.int32(k))\n"
        "print(pr.tolist(), ix.tolist())\n")
    env = clean_env(PYTHONPATH=os.pathsep.join(filter(None, [str(APPS), os.environ.get("PYTHONPATH")])))
    plain = run([sys.executable, str(prog)], cwd=tmp_path, env=env)
    assert_ok(plain)
    image = tmp_path / "heap.so"
    assert_ok(snap("create", "-w", str(prog), "-o", str(image), "-q", cwd=tmp_path, env=env, timeout=1800))
    served = run([sys.executable, str(prog)], cwd=tmp_path,
                 env={**env, "SNAP_SYSIMAGE": str(image), **FORBID})
    assert_ok(served)
    assert served.stdout == plain.stdout
