"""Start-up of a served process next to its floors (issue 28): what a start from an image pays.

Run with the virtualenv's interpreter (the one snap is installed in):

    .venv/bin/python scripts/bench_start.py [--runs 15] [--libraries numba_stats,numbagg]
                                            [--baseline DIR]

Side by side in one run, fresh processes interleaved round by round (medians, and
the median of per-round ratios), every one with snap's and Numba's bytecode already
compiled (what an installed wheel has; ``PYTHONDONTWRITEBYTECODE`` stays set so no
mode writes any for the next):

  numpy          python -c "import numpy"                  launch -> exit
  numba          python -c "import numba"                  launch -> exit (Numba's full import)
  served         SNAP_SYSIMAGE=IMG python app.py           launch -> first result
  served, all    the same with SNAP_NO_DEFER=1             what numba imports at start-up
                 imported at once                           loaded at once (as before issue 28)
  baseline       --baseline DIR: served by an earlier checkout of snap (its code first on
                 PYTHONPATH, e.g. ``git worktree add /tmp/base HEAD~3``)

for the k-means example and, with ``--libraries``, the real-library workloads of
tests/workloads (image built once, each started from it and running main() once).
Then what a served k-means process still has loaded and why: modules by package and
by role (what serving uses, what only a compilation runs), the deferred ones left
unexecuted, the import chains that cost the most (from ``-X importtime``, minimum
over runs of each module's own time), and the ceiling: the served start without any
module only a compilation runs, the most deferring imports could still gain.

Nothing is asserted; a busy machine inflates everything (the load average is printed).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_ttfx import (LIBRARIES, Program, lib_programs, make_programs, parse,  # noqa: E402
                        prepare, spawn)
from benchutil import (PY, ROOT, base_env, checked_run, clean_env, fmt_s, interleaved, log,  # noqa: E402
                       machine, med, paired_ratio, require_snap, snap_commit, table, with_image,
                       workspace, write_json)

MODES = ["numpy", "numba", "served", "served_all", "baseline"]
LABELS = {"numpy": 'python -c "import numpy"', "numba": 'python -c "import numba"',
          "served": "served (SNAP_SYSIMAGE)", "served_all": "served, SNAP_NO_DEFER=1",
          "baseline": "served by the baseline checkout"}


def compile_bytecode(*dirs: str) -> None:
    """Bytecode for snap's own modules (site-packages has Numba's since its install): without
    it an editable install under PYTHONDONTWRITEBYTECODE compiles snap's source in every
    process (~65 ms of a ~0.3 s start, measured), which no installed wheel does."""
    for d in dirs:
        subprocess.run([PY, "-m", "compileall", "-q", os.path.join(d, "snapshot"), os.path.join(d, "linker")],
                       check=True, stdout=subprocess.DEVNULL)


def run_mode(prog: Program, mode: str, tmp: str, baseline: str | None) -> dict:
    if mode in ("numpy", "numba"):
        launch, wall, _ = checked_run([PY, "-c", f"import {mode}"], base_env(), tmp)
        return {"ttfx": wall}
    env = clean_env(tmp, "start-")
    if mode == "served_all":
        env["SNAP_NO_DEFER"] = "1"
    if mode == "baseline":
        env["PYTHONPATH"] = baseline or ""
    cmd, env = with_image([PY, prog.app, "--timing-json"], env, prog.image, via="env")
    launch, out = spawn(cmd, env, prog.dir)
    t, results = parse(out)
    if t.get("activation_s", 1) is None:
        raise SystemExit(f"{prog.name}: the image was not used in mode {mode}:\n{out}")
    return {"ttfx": t["first_result_epoch"] - launch, "import_numba": t["import_numba_s"],
            "results": results}


LOADED_PROBE = r"""
import sys, runpy
sys.argv = ["app.py"]
import io, contextlib
with contextlib.redirect_stdout(io.StringIO()):
    runpy.run_path("app.py", run_name="__main__")
from snapshot.numba_seam.deferred import pending
groups = {}
for name in sys.modules:
    top = name.split(".")[0]
    key = ".".join(name.split(".")[:2]) if top in ("numba", "llvmlite") else top
    groups[key] = groups.get(key, 0) + 1
