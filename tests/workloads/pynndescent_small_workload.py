"""pynndescent, small: the library's jitted building blocks, seconds of JIT instead of minutes.

The default-run counterpart of pynndescent_workload.py (a full NNDescent build and
query, minutes of cold JIT: marked slow). It calls the jitted code NNDescent and
query() call, piece by piece, leaving out what costs most to compile (the NN-descent
iterations, nn_descent_internal, and the hybrid forest and graph pruning of
prepare()). What it covers:

- ``import pynndescent`` compiles the eager signatures, among them the heap pushes
  (``simple_heap_push``, ``checked_heap_push``, ``checked_flagged_heap_push``),
  ``norm`` and the rp-tree splits and searches: functions with ``locals=`` whose
  variables Numba's SSA pass renames (``i`` -> ``i.1``, ...); they are then called;
- distances compiled at the first call, with ``locals=`` (``squared_euclidean``,
  ``alternative_cosine``, ``dot``: ``result`` is reassigned, so renamed too) and
  without (``euclidean``, ``cosine``, ``manhattan``), and a ``@vectorize`` converter;
- the heap utilities (``make_heap``, ``siftdown``, ``rejection_sample``, the
  ``parallel=True`` ``deheap_sort``);
- graph initialisation: ``init_random`` (``locals=``, its ``idx`` reassigned, the
  distance passed as a first-class dispatcher: the library's and a user ``@njit``
  metric), ``init_from_neighbor_graph``, and from a random-projection tree
  (``make_dense_tree``, typed lists, as prepare() builds its search trees;
  ``get_leaves_from_tree``) the ``parallel=True`` ``init_rp_tree`` with ``locals=``;
- search as query() does it: the index as a structref (``_new_search_index``), the
  cached search function compiled for an explicit signature
  (``search_dense_sqeuclidean``), ``deheap_sort_serial``.

Deterministic: fixed seeds and rng states, one Numba thread.
"""
import numba
import numpy as np

import pynndescent  # noqa: F401  (compiles the eager signatures)
from pynndescent import distances as dist
from pynndescent import pynndescent_ as nnd
from pynndescent import rp_trees, search, utils

N_POINTS = 300
N_QUERY = 20
DIM = 8
K = 10


@numba.njit(fastmath=True)
def weighted_l1(x, y):
    """User metric, passed as a jitted function (a first-class dispatcher)."""
    result = 0.0
    for i in range(x.shape[0]):
        result += (1.0 + 0.1 * i) * abs(x[i] - y[i])
    return result


def _rng_state(seed: int) -> np.ndarray:
    # tau_rand's three Tausworthe states must be large enough not to degenerate
    return np.array([1234567 + seed, 7654321 + 17 * seed, 2468013 + 31 * seed], dtype=np.int64)


def _data():
    rng = np.random.default_rng(4321)
    centers = rng.normal(scale=4.0, size=(5, DIM))
    labels = rng.integers(0, 5, size=N_POINTS + N_QUERY)
    pts = (centers[labels] + rng.normal(size=(N_POINTS + N_QUERY, DIM))).astype(np.float32)
    return np.ascontiguousarray(pts[:N_POINTS]), np.ascontiguousarray(pts[N_POINTS:])


