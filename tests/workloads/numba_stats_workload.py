"""numba-stats workload: pdf/cdf/ppf of several distributions.

Array inputs (float64 and float32) and scalar inputs, called from Python, plus
a user @njit function that calls numba-stats inside jitted code (the
``@overload`` path the library documents for use in user kernels).
"""
import numba
import numpy as np
from numba_stats import expon, norm, poisson, t, truncnorm, crystalball


@numba.njit
def gaussian_nll(x, mu, sigma):
    """User kernel calling numba-stats inside nopython code."""
    return -np.sum(norm.logpdf(x, mu, sigma))


@numba.njit
def mixture_pdf(x, frac, mu, sigma, slope):
    return frac * norm.pdf(x, mu, sigma) + (1.0 - frac) * expon.pdf(x, 0.0, slope)


def main():
    rng = np.random.default_rng(7)
    x64 = np.sort(rng.normal(1.0, 2.0, size=2000))
    x32 = x64.astype(np.float32)
    p64 = np.linspace(0.001, 0.999, 500)
    k = np.arange(0, 30, dtype=np.float64)
    xpos = np.abs(x64)
    out = {}
    # normal: array float64 / float32, scalar
    out["norm_pdf"] = norm.pdf(x64, 1.0, 2.0)
    out["norm_cdf"] = norm.cdf(x64, 1.0, 2.0)
    out["norm_ppf"] = norm.ppf(p64, 1.0, 2.0)
    out["norm_pdf32"] = norm.pdf(x32, np.float32(1.0), np.float32(2.0))
    out["norm_cdf32"] = norm.cdf(x32, np.float32(1.0), np.float32(2.0))
    out["norm_scalar"] = np.array([norm.pdf(0.5, 0.0, 1.0), norm.cdf(0.5, 0.0, 1.0),
                                   norm.ppf(0.3, 0.0, 1.0)])
    # exponential
    out["expon_pdf"] = expon.pdf(xpos, 0.0, 1.5)
    out["expon_cdf"] = expon.cdf(xpos, 0.0, 1.5)
    out["expon_ppf"] = expon.ppf(p64, 0.0, 1.5)
    # student t (cdf/ppf use scipy special functions through function pointers)
    out["t_pdf"] = t.pdf(x64, 5.0, 1.0, 2.0)
    out["t_cdf"] = t.cdf(x64, 5.0, 1.0, 2.0)
    out["t_ppf"] = t.ppf(p64, 5.0, 1.0, 2.0)
    # truncated normal
    out["truncnorm_pdf"] = truncnorm.pdf(x64, -1.0, 4.0, 1.0, 2.0)
    out["truncnorm_cdf"] = truncnorm.cdf(x64, -1.0, 4.0, 1.0, 2.0)
    out["truncnorm_ppf"] = truncnorm.ppf(p64, -1.0, 4.0, 1.0, 2.0)
    # crystal ball
    out["crystalball_pdf"] = crystalball.pdf(x64, 1.5, 3.0, 1.0, 2.0)
    out["crystalball_cdf"] = crystalball.cdf(x64, 1.5, 3.0, 1.0, 2.0)
    # poisson (discrete)
    out["poisson_pmf"] = poisson.pmf(k, 4.5)
    out["poisson_cdf"] = poisson.cdf(k, 4.5)
    # user kernels
    out["nll"] = np.array([gaussian_nll(x64, 1.0, 2.0), gaussian_nll(x64, 0.5, 1.5)])
    out["mixture"] = mixture_pdf(xpos, 0.3, 2.0, 0.5, 1.5)
    for name in sorted(out):
        v = np.asarray(out[name])
        print(f"{name}: n={v.size} checksum={np.round(float(np.sum(v, dtype=np.float64)), 6)}")
    return out


if __name__ == "__main__":
    import _results
    _results.save(main())
