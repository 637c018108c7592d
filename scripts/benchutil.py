"""The one harness of the benchmarks under scripts/ (bench_ttfx, bench_release, bench_fleet, bench_link).

What they all need and must do the same way, so that their numbers mean the same
thing: a clean environment for every child (nothing inherited can select an image,
Numba's cache or a program's cache switch), fresh processes that fail loudly
(a refused image or a stale entry would make a timing meaningless), images built
with ``snap create`` as a user builds them, interleaved rounds (every round sees
about the same machine load), medians and per-round ratios, one markdown table
format, the provenance line and the JSON output.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Iterable, Iterator, Sequence, TypeVar

T = TypeVar("T")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
BIN = os.path.dirname(PY)
SNAP = os.path.join(BIN, "snap")

# Variables the benchmarks' programs read to select Numba's cache=True (examples/kmeans,
# the generated micro/synthetic/fleet modules, numbagg) or an image (the release probe).
# A child must only see them when its mode sets them.
PROGRAM_SWITCHES = ("KMEANS_NUMBA_CACHE", "MICRO_NUMBA_CACHE", "SYNTH_NUMBA_CACHE",
                    "FLEET_NUMBA_CACHE", "NUMBAGG_CACHE", "BENCH_IMAGE")

# Child-side code (pasted into the programs the benchmarks write): the image serving this
# process, or None. The children that only ask this name snap's runtime here; the others
# that reach into snapshot (bench_release's probes, bench_fleet's Dask plugin) say so at
# the import.
ACTIVE_IMAGE = '''\
def active_image():
    """The image this process runs from (the first of snapshot.runtime.active()), or None."""
    import sys
    rt = sys.modules.get("snapshot.runtime")
    images = rt.active() if rt is not None else []
    return images[0] if images else None
'''


def require_snap(script: str) -> None:
    """Stop early, with the fix, when run by an interpreter without the `snap` command."""
    if not os.path.exists(SNAP):
        raise SystemExit(f"{SNAP} not found: run this with the interpreter of the virtualenv snap is "
                         f"installed in (e.g. .venv/bin/python scripts/{script})")


def log(msg: str) -> None:
    """Progress goes to stderr: stdout holds only the results (tables, verdicts)."""
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- environment
def base_env(**set_: str) -> dict[str, str]:
    """This environment without snap/Numba settings, the programs' switches and PYTHONPATH,
    bytecode writing off (a .pyc written by one mode would speed up the next), plus ``set_``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SNAP_", "NUMBA_")) and k not in ("PYTHONPATH", *PROGRAM_SWITCHES)}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(set_)
    return env


def fresh_dir(tmp: str, prefix: str) -> str:
    """A new empty directory under ``tmp`` (a cold NUMBA_CACHE_DIR, a scratch directory)."""
    return tempfile.mkdtemp(prefix=prefix, dir=tmp)


def clean_env(tmp: str, prefix: str = "numba-cache-", **set_: str) -> dict[str, str]:
    """``base_env`` with an empty NUMBA_CACHE_DIR of its own: a cold JIT unless ``set_`` says
    otherwise (nothing a previous run cached can leak into this one)."""
    return base_env(NUMBA_CACHE_DIR=fresh_dir(tmp, prefix), **set_)


def with_image(cmd: list[str], env: dict[str, str], image: str | None, via: str = "env",
               strict: bool = False) -> tuple[list[str], dict[str, str]]:
    """``cmd`` (``[python, script, args...]``) started from ``image`` the way a user does it:
    ``via="run"``: ``snap run [--strict] --sysimage IMAGE script args``; ``via="env"``:
    ``SNAP_SYSIMAGE=IMAGE`` (and ``SNAP_STRICT=1``), the same command line. No image: as is."""
    if image is None:
        return cmd, env
    if via == "run":
        return [SNAP, "run", *(["--strict"] if strict else []), "--sysimage", image, *cmd[1:]], env
    env = {**env, "SNAP_SYSIMAGE": image}
    if strict:
        env["SNAP_STRICT"] = "1"
    return cmd, env