print("LOADED", len(sys.modules), sorted(groups.items(), key=lambda kv: -kv[1])[:25])
print("PENDING", pending())
from snapshot.numba_seam import deferred_lowering
print("LOWERING", "numba.np.npyimpl" not in sys.modules and deferred_lowering.pending())
"""


# Modules whose code only a compilation runs: Numba's pipeline, lowering and code generation,
# its typing and lowering declarations, parfors and stencils, LLVM through llvmlite. A served
# process still executes them because Numba's own modules import each other at module level
# (decorators -> stencil -> registry -> dispatcher -> compiler; np.ufunc -> parallel -> wrappers ->
# caching -> base -> llvmlite.binding; dispatcher's default ``pipeline_class=compiler.Compiler``;
# registry's ``options = cpu.CPUTargetOptions``...). Counting all of them as removable is the
# most optimistic bound on what deferring imports could still save (datamodel and llvmlite.ir
# are included although ``numba.core.types`` registers data models at import).
COMPILE_ONLY = (
    "llvmlite.binding", "llvmlite.ir", "numba.parfors", "numba.stencils", "numba.cpython",
    "numba.core.datamodel", "numba.core.rewrites", "numba.core.unsafe",
    *(f"numba.core.{m}" for m in (
        "compiler", "compiler_machinery", "untyped_passes", "typed_passes", "object_mode_passes",
        "lowering", "pylowering", "interpreter", "byteflow", "ir", "ir_utils", "analysis",
        "controlflow", "dataflow", "ssa", "postproc", "consts", "transforms", "withcontexts",
        "inline_closurecall", "typeinfer", "annotations", "generators", "funcdesc", "callconv",
        "pythonapi", "cgutils", "debuginfo", "base", "cpu", "codegen", "llvm_bindings",
        "callwrapper", "externals", "intrinsics", "optional", "boxing", "imputils", "environment",
        "fastmathpass", "removerefctpass", "caching", "tracing", "targetconfig",
        "runtime.nrtopt", "runtime.nrtdynmod")),
    *(f"numba.core.typing.{m}" for m in (
        "builtins", "npydecl", "arraydecl", "mathdecl", "cmathdecl", "listdecl", "setdecl",
        "dictdecl", "enumdecl", "collections", "cffi_utils", "ctypes_utils", "randomdecl",
        "npdatetime")),
    *(f"numba.np.{m}" for m in (
        "arrayobj", "npyimpl", "ufunc_db", "npyfuncs", "math", "npdatetime", "linalg", "arraymath",
        "polynomial", "random", "unsafe", "ufunc.wrappers", "ufunc.array_exprs")),
    *(f"numba.misc.{m}" for m in (
        "llvm_pass_timings", "inspection", "firstlinefinder", "coverage_support", "quicksort",
        "mergesort", "cffiimpl")),
    "numba.experimental.jitclass.overloads",
)


def role(module: str) -> str:
    """What a served process loads a module for (the rows of the ceiling table)."""
    top = module.split(".")[0]
    if any(module == p or module.startswith(p + ".") for p in COMPILE_ONLY):
        return "Numba: only a compilation runs it (compiler, lowering, declarations, LLVM)"
    if top in ("numba", "llvmlite"):
        return "Numba: what serving uses (types, typeof, dispatchers, registry, typed, NRT)"
    if top == "numpy":
        return "NumPy (the program imports it)"
    if top in ("snapshot", "linker"):
        return "snap"
    return "the standard library, the program and the rest"


def loaded_report(prog: Program, tmp: str, runs: int) -> int:
    """What a served k-means process has loaded, and which import chains cost the most; returns
    the own import time (us) of the modules only a compilation runs."""
    env = clean_env(tmp, "probe-", SNAP_SYSIMAGE=prog.image)
    _, _, p = checked_run([PY, "-c", LOADED_PROBE], env, prog.dir)
    lines = {ln.split(" ", 1)[0]: ln.split(" ", 1)[1] for ln in p.stdout.splitlines() if " " in ln}
    print(f"\nA served k-means process after its first result: {lines.get('LOADED', '?')}")
    print(f"Deferred by snap and never executed: {lines.get('PENDING', '?')}; a DUFunc's lowering "
          f"(numba.np.npyimpl) deferred and never imported: {lines.get('LOWERING', '?')}")
    own: dict[str, int] = {}
    tree: list[tuple[int, str]] = []
    for i in range(min(runs, 7)):
        proc = subprocess.run([PY, "-X", "importtime", prog.app], env=env, cwd=prog.dir,
                              capture_output=True, text=True, check=True)
        for ln in proc.stderr.splitlines():
            m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( +)(\S+)", ln)
            if m:
                own[m.group(4)] = min(own.get(m.group(4), 10**9), int(m.group(1)))
                if i == 0:
                    tree.append(((len(m.group(3)) - 1) // 2, m.group(4)))
    # cumulative of each module = its own time + that of everything imported under it
    cum: dict[str, int] = {}
    stack: list[tuple[int, str]] = []
    for depth, name in tree:          # importtime prints children before their parent
        total = own[name]
        while stack and stack[-1][0] > depth:
            total += cum[stack.pop()[1]]
        cum[name] = total
        stack.append((depth, name))
    by_group: Counter[str] = Counter()
    for name, us in own.items():
        top = name.split(".")[0]
        by_group[".".join(name.split(".")[:2]) if top in ("numba", "llvmlite", "snapshot") else top] += us
    print(f"\nOwn import time by package (minimum of {min(runs, 7)} runs, sum {sum(own.values()) / 1000:.0f} ms):\n")
    table(["package", "ms"], [(k, f"{v / 1000:.1f}") for k, v in by_group.most_common(20)])
    by_role: Counter[str] = Counter()
    for name, us in own.items():
        by_role[role(name)] += us
    print("\nThe same time by what the module is there for (own ms; the first row is the most "
          "any deferral of imports could still remove):\n")
    table(["role", "ms"], [(k, f"{v / 1000:.1f}") for k, v in by_role.most_common()])
    print("\nThe costliest import chains (cumulative ms, depth <= 4):\n")
    rows = [(f"{'  ' * d}{n}", f"{cum[n] / 1000:.1f}") for d, n in tree if d <= 4 and cum[n] >= 4000]
    table(["module (indented: imported by the one below it)", "ms"], rows)
    return sum(us for name, us in own.items() if role(name) == role("numba.core.compiler"))


def ceiling(prog: Program, data: dict, removable_us: int, modes: list[str]) -> None:
    """The most a served start could gain from deferring imports: its time without any of
    the modules only a compilation runs (their own time under ``-X importtime``, which
    over-states it: an optimistic bound)."""
    d = data[prog.name]
    served = med(r["ttfx"] for r in d["served"])
    best = served - removable_us / 1e6
    refs = [("served, SNAP_NO_DEFER=1", "served_all")] + \
        ([("the baseline checkout", "baseline")] if "baseline" in modes else [])
    ratios = ", ".join(f"{best / med(r['ttfx'] for r in d[m]):.2f}x of {label}" for label, m in refs)
    print(f"\nCeiling for {prog.name}: served {fmt_s(served)} minus {removable_us / 1000:.0f} ms of "
          f"modules only a compilation runs = {fmt_s(best)} at best, {ratios}, if no module of "
          "Numba's compiler, lowering, declarations or LLVM were executed at all.")


def report(progs: list[Program], data: dict, runs: int, modes: list[str]) -> None:
    print(f"\nFresh-process start, median of {runs} interleaved rounds ({snap_commit() or 'snap'}, "
          f"{machine()}, load average {os.getloadavg()[0]:.1f}):\n")
    d0 = data[progs[0].name]
    numpy_s, numba_s = med(r["ttfx"] for r in d0["numpy"]), med(r["ttfx"] for r in d0["numba"])
    print(f"- python -c \"import numpy\": {fmt_s(numpy_s)}; python -c \"import numba\": {fmt_s(numba_s)}\n")
    rows = []
    for prog in progs:
        d = data[prog.name]
        row = [prog.name]
        for m in ("served", "served_all", "baseline"):
            if m in modes:
                rows_m = d[m]
                row.append(f"{fmt_s(med(r['ttfx'] for r in rows_m))} (numba {fmt_s(med(r['import_numba'] for r in rows_m))})")
        ratio_all = paired_ratio((r["ttfx"] for r in d["served"]), (r["ttfx"] for r in d["served_all"]))
        row.append(f"{ratio_all:.2f}")
        if "baseline" in modes:
            row.append(f"{paired_ratio((r['ttfx'] for r in d['served']), (r['ttfx'] for r in d['baseline'])):.2f}")
        results = [r["results"] for m in ("served", "served_all", "baseline") if m in modes for r in d[m]]
        row.append("yes" if all(r == results[0] for r in results) else "NO")
        rows.append(row)
    head = ["program", "served: time to first result", "served, SNAP_NO_DEFER=1"]
    if "baseline" in modes:
        head.append("baseline checkout")
    head.append("served / no-defer")
    if "baseline" in modes:
        head.append("served / baseline")
    head.append("results identical")
    table(head, rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", "-n", type=int, default=15, help="rounds (default 15)")
    ap.add_argument("--libraries", metavar="LIST", default="",
                    help=f"also these workloads, comma-separated from {','.join(LIBRARIES)} or 'all'")
    ap.add_argument("--baseline", metavar="DIR", help="an earlier checkout of snap, served side by side")
    ap.add_argument("--json", metavar="FILE", help="also write all measurements to FILE")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ns = ap.parse_args()
    require_snap("bench_start.py")
    names = LIBRARIES if ns.libraries == "all" else [x for x in ns.libraries.split(",") if x]
    if set(names) - set(LIBRARIES):
        raise SystemExit(f"unknown libraries: {', '.join(sorted(set(names) - set(LIBRARIES)))}")
    baseline = os.path.abspath(ns.baseline) if ns.baseline else None
    modes = [m for m in MODES if m != "baseline" or baseline]
    compile_bytecode(ROOT, *([baseline] if baseline else []))
    with workspace("snap-start-", ns.keep) as tmp:
        progs = make_programs(tmp, "kmeans") + lib_programs(tmp, names)
        log("building images")
        for prog in progs:
            prepare(prog, tmp)
        steps = [(progs[0], m) for m in ("numpy", "numba")] + \
                [(p, m) for p in progs for m in modes if m not in ("numpy", "numba")]
        data: dict[str, dict[str, list[dict]]] = {}
        for prog, mode in steps:
            data.setdefault(prog.name, {}).setdefault(mode, [])
        for _, (prog, mode) in interleaved(ns.runs, steps):
            data[prog.name][mode].append(run_mode(prog, mode, tmp, baseline))
        report(progs, data, ns.runs, modes)
        ceiling(progs[0], data, loaded_report(progs[0], tmp, ns.runs), modes)
        write_json(ns.json, {"runs": ns.runs, "data": {
            p: {m: [{k: v for k, v in r.items() if k != "results"} for r in rs] for m, rs in d.items()}
            for p, d in data.items()}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
