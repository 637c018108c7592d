"""stumpy, the default run's check (stumpy_workload.py, slow, has the matrix profiles): MASS
distance profiles (z-normalized and not), the arc curve of FLUSS and its regimes over a
nearest-neighbour index, and stumpy's sliding statistics -- its jitted building blocks,
compiled in seconds."""
import _results
import numpy as np
import stumpy
from stumpy import core


def main():
    rng = np.random.default_rng(7)
    T = np.cumsum(rng.normal(size=400))
    m = 20
    out = {}
    out["mass"] = stumpy.mass(T[50:50 + m], T)
    out["mass_absolute"] = stumpy.mass(T[50:50 + m], T, normalize=False)
    # a nearest-neighbour index (what stump returns in column 1), from the distance profiles
    n = len(T) - m + 1
    I = np.empty(n, dtype=np.int64)
    for i in range(n):
        d = stumpy.mass(T[i:i + m], T)
        d[max(0, i - m // 4):i + m // 4 + 1] = np.inf
        I[i] = np.argmin(d)
    out["nn"] = I
    cac, regimes = stumpy.fluss(I, L=m, n_regimes=2)
    out["fluss_cac"], out["fluss_regimes"] = cac, regimes
    mu, sigma = core.compute_mean_std(T, m)
    out["mean"], out["std"] = mu, sigma
    return _results.show(out)


if __name__ == "__main__":
    _results.save(main())
