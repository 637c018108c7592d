"""Thousands of mutations of a real image, activated in subprocesses: zero crashes."""
from __future__ import annotations

import sys

import pytest

from conftest import APPS, clean_env, run

BATCHES = 4
PER_BATCH = 500


@pytest.mark.parametrize("seed", range(BATCHES))
def test_mutated_images_are_refused_or_usable_never_a_crash(kinds_image, tmp_path, seed):
    p = run([sys.executable, str(APPS / "fuzz_images.py"), str(kinds_image), str(PER_BATCH), str(seed),
             str(tmp_path)], env=clean_env(), timeout=600)
    assert p.returncode == 0, f"rc={p.returncode}\n{p.stdout}\n{p.stderr[-3000:]}"
    assert p.stdout.strip().startswith("ok refused="), p.stdout
