"""First round of tasks on a Dask fleet: JIT vs Numba's cache vs a snap image (issue 17).

Run with the virtualenv's interpreter (the one snap and dask[distributed] are installed in):

    .venv/bin/python scripts/bench_fleet.py [--runs 3] [--workers 2 4] [--tasks-per-worker 4]

A library of 6 @njit functions (array loops, a k-means step, a histogram, a
recursive helper; three of them are tests/apps/fleet/flib.py's, imported from
there) is written to a temporary directory, with an image built from a workload
that calls each once. For each W and mode, a fresh driver process
starts ``LocalCluster(n_workers=W, threads_per_worker=1, processes=True)`` on
127.0.0.1 and:

  1. (image mode) registers ``snapshot.dask.SnapNannyPlugin(image)`` (the workers
     restart from the image);
  2. imports the library in every worker (``client.run``), timed as "ready": the
     same in every mode (Numba compiles lazily; with an image this includes
     ``import numba`` and activation), so the rounds measure the tasks alone;
  3. first round: W x tasks-per-worker tasks, each calling every function, timed
     from submit to the last result;
  4. steady-state round: the same tasks again (everything compiled/installed);
  5. PSS of each worker process (``/proc/PID/smaps_rollup``).

Modes: ``jit`` (plain @njit, empty NUMBA_CACHE_DIR), ``cache`` (cache=True with
NUMBA_CACHE_DIR populated beforehand by one process), ``image``. Each mode runs
``--runs`` times, interleaved; medians reported, with the ratios of the targets:
image first round <= 1.3x its steady-state round and >= 5x faster than the JIT's
first round. All processes are children of the driver, stopped when it exits.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchutil import (ACTIVE_IMAGE, PY, ROOT, base_env, checked_run, interleaved, log,  # noqa: E402
                       med_of, require_snap, snap_create, table, tagged, workspace, write_json)

FLEET_APPS = os.path.join(ROOT, "tests", "apps", "fleet")     # flib.py: the fleet kernels
MODES = [("jit", "JIT"), ("cache", "Numba cache"), ("image", "image")]

# The fleet's library: poly, smooth and total are the kernels of tests/apps/fleet/flib.py (the
# one copy, imported from there: tests/apps/fleet is on the children's PYTHONPATH), with three
# kernels of the benchmark's own that give a task real work (a k-means step, a histogram, a
# recursive helper). cache=True is switched on per dispatcher (``enable_caching``, what
# ``njit(cache=True)`` does) so that every mode runs the same files.
LIB = '''
import os
import numpy as np
from numba import njit

from flib import poly, smooth, total


@njit
def kmeans_step(x, c):
    n, d = x.shape
    k = c.shape[0]
    labels = np.empty(n, np.int64)
    for i in range(n):
        best, arg = np.inf, 0
        for j in range(k):
            s = 0.0
            for t in range(d):
                diff = x[i, t] - c[j, t]
                s += diff * diff
            if s < best:
                best, arg = s, j
        labels[i] = arg
    new = np.zeros_like(c)
    counts = np.zeros(k, np.int64)
    for i in range(n):
        new[labels[i]] += x[i]
        counts[labels[i]] += 1
    for j in range(k):
        if counts[j] > 0:
            new[j] /= counts[j]
    return new, labels


@njit
def histogram(a, bins, lo, hi):
    h = np.zeros(bins, np.int64)
    w = (hi - lo) / bins
    for v in a:
        b = int((v - lo) / w)
        if 0 <= b < bins:
            h[b] += 1
    return h


@njit
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


KERNELS = (poly, smooth, total, kmeans_step, histogram, fib)
if os.environ.get("FLEET_NUMBA_CACHE") == "1":
    for kernel in KERNELS:
        kernel.enable_caching()


def task(seed, n=200):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 3))
    c = x[:4].copy()
    for _ in range(10):
        c, labels = kmeans_step(x, c)
    h = histogram(x[:, 0], 16, 0.0, 1.0)
    return float(total(x[:, 1]) + smooth(x[:, 2], 3).sum() + c.sum() + h[0] + labels.sum() + fib(12)
                 + poly(float(seed)))
'''

DRIVER = r'''
import json, os, sys, time
from distributed import Client, LocalCluster

W, PER, MODE, IMAGE, SIZE = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
''' + ACTIVE_IMAGE + r'''

def pss():
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024.0


def ready():
    import importlib
    importlib.import_module("fleetlib")
    return os.getpid()


def compiled_here():
    rt = active_image()
    return rt is not None and rt.installed > 0


if __name__ == "__main__":
    out = {}
    with LocalCluster(n_workers=W, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, local_directory="scratch") as cluster, Client(cluster) as c:
        if MODE == "image":
            from snapshot.dask import SnapNannyPlugin
            c.register_plugin(SnapNannyPlugin(IMAGE))
        c.wait_for_workers(W)
        t0 = time.perf_counter()
        c.run(ready)
        out["ready"] = time.perf_counter() - t0
        import fleetlib
        seeds = list(range(W * PER))
        for name in ("first", "steady"):
            t0 = time.perf_counter()
            r = c.gather(c.map(fleetlib.task, seeds, [SIZE] * len(seeds), key=[f"{name}-{s}" for s in seeds]))
            out[name] = time.perf_counter() - t0
            out.setdefault("results", r)
            assert r == out["results"]
        out["served"] = all(c.run(compiled_here).values()) if MODE == "image" else None
        out["pss"] = sorted(c.run(pss).values())
    print("FLEET " + json.dumps(out))
'''


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, nargs="+", default=[2, 4])
    ap.add_argument("--tasks-per-worker", type=int, default=4)
    ap.add_argument("--size", type=int, default=150000,
                    help="points per task (10 k-means steps over them): the default makes a task "
                         "about 40 ms of compute (Dask advises tasks of 100 ms or more)")
    ap.add_argument("--json", help="write the medians here too")
    args = ap.parse_args()
    require_snap("bench_fleet.py")
    with workspace("snap-bench-fleet-") as work:
        run(work, args)


def run(work: str, args: argparse.Namespace) -> None:
    for name, text in (("fleetlib.py", LIB), ("wl.py", "import fleetlib\nfleetlib.task(0)\n"),
                       ("driver.py", DRIVER)):
        with open(os.path.join(work, name), "w") as f:
            f.write(text)
    cache_dir = os.path.join(work, "numba-cache")
    empty_cache = os.path.join(work, "numba-empty")
    # the workers inherit the driver's environment, PYTHONPATH included
    env = base_env(PYTHONPATH=os.pathsep.join([work, FLEET_APPS]), NUMBA_CACHE_DIR=empty_cache)
    log("building the image ...")
    snap_create("wl.py", "fleet.so", work, env, quiet=True, timeout=600)
    image = os.path.join(work, "fleet.so")
    log("populating Numba's cache ...")
    checked_run([PY, "wl.py"], {**env, "FLEET_NUMBA_CACHE": "1", "NUMBA_CACHE_DIR": cache_dir}, work, 600)
    extra = {"jit": {}, "cache": {"FLEET_NUMBA_CACHE": "1", "NUMBA_CACHE_DIR": cache_dir}, "image": {}}
    table_: dict[tuple[int, str], dict] = {}
    for w in args.workers:
        samples: dict[str, list[dict]] = {m: [] for m, _ in MODES}
        for i, (mode, _) in interleaved(args.runs, MODES, indent=f"  W={w} "):
            shutil.rmtree(empty_cache, ignore_errors=True)
            shutil.rmtree(os.path.join(work, "scratch"), ignore_errors=True)
            _, _, p = checked_run([PY, "driver.py", str(w), str(args.tasks_per_worker), mode, image,
                                   str(args.size)], {**env, **extra[mode]}, work, 600)
            out = tagged(p.stdout, "FLEET")
            if mode == "image" and not out["served"]:
                raise SystemExit(f"image W={w}: the workers were not served")
            samples[mode].append(out)
            log(f"  W={w} run {i + 1} {mode:5s} ready {out['ready']:.3f}s first {out['first']:.3f}s "
                f"steady {out['steady']:.3f}s")
        results = {json.dumps(s["results"]) for m in samples.values() for s in m}
        if len(results) != 1:
            raise SystemExit(f"W={w}: the modes computed different results")
        for mode, runs in samples.items():
            table_[(w, mode)] = {k: med_of(runs, k) for k in ("ready", "first", "steady")}
            table_[(w, mode)]["pss"] = statistics.median(statistics.mean(r["pss"]) for r in runs)
    print(f"\nDask LocalCluster, {args.tasks_per_worker} tasks of {args.size} points per worker, "
          f"medians of {args.runs} runs\n")
    label = dict(MODES)
    table(["W", "mode", "ready (s)", "first round (s)", "steady round (s)", "first / steady",
           "JIT first / first", "PSS per worker (MiB)"],
          [(w, label[mode], f"{r['ready']:.2f}", f"{r['first']:.2f}", f"{r['steady']:.2f}",
            f"{r['first'] / r['steady']:.2f}x", f"{table_[(w, 'jit')]['first'] / r['first']:.1f}x",
            f"{r['pss']:.0f}")
           for (w, mode), r in table_.items()], align="rlrrrrrr")
    print()
    ok = True
    for w in args.workers:
        img = table_[(w, "image")]
        a, b = img["first"] / img["steady"], table_[(w, "jit")]["first"] / img["first"]
        verdict = a <= 1.3 and b >= 5
        ok &= verdict
        print(f"W={w}: image first/steady {a:.2f}x (target <= 1.3x), JIT first / image first {b:.1f}x "
              f"(target >= 5x): {'met' if verdict else 'NOT met'}")
    write_json(args.json, {f"{w}:{m}": r for (w, m), r in table_.items()})
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
