"""pynndescent workload: build NN-descent indexes and query them.

One built-in metric (euclidean) and one user metric passed as an
@njit function (a custom weighted-L1 distance). Deterministic: fixed seeds,
``random_state`` on every index, single-threaded (``n_jobs=1``).
"""
import numba
import numpy as np
import pynndescent

N_POINTS = 600
N_QUERY = 60
DIM = 12


@numba.njit(fastmath=True)
def weighted_l1(x, y):
    """User metric, passed as a jitted function (a first-class dispatcher)."""
    result = 0.0
    for i in range(x.shape[0]):
        result += (1.0 + 0.1 * i) * abs(x[i] - y[i])
    return result


def _data():
    rng = np.random.default_rng(1234)
    centers = rng.normal(scale=4.0, size=(6, DIM))
    labels = rng.integers(0, 6, size=N_POINTS + N_QUERY)
    pts = centers[labels] + rng.normal(size=(N_POINTS + N_QUERY, DIM))
    pts = pts.astype(np.float32)
    return pts[:N_POINTS], pts[N_POINTS:]


def main():
    data, queries = _data()
    out = {}
    for name, metric in (("euclidean", "euclidean"), ("weighted_l1", weighted_l1)):
        index = pynndescent.NNDescent(
            data, metric=metric, n_neighbors=10, random_state=42, n_jobs=1,
            verbose=False)
        graph_idx, graph_dist = index.neighbor_graph
        q_idx, q_dist = index.query(queries, k=10, epsilon=0.1)
        out[f"{name}_graph_idx"] = np.asarray(graph_idx)
        out[f"{name}_graph_dist"] = np.asarray(graph_dist)
        out[f"{name}_query_idx"] = np.asarray(q_idx)
        out[f"{name}_query_dist"] = np.asarray(q_dist)
    for k in sorted(out):
        v = out[k]
        print(f"{k}: shape={v.shape} checksum={np.round(float(np.sum(v, dtype=np.float64)), 3)}")
    return out


if __name__ == "__main__":
    import _results
    _results.save(main())
