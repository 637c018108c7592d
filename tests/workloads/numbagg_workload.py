"""numbagg workload: moving-window functions, exponential moving windows,
nan-aggregations, grouped aggregations and fills (all numba gufuncs).

numbagg compiles each function lazily on first call, as a ``guvectorize``
gufunc with all its eager signatures, ``target='parallel'`` when it can.
"""
import numpy as np
import numbagg


def _data():
    rng = np.random.default_rng(2024)
    a = rng.normal(size=(8, 400))
    a[rng.random(a.shape) < 0.05] = np.nan
    return a


def main():
    a = _data()
    a32 = a.astype(np.float32)
    labels = np.arange(a.shape[1]) % 7
    out = {}
    # moving windows
    out["move_mean"] = numbagg.move_mean(a, window=20, min_count=5)
    out["move_sum"] = numbagg.move_sum(a, window=10)
    out["move_std"] = numbagg.move_std(a, window=30, min_count=10)
    out["move_mean32"] = numbagg.move_mean(a32, window=20, min_count=5)
    out["move_corr"] = numbagg.move_corr(a[0], a[1], window=25, min_count=10)
    out["move_exp_nanmean"] = numbagg.move_exp_nanmean(a, alpha=0.1)
    out["move_exp_nanstd"] = numbagg.move_exp_nanstd(a, alpha=0.2)
    # nan-aggregations
    out["nanmean"] = numbagg.nanmean(a, axis=-1)
    out["nansum"] = numbagg.nansum(a, axis=0)
    out["nanstd"] = numbagg.nanstd(a, axis=-1)
    out["nanmax"] = numbagg.nanmax(a, axis=-1)
    out["nanmin_all"] = np.asarray(numbagg.nanmin(a))
    out["nancount"] = numbagg.nancount(a, axis=-1)
    out["nanquantile"] = numbagg.nanquantile(a, quantiles=[0.25, 0.5, 0.9], axis=-1)
    out["nanmean32"] = numbagg.nanmean(a32, axis=-1)
    # grouped
    out["group_nanmean"] = numbagg.group_nanmean(a, labels, axis=-1)
    out["group_nansum"] = numbagg.group_nansum(a, labels, axis=-1)
    # fills
    out["ffill"] = numbagg.ffill(a, limit=3)
    out["bfill"] = numbagg.bfill(a)
    for name in sorted(out):
        v = np.asarray(out[name], dtype=np.float64)
        print(f"{name}: shape={v.shape} checksum={np.round(float(np.nansum(v)), 5)}")
    return out


if __name__ == "__main__":
    import _results
    _results.save(main())
