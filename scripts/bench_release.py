"""Release benchmark: activation cost per entry, build time, image size, PSS of worker processes.

Run with the virtualenv's interpreter (the one snap is installed in):

    .venv/bin/python scripts/bench_release.py [--quick] [--json FILE] [--only 1,2,3,4]

Measurements, each printed as a markdown table with a one-line verdict
(times are medians of interleaved fresh processes on whatever machine this is:
nothing is asserted, a busy machine gives inflated, noisy numbers):

1. Activation vs number of entries (target: activation <= 1 ms + 10 us per
   entry). Synthetic modules with N small, distinct @njit functions
   (``def f_i(x): return x * i + 1``) and a workload calling each once; one
   image per N built with ``snap create`` (build time reported). In fresh
   processes: ``snapshot.runtime.activate(path)`` (``activation_seconds``: all
   of activate(): checks and hooks), then ``import synthN`` -- creating
   a dispatcher the image serves costs a lookup, its entries are matched and
   installed at its first use -- versus the same import in a process without
   an image (which creates the dispatchers and compiles nothing). The
   difference of the two imports is what the image adds to creating N
   dispatchers. Mapping the image's code (dlopen, import table), which the
   runtime does at the first install, is timed apart (``Runtime.load()``), then
   the first calls of all N (installing each).
2. Build time vs the cold workload run (target: ``snap create`` <= 1.2 x
   ``python workload.py`` with an empty NUMBA_CACHE_DIR), for the kmeans example
   and the N=100 synthetic workload, with snap create's own breakdown (parsed
   from its summary line).
3. Image size vs Numba's on-disk cache for the same workload (``cache=True``,
   run into an empty NUMBA_CACHE_DIR; the sizes of all cache files summed).
4. PSS of N worker processes (multiprocessing spawn Pool; each imports the
   kmeans module, runs the training workload's calls once, then waits on an
   event while the parent samples /proc/<pid>/smaps_rollup and the image's own
   mappings in /proc/<pid>/smaps), started from a parent with SNAP_SYSIMAGE (and
   SNAP_STRICT=1: no compilation in the workers), versus plain JIT, versus
   Numba's warm cache. PSS shares library pages with every process on the
   machine, unrelated ones included; Pss_Anon (each worker's own heap) does not.

5. Frozen globals (``section_globals``); 6. ``snap create --base`` (``section_incremental``).
7. CPU variants (targets: ``--cpu portable`` image <= 2.5 x the size and its build
   <= 1.3 x the time of a single-level build, for the kmeans example), and the
   example's steady-state call times per variant (``SNAP_CPU`` forcing each) next
   to the plain JIT at each level.

Every process gets a clean environment (inherited SNAP_* / NUMBA_* dropped).
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchutil import (ACTIVE_IMAGE, PY, ROOT, base_env, cache_files, checked_run,  # noqa: E402
                       clean_env, fmt_b, fmt_s, interleaved, log, machine, med, paired_ratio,
                       python_probe, require_snap, snap_commit, table, tagged, with_image, workspace,
                       write_json)
from benchutil import snap_create as _snap_create  # noqa: E402

KMEANS_DIR = os.path.join(ROOT, "examples", "kmeans")


# --------------------------------------------------------------------------- snap create
SUMMARY = re.compile(r"(\d+) specialization\(s\) served by the image, (\d+) left to the JIT.*?; "
                     r"image [^;]+; built in ([\d.]+) s \(workload ([\d.]+) s(.*)\)\s*$")


# --baseline DIR: an earlier checkout of snap measured side by side (its code first on the path)
BASELINE: str | None = None


def _code(baseline: bool) -> dict[str, str]:
    """The environment that runs the baseline's code (``--baseline``) or this checkout's."""
    return {"PYTHONPATH": BASELINE} if baseline and BASELINE else {}


def snap_create(workload: str, output: str, cwd: str, tmp: str, extra: tuple[str, ...] = (),
                baseline: bool = False) -> dict:
    """`snap create` as a user runs it (empty NUMBA_CACHE_DIR); wall time and its own breakdown."""
    env = clean_env(tmp, "create-", COLUMNS="400", **_code(baseline))     # the summary line on one line
    wall, out = _snap_create(workload, output, cwd, env, extra=extra)
    lines = [l for l in out.splitlines() if "served by the image" in l]
    m = SUMMARY.search(lines[-1]) if lines else None
    if m is None:
        raise SystemExit(f"cannot parse snap create's summary line:\n{out[-2000:]}")
    steps = {k: float(v) for k, v in re.findall(r", (\w+) ([\d.]+) s", m.group(5))}
    return {"wall": wall, "entries": int(m.group(1)), "jit": int(m.group(2)),
            "built_in": float(m.group(3)), "workload": float(m.group(4)), "steps": steps,
            "size": os.path.getsize(output)}


def cold_run(workload: str, cwd: str, tmp: str, extra: dict | None = None) -> tuple[float, str]:
    """``python workload`` with an empty NUMBA_CACHE_DIR; (wall seconds, that cache dir)."""
    env = clean_env(tmp, "cold-", **(extra or {}))
    _, wall, _ = checked_run([PY, workload], env, cwd, 1800)
    return wall, env["NUMBA_CACHE_DIR"]


# --------------------------------------------------------------------------- synthetic modules
PROBE = '''\
"""Fresh-process probe: activation and the import that creates (and installs) N dispatchers."""
import json, os, sys, time
t0 = time.perf_counter()
import numba  # noqa: E402
t1 = time.perf_counter()
image = os.environ.get("BENCH_IMAGE")
rt = None
t_rtmod = t_act = 0.0
if image:
    import snapshot.runtime as runtime
    t2 = time.perf_counter()
    rt = runtime.activate(image)             # the default mode (strict mode hooks every kind)
    t3 = time.perf_counter()
    t_rtmod, t_act = t2 - t1, t3 - t2
    assert rt is not None, "image refused"
# The image process froze the heap out of the collector's sight at activation;
# without GC in both modes the difference of the imports is the matching cost alone.
import gc  # noqa: E402
gc.collect()
gc.disable()
t4 = time.perf_counter()
import {mod} as m  # noqa: E402
t5 = time.perf_counter()
gc.enable()
n = len(m.FUNCS)
calls = t_map = None
if rt is not None:
    # Creating a dispatcher installs nothing: entries are matched and installed at
    # its first use, so the first calls include installing all N. The image's code is
    # mapped at the first install: timed apart here.
    t6 = time.perf_counter()
    assert rt.loaded is None and rt.load()
    t_map = time.perf_counter() - t6
    t6 = time.perf_counter()
    total = sum(f(3) for f in m.FUNCS)
    calls = time.perf_counter() - t6
    assert total == sum(3 * i + 1 for i in range(n)), total
    from snapshot.numba_seam.standins import ImageLibrary
    ready = sum(1 for f in m.FUNCS if len(f.overloads) == 1      # one overload, from the image
                and isinstance(next(iter(f.overloads.values())).library, ImageLibrary))
    assert rt.installed == n and ready == n, (rt.installed, ready, n)
else:
    assert sum(1 for f in m.FUNCS if len(f.overloads)) == 0, "the plain import compiled something"
# Creating a dispatcher runs Numba's code unchanged: the runtime hooks compile requests,
# not construction (kept as a column so older result files compare).
creation = 0.0
print("PROBE " + json.dumps({{
    "import_numba": t1 - t0, "import_runtime": t_rtmod, "activate_wall": t_act,
    "activation": rt.activation_seconds if rt is not None else None,
    "installed": rt.installed if rt is not None else 0, "import": t5 - t4, "calls": calls, "map": t_map,
    "creation": creation}}))
'''


def write_synth(tmp: str, n: int) -> str:
    d = os.path.join(tmp, f"synth{n}")
    os.makedirs(d)
    lines = ['"""%d small, distinct @njit functions (scripts/bench_release.py)."""' % n,
             "import os", "", "from numba import njit", "",
             'CACHE = os.environ.get("SYNTH_NUMBA_CACHE", "") not in ("", "0")', ""]
    for i in range(n):
        lines += ["", "@njit(cache=CACHE)", f"def f_{i}(x):", f"    return x * {i} + 1", ""]
    lines += ["", "FUNCS = [" + ", ".join(f"f_{i}" for i in range(n)) + "]"]
    with open(os.path.join(d, f"synth{n}.py"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(d, "workload.py"), "w") as f:
        f.write(textwrap.dedent(f"""\
            import synth{n}
            total = 0
            for f in synth{n}.FUNCS:
                total += f(3)
            print("workload: total", total)
            """))
    with open(os.path.join(d, "probe.py"), "w") as f:
        f.write(PROBE.format(mod=f"synth{n}"))
    # bytecode once, so the timed imports of both modes read the same .pyc
    checked_run([PY, "-m", "compileall", "-q", d], base_env(), d)
    return d


def probe(d: str, image: str | None, tmp: str, baseline: bool = False) -> dict:
    """One fresh process of the probe; with ``image`` it activates it itself (timed)."""
    env = clean_env(tmp, "probe-", **({"BENCH_IMAGE": image} if image else {}), **_code(baseline))
    _, _, p = checked_run([PY, os.path.join(d, "probe.py")], env, d, 1800)
    return tagged(p.stdout, "PROBE")


def section_activation(sizes: list[int], runs: int, tmp: str, res: dict) -> None:
    log("== 1. activation vs number of entries")
    synth = {}
    for n in sizes:
        d = write_synth(tmp, n)
        log(f"  N={n}: snap create ...")
        b = snap_create("workload.py", os.path.join(tmp, f"synth{n}.so"), d, tmp)
        log(f"    {b['entries']} entries, {fmt_b(b['size'])}, {b['wall']:.1f} s")
        if b["entries"] != n:
            raise SystemExit(f"synthetic N={n}: the image has {b['entries']} entries, expected {n}")
        synth[n] = {"dir": d, "image": os.path.join(tmp, f"synth{n}.so"), "build": b,
                    "plain": [], "image_runs": [], "base_runs": []}
        if BASELINE:
            synth[n]["base_image"] = os.path.join(tmp, f"synth{n}-baseline.so")
            snap_create("workload.py", synth[n]["base_image"], d, tmp, baseline=True)
    modes = ("plain", "image", "baseline") if BASELINE else ("plain", "image")
    steps = [(n, mode) for n in sizes for mode in modes]
    for _, (n, mode) in interleaved(runs, steps, alternate=True, indent="  "):
        s = synth[n]
        if mode == "plain":
            s["plain"].append(probe(s["dir"], None, tmp))
        elif mode == "image":
            s["image_runs"].append(probe(s["dir"], s["image"], tmp))
        else:
            s["base_runs"].append(probe(s["dir"], s["base_image"], tmp, baseline=True))
    res["synth"] = synth

    print(f"\n### 1. Activation vs number of entries (median of {runs} interleaved fresh processes)\n")
    pts = []
    rows = []
    verdict = []
    for n in sizes:
        s = synth[n]
        act = med(p["activation"] for p in s["image_runs"])
        create = med(p["creation"] for p in s["image_runs"])
        imp_plain = med(p["import"] for p in s["plain"])
        imp_img = med(p["import"] for p in s["image_runs"])
        mapping = med(p["map"] for p in s["image_runs"])
        total = act + max(create, 0.0) * n
        target = 1e-3 + 10e-6 * n
        pts.append((n, act, total))
        verdict.append((n, total, target))
        s["summary"] = {"activation": act, "creation_per_dispatcher": create, "import_plain": imp_plain,
                        "import_image": imp_img, "map": mapping, "total": total, "target": target}
        rows.append((n, fmt_s(s["build"]["wall"]), fmt_b(s["build"]["size"]),
                     fmt_s(med(p["import_runtime"] for p in s["image_runs"])), fmt_s(act),
                     f"{create * 1e6:.2f} us", fmt_s(total),
                     f"{fmt_s(target)} {'ok' if total <= target else 'MISSED'}",
                     fmt_s(imp_plain), fmt_s(imp_img), fmt_s(mapping),
                     fmt_s(med(p["calls"] for p in s["image_runs"]))))
    table(["N entries", "snap create", "image size", "import runtime", "activate()",
           "creation overhead per dispatcher", "activation + N creations", "target 1 ms + 10 us*N",
           "import, plain", "import, image", "code mapping (at first install)",
           "first calls (all N, incl. install)"], rows, "r" * 12)
    print()
    if len(pts) >= 2:
        fa, sa = linfit([(n, a) for n, a, _ in pts])
        ft, st = linfit([(n, t) for n, _, t in pts])
        print(f"- least-squares fit over N: activate() = {fmt_s(fa)} + {sa * 1e6:.1f} us*N; "
              f"with the N dispatchers' creation overhead {fmt_s(ft)} fixed + {st * 1e6:.1f} us per entry")
        res["activation_fit"] = {"fixed": ft, "per_entry": st}
    if BASELINE:
        print(f"\nSide by side with the baseline ({BASELINE}), same rounds, per-round ratios:\n")
        brows = []
        for n in sizes:
            s = synth[n]
            a = paired_ratio((p["activation"] for p in s["image_runs"]), (p["activation"] for p in s["base_runs"]))
            c = paired_ratio((p["calls"] for p in s["image_runs"]), (p["calls"] for p in s["base_runs"]))
            brows.append((n, fmt_s(med(p["activation"] for p in s["base_runs"])),
                           fmt_s(med(p["activation"] for p in s["image_runs"])), f"{a:.2f}",
                           fmt_s(med(p["calls"] for p in s["base_runs"])),
                           fmt_s(med(p["calls"] for p in s["image_runs"])), f"{c:.2f}"))
        table(["N entries", "activate(), baseline", "activate(), this", "ratio",
               "first calls, baseline", "first calls, this", "ratio"], brows, "r" * 7)
        print()
    ok = all(t <= g for _, t, g in verdict)
    print(f"- **verdict (activation <= 1 ms + 10 us/entry): {'ok' if ok else 'MISSED'}** — "
          + "; ".join(f"N={n}: {fmt_s(t)} vs {fmt_s(g)}" for n, t, g in verdict))
    print("  (import runtime = `import snapshot.runtime`, paid once before activation, not in the target;"
          " creation overhead = what the runtime adds to making one dispatcher (nothing since entries"
          " are requested per signature: Numba's constructor runs unchanged);"
          " import plain/image = medians of importing the N-function module, for reference (their"
          " difference is within run-to-run noise); code mapping = dlopen, import table and"
          " constructors, which the runtime does at the first install, not at activation;"
          " entries are matched, checked and installed at each function's first call, in the"
          " last column)")


def linfit(pts: list[tuple[float, float]]) -> tuple[float, float]:
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    return my - slope * mx, slope


# --------------------------------------------------------------------------- 2. build time
def section_build(progs: list[tuple[str, str]], runs: int, tmp: str, res: dict) -> None:
    log("== 2. build time vs the cold workload run")
    data = {name: {"cold": [], "create": [], "baseline": []} for name, _ in progs}
    kinds = ("cold", "create", "baseline") if BASELINE else ("cold", "create")
    steps = [(name, d, step) for name, d in progs for step in kinds]
    for _, (name, d, step) in interleaved(runs, steps, alternate=True, indent="  "):
        if step == "cold":
            data[name]["cold"].append(cold_run("workload.py", d, tmp)[0])
            log(f"    {name}: cold {data[name]['cold'][-1]:.1f} s")
        else:
            out = os.path.join(tmp, f"build-{name.split()[0]}{'-baseline' if step == 'baseline' else ''}.so")
            data[name][step].append(snap_create("workload.py", out, d, tmp, baseline=step == "baseline"))
            log(f"    {name}: snap create ({step}) {data[name][step][-1]['wall']:.1f} s")
    res["build"] = data
    print(f"\n### 2. Build time vs the cold workload run (median of {runs} interleaved runs, "
          "empty NUMBA_CACHE_DIR each)\n")
    verdict = []
    rows = []
    for name, _ in progs:
        c = data[name]["cold"]
        cr = data[name]["create"]
        cold, wall = med(c), med(x["wall"] for x in cr)
        paired = paired_ratio((x["wall"] for x in cr), c)
        keys = list(cr[0]["steps"])
        st = {k: med(x["steps"].get(k, 0.0) for x in cr) for k in keys}
        wl = med(x["workload"] for x in cr)
        child = med(x["built_in"] - x["workload"] - sum(x["steps"].values()) for x in cr)
        cli = med(x["wall"] - x["built_in"] for x in cr)
        verdict.append((name, wall / cold, paired))
        rows.append((name, cr[0]["entries"], fmt_s(cold), fmt_s(wall), f"{wall / cold:.2f}", f"{paired:.2f}",
                     fmt_s(wl), *(f"{st.get(k, 0.0):.2f} s" for k in ("collect", "codegen", "link")),
                     f"{child:.2f} s", f"{cli:.2f} s"))
    table(["workload", "entries", "python workload.py", "snap create", "ratio", "per-round ratio",
           "in snap create: workload", "collect", "codegen", "link", "rest of trace child",
           "snap command"], rows)
    print()
    print("  (from snap create's summary line, 10 ms resolution: workload = the workload run inside the "
          "trace child, with the recorder; rest of trace child = its start-up, imports, writing and "
          "verifying the image = 'built in' - workload - steps; snap command = wall - 'built in': "
          "start-up of the `snap` command and the summary table)")
    if BASELINE:
        print(f"\nSide by side with the baseline ({BASELINE}), same rounds:\n")
        table(["workload", "snap create, baseline", "snap create, this", "per-round ratio this/baseline",
               "baseline / cold run"],
              [(name, fmt_s(med(x["wall"] for x in data[name]["baseline"])),
                fmt_s(med(x["wall"] for x in data[name]["create"])),
                f"{paired_ratio((x['wall'] for x in data[name]['create']), (x['wall'] for x in data[name]['baseline'])):.2f}",
                f"{paired_ratio((x['wall'] for x in data[name]['baseline']), data[name]['cold']):.2f}")
               for name, _ in progs])
        print()
    ok = all(v <= 1.2 for _, v, _ in verdict)
    print(f"- **verdict (snap create <= 1.2 x cold run): {'ok' if ok else 'MISSED'}** — "
          + "; ".join(f"{n}: {v:.2f}x (per-round {p:.2f}x)" for n, v, p in verdict))


# --------------------------------------------------------------------------- 3. size
def section_size(items: list[tuple[str, str, str, str]], tmp: str, res: dict) -> dict[str, str]:
    """items: (name, dir, image, cache variable). Returns name -> populated cache dir."""
    log("== 3. image size vs Numba's cache")
    rows, caches = [], {}
    for name, d, image, var in items:
        log(f"  {name}: workload with cache=True ...")
        wall, cache = cold_run("workload.py", d, tmp, {var: "1"})
        size, files = cache_files(cache)
        nbi = sum(1 for _, _, fs in os.walk(cache) for f in fs if f.endswith(".nbi"))
        caches[name] = cache
        rows.append((name, os.path.getsize(image), size, files, nbi, wall))
    res["size"] = [dict(zip(("name", "image", "cache", "files", "nbi", "cache_run"), r)) for r in rows]
    print("\n### 3. Image size vs Numba's on-disk cache (same workload, cache=True, empty NUMBA_CACHE_DIR)\n")
    table(["workload", "image file", "Numba cache (sum of files)", "cache files (.nbi index)", "image / cache",
           "cold run with cache=True"],
          [(name, fmt_b(img), fmt_b(size), f"{files} ({nbi})", f"{img / size:.2f}", fmt_s(wall))
           for name, img, size, files, nbi, wall in rows])
    print()
    print("- image / cache: " + "; ".join(f"{n} {i / s:.2f}x" for n, i, s, *_ in rows)
          + " (no target; below 1 the image is the smaller)")
    return caches


# --------------------------------------------------------------------------- 4. PSS
PSS_PARENT = '''\
"""Parent of a multiprocessing spawn Pool of kmeans workers; samples their PSS while they wait."""
import json, multiprocessing as mp, os, sys, time
''' + ACTIVE_IMAGE + '''

Q = EV = None


def init(q, ev):
    global Q, EV
    Q, EV = q, ev


def task(i):
    t0 = time.perf_counter()
    import kmeans
    X, truth = kmeans.make_blobs(400, 8, 6, 2.5, 1)
    C, labels, history = kmeans.fit(X, 8, seed=1)
    conf = kmeans.soft_confidence(X, C, 0.1)
    purity = kmeans.purity(labels, truth, 8)
    img = active_image()
    Q.put({"pid": os.getpid(), "seconds": time.perf_counter() - t0, "purity": float(purity),
           "iterations": len(history), "installed": img.installed if img is not None else None})
    EV.wait(1800)
    return os.getpid()


def rollup(pid):
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[0].endswith(":") and parts[2] == "kB":
                out[parts[0][:-1]] = int(parts[1]) * 1024
    return out


def image_maps(pid, ino):
    """Rss/Pss of the mappings of the image file (matched by inode)."""
    tot = {"Rss": 0, "Pss": 0, "Shared_Clean": 0, "Private_Clean": 0, "Private_Dirty": 0, "vmas": 0}
    mine = False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if "-" in parts[0] and not parts[0].endswith(":"):
                mine = len(parts) >= 5 and parts[4] == str(ino) and ino != 0
                tot["vmas"] += mine
            elif mine and parts[0].endswith(":") and parts[0][:-1] in tot:
                tot[parts[0][:-1]] += int(parts[1]) * 1024
    return tot


if __name__ == "__main__":
    n = int(sys.argv[1])
    image = os.environ.get("SNAP_SYSIMAGE")
    ino = os.stat(image).st_ino if image else 0
    ctx = mp.get_context("spawn")
    q, ev = ctx.Queue(), ctx.Event()
    t0 = time.perf_counter()
    with ctx.Pool(n, initializer=init, initargs=(q, ev)) as pool:
        res = pool.map_async(task, range(n), chunksize=1)
        infos = [q.get(timeout=1800) for _ in range(n)]
        ready = time.perf_counter() - t0
        time.sleep(0.2)
        for info in infos:
            info["rollup"] = rollup(info["pid"])
            info["image"] = image_maps(info["pid"], ino)
        ev.set()
        pids = res.get(timeout=600)
    assert sorted(pids) == sorted(i["pid"] for i in infos) and len(set(pids)) == n, pids
    print("PSS " + json.dumps({"n": n, "ready": ready, "workers": infos}))
'''

PSS_MODES = [("image", "image (SNAP_SYSIMAGE)"), ("jit", "plain JIT"), ("cache", "Numba cache, warm")]


def section_pss(workers: list[int], image: str, cache_dir: str | None, tmp: str, res: dict) -> None:
    log("== 4. PSS of worker processes")
    parent = os.path.join(tmp, "pss_parent.py")
    with open(parent, "w") as f:
        f.write(PSS_PARENT)
    modes = [m for m in PSS_MODES if m[0] != "cache" or cache_dir]
    data: dict[tuple[int, str], dict] = {}
    for n in workers:
        for mode, _ in modes:
            env = clean_env(tmp, "pss-", PYTHONPATH=KMEANS_DIR)
            if mode == "cache":
                env.update({"NUMBA_CACHE_DIR": cache_dir, "KMEANS_NUMBA_CACHE": "1"})
            # the workers inherit SNAP_SYSIMAGE (SNAP_STRICT: no compilation in them at all)
            cmd, env = with_image([PY, parent, str(n)], env, image if mode == "image" else None,
                                  via="env", strict=True)
            log(f"  {n} worker(s), {mode} ...")
            _, _, p = checked_run(cmd, env, tmp, 1800)
            d = tagged(p.stdout, "PSS")
            if mode == "image" and any(w["installed"] in (None, 0) for w in d["workers"]):
                raise SystemExit(f"image mode: a worker did not use the image: {d['workers']}")
            if len({w["purity"] for w in d["workers"]}) != 1:
                raise SystemExit(f"workers disagree: {d['workers']}")
            data[(n, mode)] = d
            log(f"    ready after {d['ready']:.1f} s; total PSS "
                f"{fmt_b(sum(w['rollup']['Pss'] for w in d['workers']))}")
    res["pss"] = {f"{n}:{m}": v for (n, m), v in data.items()}

    print("\n### 4. PSS of N kmeans worker processes (multiprocessing spawn Pool, sampled while "
          "every worker waits after its calls)\n")
    totals = {}
    rows = []
    for n in workers:
        for mode, label in modes:
            ws = data[(n, mode)]["workers"]
            pss = [w["rollup"]["Pss"] for w in ws]
            anon_w = [w["rollup"].get("Pss_Anon", 0) for w in ws]
            totals[(n, mode)] = sum(pss)
            img = ""
            img_tot = ""
            if mode == "image":
                img = (f"{fmt_b(med(w['image']['Rss'] for w in ws))} / {fmt_b(med(w['image']['Pss'] for w in ws))}"
                       f" ({fmt_b(med(w['image']['Private_Dirty'] for w in ws))} private dirty)")
                img_tot = fmt_b(sum(w["image"]["Pss"] for w in ws))
            rows.append((n, label, fmt_b(med(pss)), fmt_b(sum(pss)), fmt_b(med(anon_w)), img or "-",
                         img_tot or "-", fmt_s(data[(n, mode)]["ready"])))
    table(["workers", "mode", "PSS per worker (median)", "total PSS", "anonymous PSS per worker",
           "image mapping per worker: RSS / PSS (private dirty)", "image PSS, all workers",
           "workers ready after"], rows, "rlrrrrrr")
    print()
    for n in workers:
        parts = [f"{label} {fmt_b(totals[(n, m)])}" for m, label in modes]
        ratio = totals[(n, "jit")] / totals[(n, "image")]
        extra = f"; cache/image = {totals[(n, 'cache')] / totals[(n, 'image')]:.2f}" if cache_dir else ""
        print(f"- {n} worker(s): total PSS " + ", ".join(parts) + f"; JIT/image = {ratio:.2f}{extra}")
    if len(workers) >= 2:
        lo, hi = min(workers), max(workers)
        per = {m: (totals[(hi, m)] - totals[(lo, m)]) / (hi - lo) for m, _ in modes}
        print(f"- **PSS per extra worker** ({lo} -> {hi} workers): "
              + ", ".join(f"{label} {fmt_b(per[m])}" for m, label in modes)
              + f"; JIT/image = {per['jit'] / per['image']:.2f}")
    anon = {m: med(w["rollup"].get("Pss_Anon", 0) for n in workers for w in data[(n, m)]["workers"])
            for m, _ in modes}
    print("- anonymous memory (Pss_Anon: heap, private to each worker) per worker, median over all "
          "runs: " + ", ".join(f"{label} {fmt_b(anon[m])}" for m, label in modes)
          + f"; JIT/image = {anon['jit'] / anon['image']:.2f}. PSS also divides the pages of shared "
          "libraries (libLLVM, NumPy, libpython) among every process on the machine that maps them, "
          "unrelated ones included, so absolute PSS moves with what else runs; Pss_Anon does not")
    if len(workers) >= 2:
        ws = data[(hi, "image")]["workers"]
        rss, pss = med(w["image"]["Rss"] for w in ws), med(w["image"]["Pss"] for w in ws)
        print(f"- image pages shared: with {hi} workers each maps {fmt_b(rss)} of the image (RSS) "
              f"but is charged {fmt_b(pss)} (PSS), RSS/PSS = {rss / pss if pss else float('nan'):.1f}"
              f" (fully shared would be {hi}); the image's PSS summed over the workers "
              f"{fmt_b(sum(w['image']['Pss'] for w in ws))}")


# --------------------------------------------------------------------------- main
GLOBALS_PROBE = '''\
"""In-process probe: what checking an entry's observed inputs costs at install
(snapshot/image/validity.py): the values its compilation read, the code it consulted."""
import json, os, sys, tempfile, time
import numpy as np
d = tempfile.mkdtemp()
src = ["import numpy as np", "from numba import njit"]
src += [f"S{{i}} = {{float(i)}}" for i in range(8)]
src += ["K = 3", "T = (1, 2.0, 'a')", "@njit", "def helper(x):", "    return x * K + T[0]", "@njit",
        "def f(x):", "    return x" + "".join(f" + S{{i}}" for i in range(8)) + " + helper(x)",
        "BIG = np.random.default_rng(0).random({array_mb} * 2**20 // 8)",
        "FROZEN = BIG.copy(); FROZEN.flags.writeable = False",
        "@njit", "def a(i):", "    return BIG[i]", "@njit", "def b(i):", "    return FROZEN[i]"]
open(os.path.join(d, "probe_mod.py"), "w").write("\\n".join(src) + "\\n")
sys.path.insert(0, d)
from snapshot.numba_seam.record import Recorder
rec = Recorder(); rec.install()
import probe_mod as m
m.f(1.0); m.a(1); m.b(1)
rec.uninstall()
from snapshot.create.plan import _identity
from snapshot.image import validity
from snapshot.image.freshness import Freshness
from snapshot.image.manifest import Dep, Entry, Manifest
from snapshot.numba_seam.kinds import specializations
specs = {{s.qualname: s for s in specializations(rec.records)}}
fresh = Freshness(Manifest({{}}, {{}}, "", [], [], []))
def entry(name):
    ident = _identity(specs[name], rec.observer.settings)
    return Entry(kind="dispatcher", module="probe_mod", qualname=name, options="", closure=None, code="",
                 signature="", symbols={{}}, envs=[], values=dict(ident.values),
                 deps=[Dep(*x) for x in sorted(ident.consulted)])
def check(e, func):
    v = validity.check_entry(e, func, lambda dep, g: fresh.fresh(dep.module, dep.qualname, dep.code, g))
    assert v.ok, v
e = entry("f")
best = 1.0
for _ in range(7):
    t = time.perf_counter(); n = 2000
    for _ in range(n):
        check(e, m.f.py_func)
    best = min(best, (time.perf_counter() - t) / n)
ea, eb = entry("a"), entry("b")
t = time.perf_counter(); check(ea, m.a.py_func); first = time.perf_counter() - t
t = time.perf_counter(); check(ea, m.a.py_func); again = time.perf_counter() - t
t = time.perf_counter(); check(eb, m.b.py_func); frozen_first = time.perf_counter() - t
t = time.perf_counter(); check(eb, m.b.py_func); frozen_again = time.perf_counter() - t
print("PROBE " + json.dumps({{"scalar_check": best, "globals": len(e.values), "deps": len(e.deps),
                             "array_first": first, "array_again": again, "frozen_first": frozen_first,
                             "frozen_again": frozen_again, "array_bytes": m.BIG.nbytes}}))
'''


def section_globals(res: dict, array_mb: int = 256) -> None:
    """5. Checking one entry's observed inputs, and a global array (writeable, read-only)."""
    r = python_probe(GLOBALS_PROBE.format(array_mb=array_mb), "PROBE")
    res["globals_check"] = r
    print("\n### 5. Checking an entry's inputs at install (snapshot/image/validity.py), in-process\n")
    ok = r["scalar_check"] <= 20e-6
    table(["check of one entry (8 scalar globals + a jitted callee with 2)", "target",
           f"{array_mb} MiB writeable global array, each check", "read-only array: first check",
           "again (hashed once per process)", "hash rate"],
          [(f"{r['scalar_check'] * 1e6:.1f} us ({r['globals']} values, {r['deps']} code)",
            f"20 us {'ok' if ok else 'MISSED'}", f"{fmt_s(r['array_first'])} / {fmt_s(r['array_again'])}",
            fmt_s(r["frozen_first"]), f"{r['frozen_again'] * 1e6:.1f} us",
            f"{r['array_bytes'] / r['array_first'] / 1e9:.2f} GB/s")], "rrrrrr")


