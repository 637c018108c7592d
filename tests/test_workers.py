"""Worker processes started from an image-served program are served too (the image
settings are inherited through the environment), with compilation forbidden."""
from __future__ import annotations

import shutil
import sys

import pytest

from conftest import APPS, assert_ok, clean_env, run, snap

LIB = '''
from numba import njit

@njit
def work(n):
    s = 0
    for i in range(n):
        s += i * i
    return s
'''

APP = '''
import snaptest_forbid
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
import mlib


def task(n):
    import snaptest_forbid  # noqa: F401  (loky pickles __main__ functions by value)
    import snapshot.runtime as r
    rt = (r.active() or [None])[0]
    return mlib.work(n), rt is not None and rt.installed > 0


if __name__ == "__main__":
    print("main", mlib.work(10))
    for method in ("spawn", "forkserver", "fork"):
        with mp.get_context(method).Pool(2) as pool:
            print(method, pool.map(task, [10, 20]))
    with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as ex:
        print("executor", list(ex.map(task, [5, 6])))
    from joblib import Parallel, delayed
    print("loky", Parallel(n_jobs=2, backend="loky")(delayed(task)(n) for n in (10, 20)))
'''

EXPECTED = """main 285
spawn [(285, True), (2470, True)]
forkserver [(285, True), (2470, True)]
fork [(285, True), (2470, True)]
executor [(30, True), (55, True)]
loky [(285, True), (2470, True)]
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("workers")
    shutil.copy(APPS / "snaptest_forbid.py", d)
    (d / "mlib.py").write_text(LIB)
    (d / "mapp.py").write_text(APP)
    (d / "wl.py").write_text("import mlib\nmlib.work(3)\n")
    assert_ok(snap("create", "-q", "-w", "wl.py", "-o", "m.so", cwd=d))
    return d


@pytest.mark.parametrize("how", ["snap run", "SNAP_SYSIMAGE"])
def test_workers_are_served_with_compilation_forbidden(workdir, how):
    env = clean_env(SNAPTEST_FORBID_COMPILE="1")
    if how == "snap run":
        p = snap("run", "--sysimage", "m.so", "mapp.py", cwd=workdir, env=env)
    else:
        env["SNAP_SYSIMAGE"] = str(workdir / "m.so")
        p = run([sys.executable, "mapp.py"], cwd=workdir, env=env)
    assert_ok(p)
    assert p.stdout == EXPECTED
