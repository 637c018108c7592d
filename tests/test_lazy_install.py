"""A dispatcher costs nothing to create; an entry is installed when Numba asks for its signature.

Every way a program can make Numba compile a signature must get the image's
entry, with compilation forbidden: a Python call, a call from newly JIT-compiled
code (typing goes through the dispatcher), a first-class function value, and
several threads making the first call at once. `signatures`/`overloads` show
what the dispatcher compiled, as under the JIT: nothing before its first call.
"""
from __future__ import annotations

import sys

from conftest import APPS, assert_ok, clean_env, run, snap

LIB = """
import numba

@numba.njit
def double(x):
    return 2 * x

@numba.njit
def triple(x):
    return 3 * x

@numba.njit
def apply(f, x):
    return f(x) + 1

@numba.njit
def via_callee(x):
    return double(x) + triple(x)
"""

WORKLOAD = """
import lazylib
lazylib.double(2); lazylib.double(2.5); lazylib.triple(4)
lazylib.apply(lazylib.triple, 5)
lazylib.via_callee(1)
"""

APP = """
import sys, threading
sys.path.insert(0, {apps!r})
import snaptest_forbid  # noqa: F401  (SNAPTEST_FORBID_COMPILE=1: compiling raises)
import snapshot.runtime as runtime
import lazylib

rt = (runtime.active() or [None])[0]     # the program's image
assert rt is not None
assert rt.installed == 0, rt.installed            # nothing installed before first use
print("signatures", sorted(str(s) for s in lazylib.double.signatures))
print("installed after signatures", rt.installed)
out = [None] * 8
def first_call(i):
    out[i] = lazylib.triple(i)
threads = [threading.Thread(target=first_call, args=(i,)) for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print("threads", out)
print("apply", lazylib.apply(lazylib.triple, 5))
print("double", lazylib.double(2), lazylib.double(2.5))
print("via_callee", lazylib.via_callee(1))
print("signatures after calls", sorted(str(s) for s in lazylib.double.signatures))
"""

EXTRA = """
import numba, lazylib
@numba.njit
def newfn(x):
    return lazylib.triple(x) * 10      # typing asks triple's dispatcher for its overloads
print("newfn", newfn(4))
"""


def test_first_use_installs_with_compilation_forbidden(tmp_path):
    (tmp_path / "lazylib.py").write_text(LIB)
    (tmp_path / "workload.py").write_text(WORKLOAD)
    (tmp_path / "app.py").write_text(APP.format(apps=str(APPS)))
    (tmp_path / "extra.py").write_text(EXTRA)
    assert_ok(snap("create", "-q", "-w", "workload.py", "-o", "img.so", cwd=tmp_path))

    p = snap("run", "--sysimage", "img.so", "app.py", cwd=tmp_path,
             env=clean_env(SNAPTEST_FORBID_COMPILE="1"))
    assert_ok(p)
    assert p.stdout.splitlines() == [
        "signatures []",
        "installed after signatures 0",
        "threads [0, 3, 6, 9, 12, 15, 18, 21]",
        "apply 16",
        "double 4 5.0",
        "via_callee 5",
        "signatures after calls ['(float64,)', '(int64,)']",
    ]
    assert "Warning" not in p.stderr, p.stderr

    # New JIT code calling an image function that Python never called: typing
    # goes through the dispatcher (get_call_template), which must see the entry.
    plain = run([sys.executable, "extra.py"], cwd=tmp_path)
    assert_ok(plain)
    r = snap("run", "--sysimage", "img.so", "--report-misses", "misses.jsonl", "extra.py", cwd=tmp_path)
    assert_ok(r)
    assert r.stdout == plain.stdout == "newfn 120\n"
    misses = (tmp_path / "misses.jsonl").read_text()
    assert "newfn" in misses and "lazylib.triple" not in misses
