"""The k-means example, served and identical (issue 27's smoke, run by scripts/matrix.py
on every (CPython, numba) pair and by the default suite on this environment's).

``snap create`` traces examples/kmeans/workload.py; the app's computation then runs once
under the plain JIT and once from the image with every Numba compiler entry point raising
(tests/apps/snaptest_forbid.py) and SNAP_STRICT=1. The results must be the same bits: the
driver prints ``float.hex`` of every scalar and a digest of every array's bytes.
"""
from __future__ import annotations

import sys

from conftest import APPS, ROOT, assert_ok, clean_env, run, snap

EXAMPLE = ROOT / "examples" / "kmeans"

DRIVER = '''\
import hashlib, sys
sys.path.insert(0, {example!r})
import snaptest_forbid  # noqa: F401  (SNAPTEST_FORBID_COMPILE=1: compiling raises)
import numpy as np
import kmeans
import snapshot

X, truth = kmeans.make_blobs(3000, 8, 6, 2.5, 2)
C, labels, history = kmeans.fit(X, 8, seed=2)
conf = kmeans.soft_confidence(X, C, 0.1)
purity = kmeans.purity(labels, truth, 8)
for name, a in (("X", X), ("C", C), ("labels", labels), ("conf", conf)):
    print(name, a.dtype, a.shape, hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest())
print("history", [float(h).hex() for h in history])
print("purity", float(purity).hex())
print("active", len(snapshot.active()), file=sys.stderr)
'''


def test_kmeans_example_served_with_compilation_forbidden_and_identical(tmp_path):
    image = tmp_path / "kmeans-image.so"
    assert_ok(snap("create", "-q", "-w", str(EXAMPLE / "workload.py"), "-o", str(image), cwd=tmp_path))
    (tmp_path / "driver.py").write_text(DRIVER.format(example=str(EXAMPLE)))
    env = {"PYTHONPATH": str(APPS)}
    jit = run([sys.executable, "driver.py"], cwd=tmp_path, env=clean_env(**env))
    assert_ok(jit)
    assert "active 0" in jit.stderr
    served = run([sys.executable, "driver.py"], cwd=tmp_path,
                 env=clean_env(SNAP_SYSIMAGE=str(image), SNAP_STRICT="1", SNAPTEST_FORBID_COMPILE="1", **env))
    assert_ok(served)
    assert "active 1" in served.stderr, served.stderr
    assert served.stdout == jit.stdout
    assert len(jit.stdout.splitlines()) == 6
