"""quantecon workload: Markov chains (tauchen, stationary distributions, simulation),
jitted root finders and optimizers taking a user's jitted function, a discrete dynamic
program, Lemke-Howson on a bimatrix game, random draws, and a user kernel calling the
library's jitted helpers."""
import warnings

import _results
import numpy as np
import quantecon as qe
from numba import njit
from quantecon.optimize import brentq, newton, nelder_mead, bisect


@njit
def f(x):
    return x ** 3 - 2.0 * x - 5.0


@njit
def fprime(x):
    return 3.0 * x ** 2 - 2.0


@njit
def rosen(x):
    return -((1.0 - x[0]) ** 2 + 100.0 * (x[1] - x[0] ** 2) ** 2)


@njit
def seed(s):
    np.random.seed(s)      # Numba's generator, not NumPy's (seeded apart)


@njit
def user_kernel(cdf, n):
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        out[i] = qe.random.draw(cdf)
    return out


def main():
    out = {}
    mc = qe.markov.tauchen(7, 0.9, 0.1)
    out["tauchen_P"] = mc.P
    out["stationary"] = mc.stationary_distributions
    out["simulate"] = mc.simulate(ts_length=500, init=mc.state_values[3], random_state=1234)
    out["simulate_idx"] = mc.simulate_indices(ts_length=200, init=[0, 2], random_state=7)
    with warnings.catch_warnings():     # "the API of rouwenhorst has changed": at every call
        warnings.simplefilter("ignore", UserWarning)
        out["rouwenhorst"] = qe.markov.rouwenhorst(5, 0.95, 0.02).P
    out["brentq"] = np.array(brentq(f, 1.0, 3.0)[:2], dtype=np.float64)
    out["newton"] = np.array(newton(f, 2.0, fprime)[:2], dtype=np.float64)
    out["bisect"] = np.array(bisect(f, 1.0, 3.0)[:2], dtype=np.float64)
    res = nelder_mead(rosen, np.array([-1.2, 1.0]))
    out["nelder_mead"] = np.append(res.x, res.fun)
    # a discrete dynamic program (cake eating on a grid)
    n = 40
    grid = np.linspace(1e-3, 1.0, n)
    R = np.full((n, n), -np.inf)
    Q = np.zeros((n, n, n))
    for i in range(n):
        for j in range(i + 1):
            R[i, j] = np.log(grid[i] - grid[j] + 1e-3)
            Q[i, j, j] = 1.0
    ddp = qe.markov.DiscreteDP(R, Q, 0.95)
    r = ddp.solve(method="policy_iteration")
    out["ddp_v"], out["ddp_sigma"] = r.v, r.sigma
    r2 = ddp.solve(method="value_iteration", epsilon=1e-6)
    out["ddp_vi"] = r2.v
    g = qe.game_theory.NormalFormGame(np.array([[[3, 3], [3, 2]], [[2, 2], [5, 6]], [[0, 3], [6, 1]]]))
    out["lemke_howson"] = np.concatenate(qe.game_theory.lemke_howson(g, init_pivot=1))
    out["pure_nash"] = np.array(qe.game_theory.pure_nash_brute(g), dtype=np.float64).reshape(-1)
    cdf = np.cumsum(np.array([0.1, 0.2, 0.3, 0.4]))
    np.random.seed(5)      # draw() called from Python: NumPy's generator
    out["draw"] = qe.random.draw(cdf, 50)
    seed(5)
    out["user_kernel"] = user_kernel(cdf, 50)
    out["cartesian"] = qe.cartesian([np.arange(3.0), np.arange(2.0)])
    return _results.show(out)


if __name__ == "__main__":
    _results.save(main())
