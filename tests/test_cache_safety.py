"""An image process never poisons Numba's on-disk cache; a training run never touches it.

A ``cache=True`` miss JIT-compiled in an image process links image code (forwarders
to prefixed image symbols at this process's addresses). Written to Numba's cache,
it crashed every later process that loaded it (exit 139), with or without the
image. Here the reproducer of the issue runs in every order, with the cache in
``NUMBA_CACHE_DIR`` and in the package's own ``__pycache__``: real image, real
processes, identical output and exit 0 every time.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import pytest

from conftest import APPS, assert_ok, clean_env, run, snap

SOURCE = APPS / "cachesafe"


def _project(root: Path) -> Path:
    """A fresh copy of the package, workload and app (its own ``__pycache__``)."""
    proj = root / "proj"
    shutil.copytree(SOURCE, proj, ignore=shutil.ignore_patterns("__pycache__"))
    return proj


def _env(cache_dir: Path | None, **extra: str) -> dict[str, str]:
    return clean_env(**({"NUMBA_CACHE_DIR": str(cache_dir)} if cache_dir else {}), **extra)


def _build(proj: Path, cache_dir: Path | None) -> Path:
    image = proj.parent / "cs.so"
    assert_ok(snap("create", "-q", "-w", "workload.py", "-o", str(image), cwd=proj, env=_env(cache_dir)))
    return image


def _plain(proj: Path, cache_dir: Path | None):
    return run([sys.executable, "app.py"], cwd=proj, env=_env(cache_dir))


def _image(proj: Path, image: Path, cache_dir: Path | None, **extra: str):
    return run([sys.executable, "app.py"], cwd=proj, env=_env(cache_dir, SNAP_SYSIMAGE=str(image), **extra))


def _cache_files(where: Path) -> dict[str, tuple[str, int]]:
    """Numba cache files under ``where``: relative path -> (content digest, mtime)."""
    if not where.exists():
        return {}
    return {str(p.relative_to(where)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(where.rglob("*")) if p.suffix in (".nbi", ".nbc")}


def _cached_functions(where: Path) -> set[str]:
    """Functions with a cache index (``kernels.outer_par-19.py311.nbi`` -> ``outer_par``)."""
    return {Path(f).name.split(".")[1].split("-")[0] for f in _cache_files(where) if f.endswith(".nbi")}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> str:
    """Plain-JIT output, computed without any cache involved."""
    root = tmp_path_factory.mktemp("csref")
    p = _plain(_project(root), root / "cache")
    assert_ok(p)
    return p.stdout


def _where(proj: Path, cache_dir: Path | None) -> Path:
    return cache_dir if cache_dir is not None else proj / "cspkg" / "__pycache__"


@pytest.mark.parametrize("location", ["NUMBA_CACHE_DIR", "__pycache__"])
def test_image_then_plain_then_image(tmp_path, reference, location):
    proj = _project(tmp_path)
    cache_dir = tmp_path / "numba-cache" if location == "NUMBA_CACHE_DIR" else None
    image = _build(proj, cache_dir)
    where = _where(proj, cache_dir)
    assert _cache_files(where) == {}, "the training run wrote to the cache"

    report = tmp_path / "misses.jsonl"
    first = _image(proj, image, cache_dir, SNAP_REPORT=str(report))
    assert_ok(first)
    assert first.stdout == reference
    # the dangerous case did happen: misses of outer_* compiled against the image's inner
    missed = {json.loads(line)["function"].rsplit(".", 1)[-1] for line in report.read_text().splitlines()}
    assert {"outer_par", "outer_seq", "standalone"} <= missed and "inner" not in missed
    # code linking image code was not cached; code that does not link it was
    assert _cached_functions(where) == {"standalone"}

    for label, p in (("plain", _plain(proj, cache_dir)), ("image again", _image(proj, image, cache_dir))):
        assert p.returncode == 0, f"{label}: exit {p.returncode}\n{p.stderr}"
        assert p.stdout == reference, label
    assert {"outer_par", "outer_seq", "inner", "standalone"} <= _cached_functions(where)


def test_plain_then_image_then_plain(tmp_path, reference):
    """Entries a plain process wrote are loadable in an image process, and nothing breaks after."""
    proj = _project(tmp_path)
    cache_dir = tmp_path / "numba-cache"
    image = _build(proj, cache_dir)
    for label, p in (("plain", _plain(proj, cache_dir)),
                     ("image", _image(proj, image, cache_dir)),
                     ("plain again", _plain(proj, cache_dir))):
        assert p.returncode == 0, f"{label}: exit {p.returncode}\n{p.stderr}"
        assert p.stdout == reference, label


def test_training_run_leaves_caches_as_they_were(tmp_path):
    """`snap create` neither loads, writes nor creates cache files or directories."""
    proj = _project(tmp_path)
    warm = tmp_path / "warm-cache"
    assert_ok(_plain(proj, warm))          # populate NUMBA_CACHE_DIR
    assert_ok(_plain(proj, None))          # populate the package's __pycache__
    pycache = proj / "cspkg" / "__pycache__"
    before = {"dir": _cache_files(warm), "pycache": _cache_files(pycache)}
    assert before["dir"] and before["pycache"]

    _build(proj, warm)
    _build(proj, None)
    fresh = tmp_path / "fresh-cache"
    image = _build(proj, fresh)
    assert {"dir": _cache_files(warm), "pycache": _cache_files(pycache)} == before
    assert not fresh.exists(), "the training run created a cache directory"
    # built from warm caches, the image still holds everything (nothing was cache-loaded)
    info = json.loads(snap("info", "--json", str(image)).stdout)
    assert {e["function"].rsplit(".", 1)[-1] for e in info["entries"]} >= {"inner", "outer_par", "outer_seq"}
