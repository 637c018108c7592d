"""Time to first result (TTFX) of fresh processes: JIT, Numba's cache, a snap image, and the floor.

Run with the virtualenv's interpreter (the one snap is installed in):

    .venv/bin/python scripts/bench_ttfx.py [--runs 7] [--only kmeans|micro]

Two programs: the shipped example (examples/kmeans) and a micro workload
(4 small @njit functions, written to a temporary directory). Each is started
as a fresh process in these modes:

  a  cold JIT       python app.py                       (empty NUMBA_CACHE_DIR, no cache=True)
  b  Numba cache    python app.py with cache=True        (NUMBA_CACHE_DIR populated beforehand)
  c  image          snap run --sysimage IMG app.py
  c' image (env)    SNAP_SYSIMAGE=IMG python app.py      (the .pth start-up hook)
  d  floor          python app.py --warmup               (same imports; the timed call is the
                                                          second, already compiled one)

Runs are interleaved (a, b, c, c', d, a, b, ...) and medians reported. Measured:

  time to first result  launch of the process (taken here, just before it is
                        spawned) -> the app has its first result. For the floor:
                        launch -> imports done, plus the already-compiled call.
  first-call phase      the first call itself, timed inside the app (the floor:
                        the second call).
  import numba          inside the app; with an image this includes activation,
                        whose own time (snapshot.runtime.active()[0].activation_seconds)
                        is reported separately.

The programs select cache=True through an environment variable read at import
(KMEANS_NUMBA_CACHE / MICRO_NUMBA_CACHE), so every mode runs the same files.
Targets (issue 3): image <= 1.15 x floor (TTFX); first-call phase cache/image >= 50x.

``--libraries numba_stats,numbagg,sparse,librosa,pynndescent`` (or ``all``) adds
the real-library workloads of tests/workloads (issue 4), in three modes each: (a)
cold JIT, (b) Numba's cache warm (the libraries' own ``cache=True``;
``NUMBAGG_CACHE=1`` for numbagg; sparse has no cache), (c) image. The app imports
the workload module and runs its ``main()`` twice: TTFX is launch -> first
``main()`` done; the floor is the image run's launch -> imports done plus its
second, steady-state ``main()``. The image's coverage (entries served / left to
the JIT, from ``snap info --json``) is printed too. Cold runs take minutes per
library (pynndescent about 6), so they are not in the default set.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchutil import (ACTIVE_IMAGE, PY, ROOT, SNAP, base_env, checked_run, clean_env,  # noqa: E402
                       interleaved, log, machine, med, med_of, paired_ratio, require_snap, snap_commit,
                       snap_create, table, tagged, with_image, workspace, write_json)
from benchutil import fmt_s as _fmt_s  # noqa: E402

MODES = [
    ("a", "cold JIT"),
    ("b", "Numba cache=True, warm"),
    ("c", "image: snap run --sysimage"),
    ("c_env", "image: SNAP_SYSIMAGE="),
    ("d", "floor: compiled 2nd call"),
]

# --------------------------------------------------------------------------- micro workload
MICRO_LIB = '''\
"""Four small jitted functions (the micro workload of scripts/bench_ttfx.py)."""
import os

import numpy as np
from numba import njit

CACHE = os.environ.get("MICRO_NUMBA_CACHE", "") not in ("", "0")


@njit(cache=CACHE)
def hypot2(a, b):
    return (a * a + b * b) ** 0.5


@njit(cache=CACHE)
def total(x):
    s = 0.0
    for v in x:
        s += v
    return s


@njit(cache=CACHE)
def scaled(x, k):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = x[i] * k
    return out


@njit(cache=CACHE)
def norm(x):
    return total(scaled(x, 2.0)) + hypot2(3.0, 4.0)
'''

MICRO_APP = '''\
"""Micro app: calls the four functions once; prints results and a TIMING line."""
import sys
import time

T_APP = time.perf_counter()
E_APP = time.time()
import numba  # noqa: E402
T_NUMBA = time.perf_counter()
import numpy as np  # noqa: E402
import micro_lib as m  # noqa: E402
T_IMPORTS = time.perf_counter()
''' + ACTIVE_IMAGE + '''

def run():
    x = np.arange(100.0)
    return [m.hypot2(3.0, 4.0), m.total(x), float(m.scaled(x, 0.5).sum()), m.norm(x)]


if "--warmup" in sys.argv:
    run()
t0 = time.perf_counter()
result = run()
t1 = time.perf_counter()
e1 = time.time()
print("  result", result)
image = active_image()
if "--timing-json" in sys.argv:
    import json
    print("TIMING " + json.dumps({
        "app_start_epoch": E_APP, "first_result_epoch": e1,
        "import_numba_s": T_NUMBA - T_APP, "imports_s": T_IMPORTS - T_APP,
        "first_call_s": t1 - t0, "warmup": "--warmup" in sys.argv,
        "activation_s": image.activation_seconds if image is not None else None,
        "installed": image.installed if image is not None else None,
    }))
'''

MICRO_WORKLOAD = '''\
import runpy, os
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "micro_app.py"), run_name="__main__")
'''


# --------------------------------------------------------------------------- library workloads
WORKLOADS = os.path.join(ROOT, "tests", "workloads")
LIBRARIES = ["numba_stats", "numbagg", "sparse", "librosa", "pynndescent", "quantecon", "stumpy", "datashader"]
LIB_MODES = [("a", "cold JIT"), ("b", "Numba cache, warm"), ("c", "image: snap run --sysimage")]

LIB_APP = '''\
"""Runs tests/workloads/{mod}_workload.py's main() twice, timed (scripts/bench_ttfx.py)."""
import contextlib, io, json, sys, time
T_APP = time.perf_counter()
E_APP = time.time()
import numba  # noqa: E402
T_NUMBA = time.perf_counter()
sys.path.insert(0, {workloads!r})
import {mod}_workload as w  # noqa: E402
T_IMPORTS = time.perf_counter()
{active_image}
with contextlib.redirect_stdout(io.StringIO()):
    t0 = time.perf_counter()
    w.main()
    t1 = time.perf_counter()
    e1 = time.time()
    w.main()
    t2 = time.perf_counter()
