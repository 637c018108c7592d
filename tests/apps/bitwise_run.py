"""Run every kernel of the generated bwlib on fixed data; ``bwrun.py OUT.npz`` saves the results.

The same script is the training workload (no argument) and the program run
under the plain JIT and from the image (tests/test_bitwise.py).
"""
import sys

import snaptest_forbid  # noqa: F401  (with SNAPTEST_FORBID_COMPILE=1 any compilation raises)
import numpy as np

import bwlib


def main() -> dict:
    rng = np.random.default_rng(2026)
    res = {}
    for dt in ("float32", "float64"):
        X = (rng.standard_normal((64, 37)) * 2).astype(dt)
        Y = rng.standard_normal((64, 37)).astype(dt)
        for name, cdt in bwlib.CALLERS:
            if cdt == dt:
                out, tot = getattr(bwlib, name)(X, Y)
                res[name] = out
                res[name + ".tot"] = np.array([tot])
    P = rng.standard_normal((300, 7)).astype(np.float32)
    tree = bwlib.build_tree(P, 8)
    res["knn.dist"], res["knn.ind"] = bwlib.knn(P, tree, P[:150], 5)
    core = bwlib.core_distances(P, tree, 5)
    res["core"] = core
    res["mst"] = bwlib.boruvka(P, core)
    res["pairwise"] = bwlib.pairwise(P)
    res["total_rdist"] = np.array([bwlib.total_rdist(P)])
    return res


if __name__ == "__main__":
    results = main()
    if len(sys.argv) > 1:
        np.savez(sys.argv[1], **results)
