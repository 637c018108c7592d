#!/usr/bin/env python3
"""The supported-releases matrix (issue 27): every (CPython, numba) pair, served and identical.

For each pair this makes (or reuses) a virtualenv under .matrix/ (``cp311-numba0.63``, ...)
with that CPython, that numba release (each minor's latest patch) and snap installed from
this tree in editable mode, then runs the smoke there with pytest:

* tests/test_example_smoke.py: the k-means example, from an image with Numba's compiler
  forbidden and SNAP_STRICT=1, bit-identical to the plain JIT;
* tests/test_libraries.py for numba-stats, numbagg and sparse: real libraries' workloads,
  >= 98% of what they compiled served, compilation forbidden, the same arrays;
* tests/test_bitwise.py (small set): generated kernels, 0 differing outputs.

It prints a table (and --markdown writes the table for docs/matrix.md) and exits non-zero if
a pair failed. Results are kept in .matrix/results.json (one entry per pair, with the date),
so a run can be split: ``--python 3.11 --numba 0.63``; ``--table`` prints what is recorded.

    python3 scripts/matrix.py                              # all 24 pairs (hours on 2 cores)
    python3 scripts/matrix.py --python 3.11 --numba 0.63 0.68
    python3 scripts/matrix.py --table --markdown docs/matrix.md
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("SNAP_MATRIX_DIR", ROOT / ".matrix"))
RESULTS = CACHE / "results.json"

PYTHONS = ("3.10", "3.11", "3.12", "3.13")
# each supported minor's latest patch release (snapshot/numba_seam/releases.py: SUPPORTED)
NUMBAS = {"0.63": "0.63.1", "0.64": "0.64.0", "0.65": "0.65.1", "0.66": "0.66.0",
          "0.67": "0.67.0", "0.68": "0.68.1"}
# what the smoke imports besides snap (the libraries of tests/test_libraries.py it runs)
SMOKE_DEPS = ("pytest>=7", "scipy>=1.10", "numba-stats>=1.4", "numbagg>=0.8", "sparse>=0.15")
SMOKE = ("tests/test_example_smoke.py",
         "tests/test_libraries.py::test_library_served_from_image[numba-stats]",
         "tests/test_libraries.py::test_library_served_from_image[numbagg]",
         "tests/test_libraries.py::test_library_served_from_image[sparse]",
         "tests/test_bitwise.py::test_image_matches_jit_bitwise")
# --quick (the default test suite on the oldest Numba, tests/test_numba_releases.py): the
# k-means example alone, in a venv with nothing but snap, that Numba and pytest (~1.5 min)
QUICK_DEPS = ("pytest>=7",)
QUICK = ("tests/test_example_smoke.py",)


def find_python(version: str) -> str | None:
    """An interpreter for CPython ``version`` that runs: pyenv's newest X.Y.*, else pythonX.Y
    on PATH (pyenv's shims are on PATH too, and fail where no pyenv version selects X.Y)."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted((p for p in root.glob(f"{version}.*") if re.fullmatch(rf"{re.escape(version)}\.\d+", p.name)),
                   key=lambda p: int(p.name.rsplit(".", 1)[1]))
    candidates = [str(p / "bin" / "python") for p in reversed(found)] + [shutil.which(f"python{version}") or ""]
    if version == "%d.%d" % sys.version_info[:2]:       # this interpreter (a venv's base one)
        candidates.append(getattr(sys, "_base_executable", None) or sys.executable)
    for exe in candidates:
        if exe and subprocess.run([exe, "-c", "import venv"], capture_output=True).returncode == 0:
            return exe
    return None


def venv_dir(py: str, nb: str) -> Path:
    return CACHE / f"cp{py.replace('.', '')}-numba{nb}"


def ensure_venv(py: str, nb: str, log, quick: bool = False) -> Path:
    """The pair's virtualenv, created and installed once (kept: later runs reuse it; a venv
    made for ``--quick`` gets the libraries of the full smoke when a full run needs them)."""
    d = venv_dir(py, nb)
    python = d / "bin" / "python"
    stamp = d / ".snap-matrix-ok"
    if stamp.exists():
        full = d / ".snap-matrix-full"
        if not quick and not full.exists():
            subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                            *SMOKE_DEPS], check=True, stdout=log, stderr=log)
            full.write_text("")
        return python
    exe = find_python(py)
    if exe is None:
        raise RuntimeError(f"no CPython {py} on this machine")
    shutil.rmtree(d, ignore_errors=True)
    subprocess.run([exe, "-m", "venv", str(d)], check=True, stdout=log, stderr=log)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    f"numba=={NUMBAS[nb]}", "-e", str(ROOT), *(QUICK_DEPS if quick else SMOKE_DEPS)],
                   check=True, stdout=log, stderr=log)
    stamp.write_text(NUMBAS[nb] + "\n")
    if not quick:
        (d / ".snap-matrix-full").write_text("")
    return python


