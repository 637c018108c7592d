"""Generate the kernel library of tests/test_bitwise.py (``python bitwise_gen.py DIR [default|full]``).

Float kernels whose bits depend on how their code was generated: float32 and
float64, mixed precision (float32 data, float64 accumulator), reductions,
sqrt/exp/log/pow, selects and min/max, fast-math on and off, ``prange``.
Every helper is called from several callers: helpers Numba inlines into them
(``inline='always'``) and helpers it calls (``inline='never'``), from callers
with other flags than the helper's. Plus nearest-neighbour queries over a
kd-tree-like structure and a Borůvka minimum spanning tree over float32
distances (static code below). Writes ``bwlib.py`` and ``bwrun.py`` into DIR.
"""
from __future__ import annotations

import itertools
import shutil
import sys
from pathlib import Path

OPS = {
    "sq": "t = a[i] - b[i]\n        acc += t * t",
    "fma": "acc += a[i] * b[i] + {c} * a[i]",
    "exp": "acc += np.exp(a[i] * {c}) * b[i]",
    "log": "acc += np.log1p(abs(a[i])) - b[i] * {c}",
    "pow": "acc += abs(a[i]) ** {c} + b[i]",
    "sqrt": "acc += np.sqrt(a[i] * a[i] + b[i] * b[i])",
    "sel": "acc = acc + a[i] * b[i] if a[i] > b[i] else acc - b[i] * {c}",
    "mm": "acc = max(acc, a[i] * b[i] - {c})",
}
# (data dtype, accumulator): same precision, or float32 data summed in float64
PRECISIONS = (("float32", "same"), ("float64", "same"), ("float32", "float64"))
# helper (fastmath, inline) -> callers (fastmath, parallel)
HELPERS = {
    (True, "always"): ((True, True), (False, False), (True, False)),
    (True, "never"): ((True, True), (False, False), (True, False)),
    (False, "always"): ((True, True), (False, False)),
    (False, "never"): ((True, True), (False, False)),
}
SIZES = {
    # ops x precisions x helper kinds, and how many of each kind's callers: the
    # default set fits a quick test run (two cold JIT runs of it: training, reference)
    "default": (("sq", "exp", "pow", "sqrt"), PRECISIONS, ((True, "always"), (False, "never")), 2),
    "full": (tuple(OPS), PRECISIONS, tuple(HELPERS), 3),
}


def helper_source(op: str, dt: str, acc: str, fastmath: bool, inline: str) -> tuple[str, str]:
    name = f"h_{op}_{dt[5:]}_{'acc64' if acc == 'float64' else 'same'}_{'fm' if fastmath else 'nofm'}_{inline}"
    init = "0.0" if acc == "float64" else f"np.{dt}(0.0)"
    body = OPS[op].format(c=f"np.{dt}(0.75)")
    return name, (f"@njit(fastmath={fastmath}, inline={inline!r})\n"
                  f"def {name}(a, b):\n    acc = {init}\n    for i in range(a.shape[0]):\n"
                  f"        {body}\n    return acc\n")


def caller_source(helper: str, fastmath: bool, parallel: bool) -> tuple[str, str]:
    name = f"c_{helper}__{'fm' if fastmath else 'nofm'}_{'par' if parallel else 'seq'}"
    loop = "prange" if parallel else "range"
    return name, (f"@njit(fastmath={fastmath}, parallel={parallel})\n"
                  f"def {name}(X, Y):\n    n = X.shape[0]\n    out = np.empty(n, X.dtype)\n"
                  f"    tot = 0.0\n    for i in {loop}(n):\n        v = {helper}(X[i], Y[i])\n"
                  f"        out[i] = v * X.dtype.type(1.5) + X[i, 0]\n        tot += v\n"
                  f"    return out, tot\n")


def library_source(size: str) -> str:
    ops, precisions, kinds, ncallers = SIZES[size]
    parts = ["import numpy as np", "from numba import njit, prange", "", TREE_CODE]
    callers: list[tuple[str, str]] = []
    for op, (dt, acc), (fm, inline) in itertools.product(ops, precisions, kinds):
        helper, text = helper_source(op, dt, acc, fm, inline)
        parts.append(text)
        for cfm, par in HELPERS[(fm, inline)][:ncallers]:
            name, text = caller_source(helper, cfm, par)
            parts.append(text)
            callers.append((name, dt))
    parts.append(f"CALLERS = {callers!r}\n")
    return "\n".join(parts)


def write(directory: Path, size: str = "default") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "bwlib.py").write_text(library_source(size))
    shutil.copy(Path(__file__).with_name("bitwise_run.py"), directory / "bwrun.py")


