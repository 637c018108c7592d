"""What the training workload's child processes compile (multiprocessing workers, forked or
spawned, and subprocesses) ends with them: `snap create` says so, lists each one as left to
the JIT with what to do, and a miss of one in a served process gives that reason."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from conftest import assert_ok, clean_env, run, snap

LIB = '''
from numba import njit

@njit
def parent_f(x):
    return x + 1.0

@njit
def fork_f(x):
    return x * 2.0

@njit
def spawn_f(x):
    return x * 3.0

@njit
def sub_f(x):
    return x * 4.0
'''

WORK = '''
import multiprocessing as mp
import subprocess, sys
import chlib

def in_fork(x):
    return chlib.fork_f(x)

def in_spawn(x):
    return chlib.spawn_f(x)

if __name__ == "__main__":
    out = [chlib.parent_f(1.5)]
    if "--parent-only" not in sys.argv:
        with mp.get_context("fork").Pool(2) as p:
            out += p.map(in_fork, [1.5, 2.5])
        with mp.get_context("spawn").Pool(1) as p:
            out += p.map(in_spawn, [1.5])
        r = subprocess.run([sys.executable, "-c", "import chlib; print(repr(chlib.sub_f(1.5)))"],
                           check=True, capture_output=True, text=True)
        out.append(float(r.stdout))
    print("RESULT", [x.hex() for x in out])
'''

ONLY_CHILD = '''
import subprocess, sys
subprocess.run([sys.executable, "-c", "import chlib; chlib.sub_f(1.5)"], check=True)
'''

CHILD = "compiled only in a child process of the training workload"


def _project(tmp_path: Path) -> Path:
    (tmp_path / "chlib.py").write_text(LIB)
    (tmp_path / "chwork.py").write_text(WORK)
    (tmp_path / "only_child.py").write_text(ONLY_CHILD)
    (tmp_path / "tmp").mkdir()
    return tmp_path


def test_what_workers_compile_is_listed_with_its_reason_and_misses_say_it(tmp_path):
    d = _project(tmp_path)
    env = clean_env(TMPDIR=str(d / "tmp"))
    image = d / "ch.so"
    p = snap("create", "-w", "chwork.py", "-o", str(image), cwd=d, env=env)
    assert_ok(p)
    assert "3 specialization(s) compiled only in" in p.stderr, p.stderr
    assert list((d / "tmp").iterdir()) == []          # nothing left behind
    info = json.loads(snap("info", "--json", str(image), cwd=d).stdout)
    assert [e["function"] for e in info["entries"]] == ["chlib.parent_f"]
    left = {s["function"]: s["reason"] for s in info["skipped"]}
    assert set(left) == {"chlib.fork_f", "chlib.spawn_f", "chlib.sub_f"}
    assert all(r.startswith(CHILD) for r in left.values())
    # served: the same results as the JIT, and each child's miss says why
    plain = run([sys.executable, "chwork.py"], cwd=d, env=clean_env())
    assert_ok(plain)
    report = d / "misses.jsonl"
    served = run([sys.executable, "chwork.py"], cwd=d,
                 env=clean_env(SNAP_SYSIMAGE=str(image), SNAP_REPORT=str(report)))
    assert_ok(served)
    result = [line for line in plain.stdout.splitlines() if line.startswith("RESULT")]
    assert result and result == [line for line in served.stdout.splitlines() if line.startswith("RESULT")]
    misses = [json.loads(line) for line in report.read_text().splitlines()]
    assert {m["function"] for m in misses} == {"chlib.fork_f", "chlib.spawn_f", "chlib.sub_f"}
    assert all(m["reason"].startswith(CHILD) for m in misses)


def test_a_workload_that_compiles_only_in_children_is_told_so(tmp_path):
    d = _project(tmp_path)
    p = snap("create", "-w", "only_child.py", "-o", str(d / "x.so"), cwd=d)
    assert p.returncode != 0
    assert "compiled in its child processes" in p.stderr, p.stderr
    assert not (d / "x.so").exists()
