"""stumpy workload: matrix profiles (self-join, AB-join, non-normalized), motifs, MASS,
FLUSS, the incremental stumpi, multi-dimensional mstump, scrump/prescrump (seeded), mpdist."""
import _results
import numpy as np
import stumpy


def main():
    rng = np.random.default_rng(7)
    T = np.cumsum(rng.normal(size=600))
    T2 = np.cumsum(rng.normal(size=300))
    m = 25
    out = {}
    mp = stumpy.stump(T, m)
    out["stump"] = mp[:, :2].astype(np.float64)
    out["stump_ab"] = stumpy.stump(T, m, T2, ignore_trivial=False)[:, :2].astype(np.float64)
    out["aamp"] = stumpy.aamp(T, m)[:, :2].astype(np.float64)
    out["mass"] = stumpy.mass(T[100:100 + m], T)
    dists, idx = stumpy.motifs(T, mp[:, 0], max_motifs=2, cutoff=np.inf)
    out["motif_dists"], out["motif_idx"] = dists, idx
    cac, regimes = stumpy.fluss(mp[:, 1].astype(np.int64), L=m, n_regimes=2)
    out["fluss_cac"], out["fluss_regimes"] = cac, regimes
    s = stumpy.stumpi(T[:300], m, egress=False)
    for t in T[300:340]:
        s.update(t)
    out["stumpi_P"], out["stumpi_I"] = s.P_, s.I_
    M = np.vstack([T[:400], np.roll(T[:400], 7) + rng.normal(size=400)])
    P, I = stumpy.mstump(M, m)
    out["mstump_P"], out["mstump_I"] = P, I
    np.random.seed(3)
    sc = stumpy.scrump(T, m, percentage=0.2, pre_scrump=True, s=5)
    sc.update()
    out["scrump_P"], out["scrump_I"] = sc.P_, sc.I_
    out["mpdist"] = np.asarray(stumpy.mpdist(T[:200], T2[:200], m))
    return _results.show(out)


if __name__ == "__main__":
    _results.save(main())
