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