# --------------------------------------------------------------------------- 6. --base
EXTRA = '''\
"""%(m)d functions on top of synth%(n)d (an app built on a library's image: scripts/bench_release.py)."""
from numba import njit

import synth%(n)d
%(funcs)s
EXTRAS = [%(names)s]
'''


def write_extra(d: str, n: int, m: int) -> None:
    """``extra.py``: ``m`` new functions, each calling one of synth{n}'s; ``workload_full.py``
    runs synth{n}'s workload and then calls them."""
    funcs = "".join(f"\n\n@njit\ndef g_{i}(x):\n    return synth{n}.f_{i % n}(x) * 2 + {i}\n"
                    for i in range(m))
    with open(os.path.join(d, "extra.py"), "w") as f:
        f.write(EXTRA % {"n": n, "m": m, "funcs": funcs, "names": ", ".join(f"g_{i}" for i in range(m))})
    with open(os.path.join(d, "workload_full.py"), "w") as f:
        f.write(textwrap.dedent("""\
            import runpy
            runpy.run_path("workload.py")
            import extra
            print("extra: total", sum(g(3) for g in extra.EXTRAS))
            """))


def section_incremental(n: int, m: int, runs: int, tmp: str, res: dict) -> None:
    """`snap create --base` against a full build and against the JIT time of what the base lacks."""
    log(f"== 6. incremental build: synth{n} as the base, {m} new functions on top")
    d = res["synth"][n]["dir"]
    write_extra(d, n, m)
    base = res["synth"][n]["image"]
    steps = ("full", "base", "lacking", "cold")
    data: dict[str, list] = {s: [] for s in steps}
    for _, step in interleaved(runs, steps, alternate=True, indent="  "):
        if step == "full":
            data[step].append(snap_create("workload_full.py", os.path.join(tmp, "full.so"), d, tmp))
        elif step == "base":
            data[step].append(snap_create("workload_full.py", os.path.join(tmp, "inc.so"), d, tmp,
                                          ("--base", base)))
        else:          # the JIT compiling what the base lacks (the base serving), or everything
            env = clean_env(tmp, "jit-", **({"SNAP_SYSIMAGE": base} if step == "lacking" else {}))
            data[step].append({"wall": checked_run([PY, "workload_full.py"], env, d, 1800)[1]})
        log(f"    {step}: {data[step][-1]['wall']:.2f} s")
    res["incremental"] = data
    w = {s: med(x["wall"] for x in data[s]) for s in steps}
    print(f"\n### 6. Incremental build (`snap create --base`): synth{n} as the base, {m} new functions "
          f"(median of {runs} interleaved runs, empty NUMBA_CACHE_DIR each)\n")
    table(["build or run", "wall", "entries", "image size"],
          [("snap create (everything)", fmt_s(w["full"]), data["full"][0]["entries"],
            fmt_b(data["full"][0]["size"])),
           ("snap create --base (what the base lacks)", fmt_s(w["base"]), data["base"][0]["entries"],
            fmt_b(data["base"][0]["size"])),
           ("python workload_full.py, base image active (JIT: what it lacks)", fmt_s(w["lacking"]), "", ""),
           ("python workload_full.py (JIT: everything)", fmt_s(w["cold"]), "", "")])
    ratio = paired_ratio((x["wall"] for x in data["base"]), (x["wall"] for x in data["lacking"]))
    print(f"\n- --base vs full build: {w['base'] / w['full']:.2f}x the time")
    print(f"- **verdict (snap create --base <= 1.2 x the JIT time of what the base lacks): "
          f"{'ok' if ratio <= 1.2 else 'MISSED'}** — {ratio:.2f}x (per-round)")