def run_pair(py: str, nb: str, quick: bool = False) -> dict:
    CACHE.mkdir(parents=True, exist_ok=True)
    logpath = CACHE / f"cp{py.replace('.', '')}-numba{nb}.log"
    t0 = time.time()
    with open(logpath, "w") as log:
        try:
            python = ensure_venv(py, nb, log, quick)
        except (RuntimeError, subprocess.CalledProcessError) as e:
            return {"status": "setup failed", "detail": str(e), "seconds": round(time.time() - t0)}
        versions = subprocess.run(
            [str(python), "-c", "import sys, numba, llvmlite, numpy; "
             "print(sys.version.split()[0], numba.__version__, llvmlite.__version__, numpy.__version__)"],
            capture_output=True, text=True).stdout.split()
        t1 = time.time()
        log.flush()
        p = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=0",
                            *(QUICK if quick else SMOKE)],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        log.write(p.stdout)
    summary = (p.stdout.strip().splitlines() or [""])[-1].strip("= ")
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|error|errors|skipped)", summary)}
    ok = p.returncode == 0 and counts.get("passed", 0) == len(QUICK if quick else SMOKE)
    return {"status": "green" if ok else "FAILED", "python": versions[0] if versions else py,
            "numba": versions[1] if len(versions) > 1 else NUMBAS[nb],
            "llvmlite": versions[2] if len(versions) > 2 else "?",
            "numpy": versions[3] if len(versions) > 3 else "?",
            "tests": summary, "seconds": round(time.time() - t1), "log": str(logpath.relative_to(ROOT))
            if logpath.is_relative_to(ROOT) else str(logpath)}


def load() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {}


def table(results: dict, markdown: bool) -> str:
    rows = [("CPython", "numba", "llvmlite", "numpy", "result", "smoke tests", "smoke s", "date")]
    for py in PYTHONS:
        for nb in NUMBAS:
            r = results.get(f"{py}/{nb}")
            if r is None:
                rows.append((py, NUMBAS[nb], "", "", "not run", "", "", ""))
            else:
                rows.append((r.get("python", py), r.get("numba", NUMBAS[nb]), r.get("llvmlite", ""),
                             r.get("numpy", ""), r["status"], r.get("tests", r.get("detail", "")),
                             str(r.get("seconds", "")), r.get("date", "")))
    if markdown:
        out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        return "\n".join(out)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--python", nargs="+", default=list(PYTHONS), choices=PYTHONS)
    ap.add_argument("--numba", nargs="+", default=list(NUMBAS), choices=list(NUMBAS))
    ap.add_argument("--quick", action="store_true",
                    help="the k-means example alone (not recorded in the results)")
    ap.add_argument("--table", action="store_true", help="print the recorded results, run nothing")
    ap.add_argument("--markdown", metavar="FILE", help="write the table into FILE between the matrix markers")
    ns = ap.parse_args(argv)
    results = load()
    failed = False
    if not ns.table:
        for py in ns.python:
            for nb in ns.numba:
                print(f"matrix: CPython {py}, numba {NUMBAS[nb]} ...", flush=True)
                r = run_pair(py, nb, ns.quick)
                r["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
                if not ns.quick:
                    results[f"{py}/{nb}"] = r
                failed |= r["status"] != "green"
                print(f"matrix: CPython {py}, numba {NUMBAS[nb]}: {r['status']} "
                      f"({r.get('tests', r.get('detail', ''))}, {r.get('seconds')} s)", flush=True)
                if not ns.quick:
                    RESULTS.parent.mkdir(parents=True, exist_ok=True)
                    RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True))
    print(table(results, markdown=False))
    if ns.markdown:
        path = Path(ns.markdown)
        text = path.read_text() if path.exists() else ""
        begin, end = "<!-- matrix:begin -->", "<!-- matrix:end -->"
        block = f"{begin}\n{table(results, markdown=True)}\n{end}"
        if begin in text and end in text:
            text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
        else:
            text += ("\n" if text else "") + block + "\n"
        path.write_text(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