# --------------------------------------------------------------------------- processes
def checked_run(cmd: list[str], env: dict[str, str] | None, cwd: str | None,
                timeout: float | None = None) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run a fresh process; return (launch epoch, wall seconds, result). Fails loudly on a
    non-zero exit or a snap warning (a refused image or a stale entry would make the numbers
    meaningless)."""
    launch, t0 = time.time(), time.perf_counter()
    p = subprocess.run(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    if p.returncode != 0 or "SnapWarning" in p.stderr:
        raise SystemExit(f"command {'failed (%d)' % p.returncode if p.returncode else 'warned'}: "
                         f"{' '.join(cmd)} (cwd {cwd})\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}")
    return launch, wall, p


def tagged(out: str, tag: str) -> dict:
    """The JSON of the first ``TAG {...}`` line a child printed (children report this way so
    that their own output, warnings included, can stand around it)."""
    for line in out.splitlines():
        if line.startswith(tag + " "):
            return json.loads(line[len(tag) + 1:])
    raise SystemExit(f"no {tag} line in output:\n{out[-4000:]}")


def python_probe(code: str, tag: str, env: dict[str, str] | None = None, cwd: str | None = None) -> dict:
    """Run ``code`` in a fresh interpreter (``python -c``) and return what it printed as ``tag``."""
    _, _, p = checked_run([PY, "-c", code], env if env is not None else base_env(), cwd)
    return tagged(p.stdout, tag)


def snap_create(workload: str, output: str, cwd: str, env: dict[str, str], quiet: bool = False,
                timeout: float = 1800, extra: Sequence[str] = ()) -> tuple[float, str]:
    """Build ``output`` from ``workload`` with the `snap` command, as a user does (give it a
    ``clean_env``; ``extra``: more options, e.g. ``--base``); return (wall seconds, stdout +
    stderr: the summary line unless ``quiet``)."""
    _, wall, p = checked_run([SNAP, "create", *(["-q"] if quiet else []), "--workload", workload,
                              "--output", output, *extra], env, cwd, timeout)
    return wall, p.stdout + p.stderr


def cache_files(cache_dir: str) -> tuple[int, int]:
    """(bytes, files) of a populated NUMBA_CACHE_DIR."""
    total = files = 0
    for d, _, fs in os.walk(cache_dir):
        for f in fs:
            total += os.path.getsize(os.path.join(d, f))
            files += 1
    return total, files


@contextlib.contextmanager
def workspace(prefix: str, keep: bool = False) -> Iterator[str]:
    """A temporary directory for images, caches and generated programs; removed at the end
    unless ``keep`` (then its path is logged, to look at what ran)."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    try:
        yield tmp
    finally:
        if keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def interleaved(runs: int, steps: Sequence[T], alternate: bool = False,
                indent: str = "") -> Iterator[tuple[int, T]]:
    """(round, step) for ``runs`` rounds of every step: interleaved, so that slow drifts of the
    machine's load hit every step alike (compare medians and per-round ratios). With
    ``alternate`` odd rounds run the steps in reverse, so no step always runs right after
    another (warm page cache, a CPU still busy with the previous process)."""
    for r in range(runs):
        log(f"{indent}round {r + 1}/{runs}")
        yield from ((r, s) for s in (reversed(steps) if alternate and r % 2 else steps))


# --------------------------------------------------------------------------- statistics
def med(xs: Iterable[float]) -> float:
    return statistics.median(list(xs))


def med_of(rows: Iterable[dict], key: str) -> float:
    """Median of one measurement over a mode's runs."""
    return statistics.median(r[key] for r in rows)


def paired_ratio(xs: Iterable[float], ys: Iterable[float]) -> float:
    """Median of the per-round ratios x/y: rounds are interleaved, so round i of both saw
    about the same load; less sensitive to load drifting over the run than med(x)/med(y)."""
    return statistics.median(x / y for x, y in zip(xs, ys))


# --------------------------------------------------------------------------- output
def fmt_s(x: float, ms_digits: int = 2, us: bool = True) -> str:
    """Seconds for a table: µs below 1 ms (``us``), ms below 1 s, else s."""
    if us and abs(x) < 1e-3:
        return f"{x * 1e6:.0f} us"
    return f"{x * 1000:.{ms_digits}f} ms" if abs(x) < 1 else f"{x:.2f} s"


def fmt_b(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: str = "") -> None:
    """Print a markdown table (the format docs/benchmarks.md takes them in). ``align`` has a
    letter per column, ``l`` or ``r`` (default: the first column left, the others right)."""
    align = align or "l" + "r" * (len(header) - 1)
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if a == "l" else "--:" for a in align) + "|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")


def snap_commit() -> str:
    """The checkout's short commit, ``+changes`` if snapshot/ or linker/ differ from it ('' if
    not a git checkout): a result says which code it measured."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", ROOT, *args], text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL).stdout.strip()
    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", "snapshot", "linker")
    except OSError:
        return ""
    return commit + ("+changes" if commit and dirty else "")


def machine() -> str:
    """numba and Python versions and the CPU count, for the heading of a result."""
    import numba
    return f"numba {numba.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"


def write_json(path: str | None, doc: Any) -> None:
    """All measurements to ``path`` (``--json FILE``), if given."""
    if path:
        with open(path, "w") as f:
            json.dump(doc, f, indent=1, default=str)
