"""K-means clustering with Numba: the code both the app and the training workload use.

A small but complete Numba program of the usual kinds:

* ``pairwise_sq_dists`` -- ``@njit(parallel=True, fastmath=True)`` with ``prange``
* ``inertia``           -- a ``prange`` reduction
* ``rbf``               -- a lazy ``@vectorize`` kernel (a DUFunc, compiled per dtype)
* ``lloyd``             -- the iteration, recording its history in a ``numba.typed.List``
* ``kmeans_pp_init``    -- k-means++ seeding with Numba's random generator, calling
  the parallel distance kernel from jitted code
* ``update_centers``, ``assign`` -- plain loops over arrays

Set ``KMEANS_NUMBA_CACHE=1`` to compile with ``cache=True`` (Numba's on-disk
cache); ``scripts/bench_ttfx.py`` uses it to compare the cache with an image.
"""
import os

import numpy as np
from numba import njit, prange, typed, vectorize

CACHE = os.environ.get("KMEANS_NUMBA_CACHE", "") not in ("", "0")


def make_blobs(n, k, dim, spread, seed):
    """n points around k random centres in [-10, 10]^dim, and the true label of each (NumPy)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-10.0, 10.0, (k, dim))
    truth = np.arange(n, dtype=np.int64) % k
    return centres[truth] + spread * rng.standard_normal((n, dim)), truth


@njit(parallel=True, fastmath=True, cache=CACHE)
def pairwise_sq_dists(X, C):
    """Squared euclidean distance of every row of X to every row of C."""
    n, k = X.shape[0], C.shape[0]
    D = np.empty((n, k))
    for i in prange(n):
        for c in range(k):
            s = 0.0
            for j in range(X.shape[1]):
                d = X[i, j] - C[c, j]
                s += d * d
            D[i, c] = s
    return D


@njit(cache=CACHE)
def kmeans_pp_init(X, k, seed):
    """k-means++: each next centre is drawn with probability proportional to D(x)^2."""
    np.random.seed(seed)
    n, dim = X.shape
    C = np.empty((k, dim))
    first = np.random.randint(n)
    for j in range(dim):
        C[0, j] = X[first, j]
    closest = pairwise_sq_dists(X, C[:1])[:, 0].copy()
    for c in range(1, k):
        r = np.random.random() * closest.sum()
        i = 0
        while i < n - 1 and r > closest[i]:
            r -= closest[i]
            i += 1
        for j in range(dim):
            C[c, j] = X[i, j]
        for p in range(n):
            d = 0.0
            for j in range(dim):
                d += (X[p, j] - C[c, j]) ** 2
            closest[p] = min(closest[p], d)
    return C


@njit(cache=CACHE)
def assign(D):
    """Index of the nearest centre for every row of a distance matrix."""
    labels = np.empty(D.shape[0], dtype=np.int64)
    for i in range(D.shape[0]):
        best = 0
        for c in range(1, D.shape[1]):
            if D[i, c] < D[i, best]:
                best = c
        labels[i] = best
    return labels


@njit(cache=CACHE)
def update_centers(X, labels, C_old):
    """Mean of the points of each cluster (an empty cluster keeps its old centre)."""
    k, dim = C_old.shape
    C = np.zeros((k, dim))
    counts = np.zeros(k, dtype=np.int64)
    for i in range(X.shape[0]):
        c = labels[i]
        counts[c] += 1
        for j in range(dim):
            C[c, j] += X[i, j]
    for c in range(k):
        for j in range(dim):
            C[c, j] = C_old[c, j] if counts[c] == 0 else C[c, j] / counts[c]
    return C


@njit(parallel=True, cache=CACHE)
def inertia(X, C, labels):
    """Sum of squared distances of the points to their centres (a prange reduction)."""
    total = 0.0
    for i in prange(X.shape[0]):
        c = labels[i]
        s = 0.0
        for j in range(X.shape[1]):
            d = X[i, j] - C[c, j]
            s += d * d
        total += s
    return total


@njit(cache=CACHE)
def lloyd(X, C, max_iter, tol):
    """Lloyd's iterations; returns centres, labels and the inertia after each step."""
    history = typed.List()
    labels = assign(pairwise_sq_dists(X, C))
    for _ in range(max_iter):
        C = update_centers(X, labels, C)
        labels = assign(pairwise_sq_dists(X, C))
        history.append(inertia(X, C, labels))
        if len(history) > 1 and history[-2] - history[-1] <= tol * history[-2]:
            break
    return C, labels, history


@vectorize(cache=CACHE)
def rbf(d2, gamma):
    """Gaussian kernel on a squared distance."""
    return np.exp(-gamma * d2)


def fit(X, k, seed=0, max_iter=100, tol=1e-6):
    """K-means on X: k-means++ seeding, then Lloyd's iterations."""
    C = kmeans_pp_init(X, k, seed)
    return lloyd(X, C, max_iter, tol)


def soft_confidence(X, C, gamma):
    """How clearly each point belongs to its cluster: share of the RBF weight on its centre."""
    W = rbf(pairwise_sq_dists(X, C), gamma)
    return W.max(axis=1) / W.sum(axis=1)


def purity(labels, truth, k):
    """Share of points whose cluster's majority true label is their own."""
    counts = np.bincount(labels * k + truth, minlength=k * k).reshape(k, k)
    return counts.max(axis=1).sum() / len(labels)