def main():
    numba.set_num_threads(1)
    data, queries = _data()
    out = {}

    # eager heap pushes and norm (compiled at import)
    pri = np.full(K, np.inf, dtype=np.float32)
    idx = np.full(K, -1, dtype=np.int32)
    for j in range(60):
        utils.simple_heap_push(pri, idx, np.float32(dist.squared_euclidean(data[0], data[j + 1])), np.int32(j + 1))
    out["simple_heap_push"] = np.stack([pri, idx.astype(np.float32)])
    pri = np.full(K, np.inf, dtype=np.float32)
    idx = np.full(K, -1, dtype=np.int32)
    pushed = [utils.checked_heap_push(pri, idx, np.float32(abs(j - 20) % 13), np.int32(j % 25)) for j in range(50)]
    out["checked_heap_push"] = np.stack([pri, idx.astype(np.float32)])
    out["checked_heap_push_ret"] = np.array(pushed)
    pri = np.full(K, np.inf, dtype=np.float32)
    idx = np.full(K, -1, dtype=np.int32)
    flags = np.zeros(K, dtype=np.uint8)
    for j in range(50):
        utils.checked_flagged_heap_push(pri, idx, flags, np.float32((j * 7) % 23), np.int32(j % 30), np.uint8(j % 2))
    out["checked_flagged_heap_push"] = np.stack([pri, idx.astype(np.float32), flags.astype(np.float32)])
    out["norm"] = np.array([utils.norm(data[i]) for i in range(10)])
    state = _rng_state(1)
    out["tau_rand"] = np.array([utils.tau_rand(state) for _ in range(10)])
    table = np.zeros(N_POINTS // 8 + 1, dtype=np.uint8)
    out["visited"] = np.array([utils.check_and_mark_visited(table, np.int32(c)) for c in (3, 9, 3, 200, 9)])

    # lazily compiled distances (with and without locals=), a @vectorize converter
    pairs = [(data[i], data[(7 * i + 3) % N_POINTS]) for i in range(20)]
    for name in ("euclidean", "squared_euclidean", "alternative_cosine", "dot", "cosine", "manhattan"):
        f = getattr(dist, name)
        out[name] = np.array([f(x, y) for x, y in pairs])
    out["correct_alternative_cosine"] = dist.correct_alternative_cosine(out["alternative_cosine"])
    out["weighted_l1"] = np.array([weighted_l1(x, y) for x, y in pairs])

    # heap utilities
    out["rejection_sample"] = utils.rejection_sample(8, N_POINTS, _rng_state(2))
    h1, h2 = np.array([5.0, 3.0, 4.0, 1.0, 2.0]), np.arange(5)
    utils.siftdown(h1, h2, 0)
    out["siftdown"] = np.stack([h1, h2.astype(np.float64)])

    # graph initialisation: random (library and user metric), from a graph, from an rp-tree
    state = _rng_state(3)
    heap = utils.make_heap(N_POINTS, K)
    nnd.init_random(K, data, heap, dist.squared_euclidean, state)
    user_heap = utils.make_heap(N_POINTS, K)
    nnd.init_random(K, data, user_heap, weighted_l1, state)
    copy_heap = utils.make_heap(N_POINTS, K)
    nnd.init_from_neighbor_graph(copy_heap, heap[0], heap[1])
    out["init_from_neighbor_graph"] = copy_heap[1]
    tree = rp_trees.make_dense_tree(data, _rng_state(4), 30, False)
    leaves = rp_trees.get_leaves_from_tree(tree, 30)
    out["rp_leaves"] = leaves
    rp_heap = utils.make_heap(N_POINTS, K)
    nnd.init_rp_tree(data, dist.squared_euclidean, rp_heap, leaves, n_threads=1)
    nnd.init_random(K, data, rp_heap, dist.squared_euclidean, state)
    for name, h in (("random", heap), ("user_metric", user_heap), ("rp_tree", rp_heap)):
        graph_idx, graph_dist = utils.deheap_sort(h[0], h[1])
        out[f"{name}_graph_idx"] = graph_idx
        out[f"{name}_graph_dist"] = graph_dist

    # search over the rp-tree graph: structref index, cached search function
    graph = out["rp_tree_graph_idx"]
    indptr = np.arange(0, graph.size + 1, K, dtype=np.int32)
    flat = rp_trees.convert_tree_format(tree, N_POINTS, DIM)
    search_fn = search.make_cached_search_function(
        data, indptr, np.ascontiguousarray(graph.ravel()), [flat], 1, K, 0.0,
        False, False, search.KERNEL_SQEUCLIDEAN, False)
    visited = np.zeros(N_POINTS // 8 + 1, dtype=np.uint8)
    q_idx, q_dist, _ = search_fn(queries, queries, np.ones(1, dtype=np.float32), utils.make_heap(N_QUERY, 5),
                                 5, np.float32(0.1), visited, False, _rng_state(5))
    q_idx, q_dist = search.deheap_sort_serial(q_idx, q_dist)
    out["query_idx"], out["query_dist"] = q_idx, q_dist

    for k in sorted(out):
        v = np.asarray(out[k])
        print(f"{k}: shape={v.shape} checksum={np.round(float(np.sum(v, dtype=np.float64)), 3)}")
    return out


if __name__ == "__main__":
    import _results
    _results.save(main())