TREE_CODE = '''
@njit(fastmath=True)
def rdist(a, b):
    d = np.float32(0.0)
    for i in range(a.shape[0]):
        t = a[i] - b[i]
        d += t * t
    return d


@njit(fastmath=True, inline="always")
def edist(a, b):
    return np.sqrt(rdist(a, b))


@njit(fastmath=True)
def point_box_rdist(lo, hi, p):
    d = np.float32(0.0)
    for i in range(p.shape[0]):
        t = max(np.float32(0.0), lo[i] - p[i], p[i] - hi[i])
        d += t * t
    return d


@njit
def build_tree(X, leaf_size):
    """A kd-tree-like tree: split the widest dimension at the median, bounding boxes per node."""
    n, m = X.shape
    idx = np.arange(n)
    max_nodes = 4 * (n // leaf_size + 1) + 1
    start = np.zeros(max_nodes, np.int64)
    end = np.zeros(max_nodes, np.int64)
    left = -np.ones(max_nodes, np.int64)
    right = -np.ones(max_nodes, np.int64)
    lo = np.zeros((max_nodes, m), X.dtype)
    hi = np.zeros((max_nodes, m), X.dtype)
    stack = [0]
    end[0] = n
    count = 1
    while len(stack) > 0:
        node = stack.pop()
        s, e = start[node], end[node]
        pts = X[idx[s:e]]
        for j in range(m):
            lo[node, j] = pts[:, j].min()
            hi[node, j] = pts[:, j].max()
        if e - s <= leaf_size:
            continue
        ax = np.argmax(hi[node] - lo[node])
        order = np.argsort(pts[:, ax], kind="mergesort")
        idx[s:e] = idx[s:e][order]
        mid = (s + e) // 2
        left[node] = count
        start[count] = s
        end[count] = mid
        count += 1
        right[node] = count
        start[count] = mid
        end[count] = e
        count += 1
        stack.append(left[node])
        stack.append(right[node])
    return idx, start[:count], end[:count], left[:count], right[:count], lo[:count], hi[:count]


@njit(fastmath=True)
def heap_push(dists, inds, d, j):
    k = dists.shape[0]
    if d >= dists[0]:
        return
    dists[0] = d
    inds[0] = j
    i = 0
    while True:
        lc = 2 * i + 1
        rc = lc + 1
        if lc >= k:
            break
        c = lc
        if rc < k and dists[rc] > dists[lc]:
            c = rc
        if dists[c] > d:
            dists[i] = dists[c]
            inds[i] = inds[c]
            dists[c] = d
            inds[c] = j
            i = c
        else:
            break


@njit(fastmath=True)
def query_one(X, tree, p, k):
    idx, start, end, left, right, lo, hi = tree
    dists = np.full(k, np.inf, dtype=np.float32)
    inds = -np.ones(k, np.int64)
    stack = [0]
    while len(stack) > 0:
        node = stack.pop()
        if point_box_rdist(lo[node], hi[node], p) > dists[0]:
            continue
        if left[node] < 0:
            for t in range(start[node], end[node]):
                j = idx[t]
                heap_push(dists, inds, rdist(X[j], p), j)
        else:
            stack.append(left[node])
            stack.append(right[node])
    return dists, inds


@njit(fastmath=True, parallel=True)
def knn(X, tree, Q, k):
    D = np.empty((Q.shape[0], k), np.float32)
    ind = np.empty((Q.shape[0], k), np.int64)
    for i in prange(Q.shape[0]):
        d, nn = query_one(X, tree, Q[i], k)
        D[i] = np.sqrt(d)
        ind[i] = nn
    return D, ind


@njit(fastmath=True, parallel=True)
def core_distances(X, tree, k):
    D, _ = knn(X, tree, X, k)
    out = np.empty(X.shape[0], np.float32)
    for i in prange(X.shape[0]):
        out[i] = D[i].max()
    return out


@njit(fastmath=True)
def mreach(X, core, i, j):
    return max(edist(X[i], X[j]), core[i], core[j])


@njit
def find(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@njit(fastmath=True, parallel=True)
def boruvka(X, core):
    """Borůvka MST over mutual-reachability float32 distances: (i, j, weight) per edge."""
    n = X.shape[0]
    parent = np.arange(n)
    edges = np.zeros((n - 1, 3), np.float32)
    ne = 0
    while ne < n - 1:
        comp = np.empty(n, np.int64)
        for i in range(n):
            comp[i] = find(parent, i)
        best_d = np.full(n, np.inf, np.float32)
        best_j = -np.ones(n, np.int64)
        for i in prange(n):
            ci = comp[i]
            bd = np.float32(np.inf)
            bj = -1
            for j in range(n):
                if comp[j] != ci:
                    d = mreach(X, core, i, j)
                    if d < bd:
                        bd = d
                        bj = j
            best_d[i] = bd
            best_j[i] = bj
        cbest_d = np.full(n, np.inf, np.float32)
        cbest_i = -np.ones(n, np.int64)
        cbest_j = -np.ones(n, np.int64)
        for i in range(n):
            c = comp[i]
            if best_d[i] < cbest_d[c]:
                cbest_d[c] = best_d[i]
                cbest_i[c] = i
                cbest_j[c] = best_j[i]
        for c in range(n):
            if cbest_j[c] >= 0:
                a = find(parent, cbest_i[c])
                b = find(parent, cbest_j[c])
                if a != b:
                    parent[a] = b
                    edges[ne, 0] = cbest_i[c]
                    edges[ne, 1] = cbest_j[c]
                    edges[ne, 2] = cbest_d[c]
                    ne += 1
    return edges


@njit(fastmath=True, parallel=True)
def pairwise(X):
    n = X.shape[0]
    out = np.empty((n, n), np.float32)
    for i in prange(n):
        for j in range(n):
            out[i, j] = edist(X[i], X[j])
    return out


@njit
def total_rdist(X):
    s = np.float32(0)
    for i in range(X.shape[0]):
        s += rdist(X[i], X[-1]) * np.float32(1.0001)
    return s
'''


if __name__ == "__main__":
    write(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "default")