# --------------------------------------------------------------------------- 7. CPU variants
STEADY = textwrap.dedent("""\
    import gc, json, sys, time
    import numpy as np
    sys.path.insert(0, %(dir)r)
    import kmeans
    import snapshot
    X, _ = kmeans.make_blobs(20000, 8, 6, 2.5, 2)
    C0 = kmeans.kmeans_pp_init(X, 8, 2)
    def fit():
        return kmeans.lloyd(X, C0.copy(), 100, 1e-6)
    def dists():
        return kmeans.pairwise_sq_dists(X, C0)
    out = {}
    for name, f in (("fit", fit), ("dists", dists)):
        f()                                  # first call: installs (or compiles), untimed
        gc.collect()                         # the JIT's compilation garbage is not timed
        gc.disable()
        ts = []
        for _ in range(%(reps)d):
            t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
        gc.enable()
        out[name] = sorted(ts)[len(ts) // 2]
    act = snapshot.active()
    out["variant"] = act[0].variant.target if act else None
    print("STEADY " + json.dumps(out))
    """)


def section_variants(runs: int, tmp: str, res: dict) -> None:
    """`snap create --cpu portable` against the best single level this machine has: build time,
    size, and the kmeans example's steady-state call times per variant."""
    from snapshot.image.host import LEVELS, host_cpu_features
    feats = host_cpu_features()
    levels = [lv for lv in ("x86-64-v2", "x86-64-v3", "x86-64-v4") if set(LEVELS[lv][1]) <= feats]
    single = levels[-1]
    log(f"== 7. CPU variants: --cpu portable vs --cpu {single} (the best level this machine has)")
    images = {"portable": os.path.join(tmp, "var-portable.so"), single: os.path.join(tmp, "var-single.so")}
    builds: dict[str, list] = {k: [] for k in images}
    for _, step in interleaved(runs, list(images), alternate=True, indent="  "):
        builds[step].append(snap_create("workload.py", images[step], KMEANS_DIR, tmp, ("--cpu", step)))
        log(f"    {step}: {builds[step][-1]['wall']:.2f} s")
    res["variants"] = {"builds": builds}
    w = {k: med(x["wall"] for x in v) for k, v in builds.items()}
    size = {k: builds[k][0]["size"] for k in images}
    steady: dict[str, list] = {}
    # one thread: the code's own speed, not the thread pool's scheduling on a shared machine
    one = {"NUMBA_NUM_THREADS": "1"}
    modes = [(f"image, SNAP_CPU={lv}", {**one, "SNAP_SYSIMAGE": images["portable"], "SNAP_CPU": lv})
             for lv in levels]
    modes += [(f"JIT at {lv}", {**one, "NUMBA_CPU_NAME": lv, "NUMBA_CPU_FEATURES": ""}) for lv in levels]
    modes += [("JIT, this host's CPU", one)]
    code = STEADY % {"dir": KMEANS_DIR, "reps": 15}
    for _, (label, env) in interleaved(runs, modes, indent="  "):
        steady.setdefault(label, []).append(
            python_probe(code, "STEADY", base_env(**env), KMEANS_DIR))
    res["variants"]["steady"] = steady
    print(f"\n### 7. CPU variants: the kmeans example, `--cpu portable` (x86-64-v2, v3, v4) vs "
          f"`--cpu {single}` (median of {runs} interleaved runs; call times: one thread, median of "
          f"15 calls per process)\n")
    table(["image", "build (wall)", "size"],
          [(f"--cpu {single}", fmt_s(w[single]), fmt_b(size[single])),
           ("--cpu portable", fmt_s(w["portable"]), fmt_b(size["portable"]))])
    print()
    table(["run", "variant served", "fit (lloyd, 20,000 points)", "pairwise distances"],
          [(label, rows[0].get("variant") or "(JIT)", fmt_s(med(r["fit"] for r in rows)),
            fmt_s(med(r["dists"] for r in rows))) for label, rows in steady.items()])
    build_ratio = paired_ratio((x["wall"] for x in builds["portable"]), (x["wall"] for x in builds[single]))
    size_ratio = size["portable"] / size[single]
    print(f"\n- **verdict (size <= 2.5 x a single-level image): {'ok' if size_ratio <= 2.5 else 'MISSED'}** "
          f"— {size_ratio:.2f}x")
    print(f"- **verdict (build <= 1.3 x a single-level build): {'ok' if build_ratio <= 1.3 else 'MISSED'}** "
          f"— {build_ratio:.2f}x (per-round)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="smaller run: N=10,100; 3 rounds; 1 build round; 1,4 workers")
    ap.add_argument("--sizes", help="comma-separated entry counts for section 1 (default 10,100,1000)")
    ap.add_argument("--runs", type=int, help="fresh-process rounds in section 1 (default 9)")
    ap.add_argument("--build-runs", type=int, help="rounds in section 2 (default 3)")
    ap.add_argument("--workers", help="comma-separated worker counts for section 4 (default 1,4,8)")
    ap.add_argument("--only", default="1,2,3,4,5,6,7", help="sections to run, e.g. 1,3 (default all)")
    ap.add_argument("--json", metavar="FILE", help="also write all measurements to FILE")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--baseline", metavar="DIR",
                    help="an earlier checkout of snap (e.g. `git worktree add DIR HEAD~1`): sections 1 "
                         "and 2 measure it too, interleaved, and print per-round ratios")
    ns = ap.parse_args()
    global BASELINE
    BASELINE = os.path.abspath(ns.baseline) if ns.baseline else None
    # every process runs with PYTHONDONTWRITEBYTECODE: snap's own bytecode is written once
    # here, or each would compile snap from source (and a baseline checkout has none at all)
    trees = [ROOT] + ([BASELINE] if BASELINE else [])
    checked_run([PY, "-m", "compileall", "-q", *(os.path.join(t, d) for t in trees for d in ("snapshot", "linker"))],
                {k: v for k, v in base_env().items() if k != "PYTHONDONTWRITEBYTECODE"}, ROOT)
    require_snap("bench_release.py")
    sizes = [int(x) for x in (ns.sizes or ("10,100" if ns.quick else "10,100,1000")).split(",")]
    runs = ns.runs or (3 if ns.quick else 9)
    build_runs = ns.build_runs or (1 if ns.quick else 3)
    workers = [int(x) for x in (ns.workers or ("1,4" if ns.quick else "1,4,8")).split(",")]
    only = {int(x) for x in ns.only.split(",")}
    if only & {2, 6} and 100 not in sizes:
        sizes = sorted(set(sizes) | {100})

    res: dict = {}
    t_start = time.perf_counter()
    load_before = os.getloadavg()
    with workspace("snap-bench-release-", ns.keep) as tmp:
        print(f"snap release benchmark (snap {snap_commit() or '?'}, {machine()}, load average "
              f"{load_before[0]:.1f} at start)")
        if 1 in only:
            section_activation(sizes, runs, tmp, res)
        elif only & {2, 3, 6}:
            # sections 2/3/6 without 1: still need the synthetic modules and their images
            res["synth"] = {}
            for n in sizes:
                log(f"  synthetic N={n}: snap create ...")
                d = write_synth(tmp, n)
                b = snap_create("workload.py", os.path.join(tmp, f"synth{n}.so"), d, tmp)
                res["synth"][n] = {"dir": d, "image": os.path.join(tmp, f"synth{n}.so"), "build": b}
        kmeans_image = os.path.join(tmp, "build-kmeans.so")
        if 2 in only:
            section_build([("kmeans example", KMEANS_DIR), ("synthetic N=100", res["synth"][100]["dir"])],
                          build_runs, tmp, res)
        if not os.path.exists(kmeans_image) and only & {3, 4}:
            log("  building the kmeans image ...")
            snap_create("workload.py", kmeans_image, KMEANS_DIR, tmp)
        cache_dir = None
        if 3 in only:
            items = [("kmeans example", KMEANS_DIR, kmeans_image, "KMEANS_NUMBA_CACHE")]
            items += [(f"synthetic N={n}", s["dir"], s["image"], "SYNTH_NUMBA_CACHE")
                      for n, s in sorted(res["synth"].items())]
            cache_dir = section_size(items, tmp, res)["kmeans example"]
        if 4 in only:
            if cache_dir is None:
                _, cache_dir = cold_run("workload.py", KMEANS_DIR, tmp, {"KMEANS_NUMBA_CACHE": "1"})
            section_pss(workers, kmeans_image, cache_dir, tmp, res)
        if 5 in only:
            section_globals(res)
        if 6 in only:
            section_incremental(100, 100, build_runs, tmp, res)
        if 7 in only:
            section_variants(build_runs, tmp, res)
        load_after = os.getloadavg()
        print(f"\n(total {time.perf_counter() - t_start:.0f} s; load average {load_before[0]:.1f} "
              f"before / {load_after[0]:.1f} after)")
        write_json(ns.json, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
