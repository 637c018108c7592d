"""Test hook of the library workloads: with SNAPTEST_RESULTS=path.npz, save what main() returned.

The reference results come from the `snap create` trace run (plain JIT); the
image run saves its own, and tests/test_libraries.py compares the two.
"""
from __future__ import annotations

import os

import numpy as np


def save(out: dict) -> None:
    path = os.environ.get("SNAPTEST_RESULTS")
    if path:
        np.savez(path, **{k: np.asarray(v) for k, v in out.items()})


def show(out: dict) -> dict:
    """Print each result's shape and a checksum of its finite values (what a reader of the
    run compares at a glance); returns ``out``."""
    for name in sorted(out):
        v = np.asarray(out[name], dtype=np.float64)
        print(f"{name}: shape={v.shape} checksum={np.round(float(np.nansum(v[np.isfinite(v)])), 5)}")
    return out
