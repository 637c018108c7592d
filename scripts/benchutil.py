"""Plumbing shared by the benchmarks: paths, a clean environment, checked fresh processes."""
from __future__ import annotations

import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
SNAP = os.path.join(BIN, "snap")


def require_snap(script: str) -> None:
    if not os.path.exists(SNAP):
        raise SystemExit(f"{SNAP} not found: run this with the interpreter of the virtualenv snap is "
                         f"installed in (e.g. .venv/bin/python scripts/{script})")


def base_env(drop: tuple[str, ...] = ()) -> dict[str, str]:
    """This environment without snap/Numba settings (and ``drop``), bytecode writing off."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SNAP_", "NUMBA_")) and k not in ("PYTHONPATH", *drop)}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def checked_run(cmd: list[str], env: dict[str, str], cwd: str,
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