image = active_image()
print("TIMING " + json.dumps({{
    "app_start_epoch": E_APP, "first_result_epoch": e1, "import_numba_s": T_NUMBA - T_APP,
    "imports_s": T_IMPORTS - T_APP, "first_call_s": t1 - t0, "steady_s": t2 - t1,
    "activation_s": image.activation_seconds if image is not None else None,
    "installed": image.installed if image is not None else None}}))
'''


def lib_programs(tmp: str, names: list[str]) -> list["Program"]:
    progs = []
    for mod in names:
        d = os.path.join(tmp, f"lib-{mod}")
        os.makedirs(d)
        with open(os.path.join(d, "app.py"), "w") as f:
            f.write(LIB_APP.format(mod=mod, workloads=WORKLOADS, active_image=ACTIVE_IMAGE))
        with open(os.path.join(d, "workload.py"), "w") as f:
            f.write(f"import sys\nsys.path.insert(0, {WORKLOADS!r})\nimport {mod}_workload\n"
                    f"{mod}_workload.main()\n")
        progs.append(Program(mod, d, "app.py", "workload.py",
                             "NUMBAGG_CACHE" if mod == "numbagg" else "SNAP_BENCH_UNUSED"))
    return progs


def lib_prepare(prog: "Program", tmp: str) -> None:
    prepare(prog, tmp)
    _, _, p = checked_run([SNAP, "info", "--json", prog.image], base_env(), prog.dir)
    doc = json.loads(p.stdout)
    prog.coverage = (len(doc["entries"]), len(doc["skipped"]))


def lib_report(progs: list["Program"], data: dict, runs: int) -> None:
    print()
    print(f"Real libraries (tests/workloads), median of {runs} interleaved runs:")
    print()
    rows = []
    for prog in progs:
        d = data[prog.name]
        a, b, c = (med_of(d[m], "ttfx") for m in ("a", "b", "c"))
        # the floor: the image run's launch -> imports done, plus its second (steady) main()
        floor = med(r["app_start_epoch"] + r["imports_s"] - r["launch"] + r["steady_s"] for r in d["c"])
        served, left = prog.coverage
        rows.append((prog.name, f"{served} / {left} ({served / (served + left):.0%})", fmt_s(a), fmt_s(b),
                     fmt_s(c), fmt_s(floor), f"{a / c:.1f}x", f"{b / c:.1f}x", f"{c / floor:.2f}"))
    table(["library", "served / left to JIT", "cold JIT", "Numba cache", "image", "floor",
           "cold / image", "cache / image", "image / floor"], rows)


class Program:
    def __init__(self, name: str, directory: str, app: str, workload: str, cache_var: str) -> None:
        self.name = name
        self.dir = directory
        self.app = os.path.join(directory, app)
        self.workload = os.path.join(directory, workload)
        self.cache_var = cache_var
        self.image = ""
        self.cache_dir = ""


def make_programs(tmp: str, only: str | None) -> list[Program]:
    progs = []
    if only in (None, "kmeans"):
        d = os.path.join(ROOT, "examples", "kmeans")
        progs.append(Program("kmeans example", d, "app.py", "workload.py", "KMEANS_NUMBA_CACHE"))
    if only in (None, "micro"):
        d = os.path.join(tmp, "micro")
        os.makedirs(d)
        for fname, text in (("micro_lib.py", MICRO_LIB), ("micro_app.py", MICRO_APP),
                            ("micro_workload.py", MICRO_WORKLOAD)):
            with open(os.path.join(d, fname), "w") as f:
                f.write(text)
        progs.append(Program("micro (4 @njit)", d, "micro_app.py", "micro_workload.py",
                             "MICRO_NUMBA_CACHE"))
    return progs


# --------------------------------------------------------------------------- running
def spawn(cmd: list[str], env: dict[str, str], cwd: str) -> tuple[float, str]:
    """Run a fresh, checked process; return (launch epoch, stdout)."""
    launch, _, p = checked_run(cmd, env, cwd)
    return launch, p.stdout


def parse(out: str) -> tuple[dict, list[str]]:
    """The app's TIMING line and its result lines (compared across modes and runs)."""
    results = [l for l in out.splitlines() if l.startswith("  ") and not l.startswith("  served")]
    return tagged(out, "TIMING"), results


def run_mode(prog: Program, mode: str, tmp: str) -> dict:
    cmd = [PY, prog.app, "--timing-json"]
    if mode == "b":     # Numba's cache, populated by prepare()
        env = base_env(NUMBA_CACHE_DIR=prog.cache_dir, **{prog.cache_var: "1"})
    else:
        env = clean_env(tmp, {"a": "cold-", "d": "floor-"}.get(mode, "img-"))
    if mode == "d":
        cmd.append("--warmup")
    elif mode in ("c", "c_env"):
        cmd, env = with_image(cmd, env, prog.image, via="run" if mode == "c" else "env")
    launch, out = spawn(cmd, env, prog.dir)
    t, results = parse(out)
    if mode == "d":
        # imports done (same imports as every mode) + the already-compiled call
        ttfx = (t["app_start_epoch"] + t["imports_s"] - launch) + t["first_call_s"]
    else:
        ttfx = t["first_result_epoch"] - launch
    if mode.startswith("c") and t["activation_s"] is None:
        raise SystemExit(f"{prog.name}: the image was not used in mode {mode}:\n{out}")
    return {"ttfx": ttfx, "first_call": t["first_call_s"], "import_numba": t["import_numba_s"],
            "activation": t["activation_s"], "results": results, "launch": launch,
            "app_start_epoch": t["app_start_epoch"], "imports_s": t["imports_s"],
            "steady_s": t.get("steady_s")}


def prepare(prog: Program, tmp: str) -> None:
    """Build the image, populate Numba's cache, and check that the image really serves."""
    prog.image = os.path.join(tmp, prog.name.split()[0] + ".so")
    log(f"  building image for {prog.name} ...")
    t0 = time.perf_counter()
    snap_create(prog.workload, prog.image, prog.dir, clean_env(tmp, "build-"), quiet=True)
    log(f"    {os.path.getsize(prog.image) / 1024:.0f} KiB in {time.perf_counter() - t0:.1f} s")
    # Numba's cache, populated by one run with cache=True
    env = clean_env(tmp, "numba-cache-", **{prog.cache_var: "1"})
    prog.cache_dir = env["NUMBA_CACHE_DIR"]
    spawn([PY, prog.app, "--timing-json"], env, prog.dir)
    n = sum(len(fs) for _, _, fs in os.walk(prog.cache_dir))
    log(f"    Numba cache populated: {n} files")
    # strict mode: any compilation at all (a miss, a stale entry) is an error
    cmd, env = with_image([PY, prog.app, "--timing-json"], clean_env(tmp, "strict-"), prog.image,
                          via="run", strict=True)
    t, _ = parse(spawn(cmd, env, prog.dir)[1])
    log(f"    strict run from the image: {t['installed']} entries installed, no JIT compilation")


# --------------------------------------------------------------------------- report
def fmt_s(x: float) -> str:
    """This benchmark's precision: 0.1 ms (its times are start-ups, not microseconds)."""
    return _fmt_s(x, ms_digits=1, us=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", "-n", type=int, default=7, help="runs per mode (default 7)")
    ap.add_argument("--only", choices=["kmeans", "micro", "none"],
                    help="benchmark one program only (none: only --libraries)")
    ap.add_argument("--libraries", metavar="LIST",
                    help="also the library workloads: comma-separated from "
                         f"{','.join(LIBRARIES)}, or 'all' (slow: minutes of cold JIT each)")
    ap.add_argument("--json", metavar="FILE", help="also write all measurements to FILE")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ns = ap.parse_args()
    require_snap("bench_ttfx.py")
    names = LIBRARIES if ns.libraries == "all" else [x for x in (ns.libraries or "").split(",") if x]
    unknown = sorted(set(names) - set(LIBRARIES))
    if unknown:
        raise SystemExit(f"unknown libraries: {', '.join(unknown)} (choose from {', '.join(LIBRARIES)})")

    with workspace("snap-bench-", ns.keep) as tmp:
        progs = make_programs(tmp, ns.only)
        libs = lib_programs(tmp, names)
        load_before = os.getloadavg()
        log("preparing")
        for prog in progs:
            prepare(prog, tmp)
        for prog in libs:
            lib_prepare(prog, tmp)
        steps = [(p, m) for p in progs for m, _ in MODES] + [(p, m) for p in libs for m, _ in LIB_MODES]
        data: dict[str, dict[str, list[dict]]] = {}
        for prog, mode in steps:
            data.setdefault(prog.name, {}).setdefault(mode, [])
        for _, (prog, mode) in interleaved(ns.runs, steps):
            data[prog.name][mode].append(run_mode(prog, mode, tmp))
        if progs:
            report(progs, data, ns.runs, load_before, os.getloadavg())
        if libs:
            lib_report(libs, data, ns.runs)
        write_json(ns.json, {"runs": ns.runs, "python": sys.version.split()[0], "data": {
            p: {m: [{k: v for k, v in r.items() if k != "results"} for r in rs]
                for m, rs in d.items()} for p, d in data.items()}})
    return 0


def report(progs: list[Program], data: dict, runs: int, load_before, load_after) -> None:
    commit = snap_commit()
    print()
    print(f"Fresh-process time to first result, median of {runs} interleaved runs "
          f"({'snap ' + commit + ', ' if commit else ''}{machine()}, "
          f"load average {load_before[0]:.1f} before / {load_after[0]:.1f} after).")
    print()
    rows = []
    for prog in progs:
        d = data[prog.name]
        for mode, label in MODES:
            rs = d[mode]
            imp = fmt_s(med_of(rs, "import_numba"))
            if mode.startswith("c"):
                imp += f" (activation {fmt_s(med_of(rs, 'activation'))})"
            rows.append((prog.name, f"({mode.replace('_env', chr(39))}) {label}", fmt_s(med_of(rs, "ttfx")),
                         fmt_s(med_of(rs, "first_call")), imp))
    table(["program", "mode", "time to first result", "first-call phase", "import numba"], rows, "llrrr")
    print()
    for prog in progs:
        d = data[prog.name]
        a, b, c, c_env, dd = (med_of(d[m], "ttfx") for m in ("a", "b", "c", "c_env", "d"))
        fb, fc, fd = (med_of(d[m], "first_call") for m in ("b", "c", "d"))
        ok1 = "ok" if c / dd <= 1.15 else "MISSED"
        ok2 = "ok" if fb / fc >= 50 else "MISSED"
        paired = paired_ratio((x["ttfx"] for x in d["c"]), (y["ttfx"] for y in d["d"]))
        paired_env = paired_ratio((x["ttfx"] for x in d["c_env"]), (y["ttfx"] for y in d["d"]))
        print(f"- {prog.name}: TTFX image/floor (c)/(d) = {c / dd:.2f} (SNAP_SYSIMAGE: {c_env / dd:.2f}; "
              f"target <= 1.15: {ok1}); median of per-round ratios {paired:.2f} "
              f"(SNAP_SYSIMAGE: {paired_env:.2f})")
        print(f"  cold/image (a)/(c) = {a / c:.1f}x; cache/image (b)/(c) = {b / c:.1f}x")
        print(f"  first-call phase cache/image (b)/(c) = {fb / fc:.0f}x (target >= 50x: {ok2}); "
              f"above the compiled call (d): cache +{fmt_s(max(fb - fd, 0))}, image +{fmt_s(max(fc - fd, 0))}")
        ref = d["a"][0]["results"]
        same = all(r["results"] == ref for rs in d.values() for r in rs)
        print(f"  results identical in every run and mode: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    sys.exit(main())
