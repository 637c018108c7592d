"""pydata/sparse workload: COO construction, arithmetic, reductions,
indexing, tensordot/dot/matmul and format conversion (numba backend).

The products include the kernels sparse builds per dtype pair with ``locals=``
(``_dot_coo_coo``, ``_dot_csr_csr``, and the sparse-result ``_dot_coo_ndarray`` /
``_dot_ndarray_coo``; these two reassign ``data_curr``, which Numba's SSA pass renames).
"""
import numpy as np
import sparse


def _coo(rng, shape, nnz):
    size = int(np.prod(shape))
    flat = rng.choice(size, size=nnz, replace=False)
    coords = np.array(np.unravel_index(np.sort(flat), shape))
    data = rng.normal(size=nnz)
    return sparse.COO(coords, data, shape=shape)


def main():
    rng = np.random.default_rng(99)
    a = _coo(rng, (40, 30, 20), 900)
    b = _coo(rng, (40, 30, 20), 700)
    m = _coo(rng, (20, 25), 120)
    v = sparse.random((30, 30), density=0.1, random_state=5)
    dense_w = rng.normal(size=(20, 6))
    dense_x = rng.normal(size=(7, 20))
    out = {}
    # construction from dense and from scipy
    out["from_dense"] = sparse.COO.from_numpy(np.where(dense_w > 0.5, dense_w, 0.0)).todense()
    # element-wise arithmetic
    out["add"] = (a + b).todense()
    out["mul"] = (a * b).todense()
    out["scale_sub"] = (2.5 * a - b).todense()
    out["abs_pow"] = (abs(a) ** 2).todense()
    out["where"] = sparse.where(a > 0, a, b).todense()
    # reductions
    out["sum_axis0"] = a.sum(axis=0).todense()
    total = a.sum(axis=None)     # sparse < 0.18 (the last for CPython 3.10: 0.17) gives a numpy scalar
    out["sum_all"] = np.asarray(total.todense() if hasattr(total, "todense") else total)
    out["max_axis2"] = a.max(axis=2).todense()
    out["mean_axis1"] = a.mean(axis=1).todense()
    out["nnz_count"] = np.asarray([a.nnz, b.nnz, (a + b).nnz])
    # indexing / reshaping
    out["getitem"] = a[3:17, ::2, 5].todense()
    out["getitem_fancy"] = a[[1, 5, 9], :, [2, 3, 4]].todense()
    out["transpose_reshape"] = a.transpose((2, 0, 1)).reshape((20, 1200)).todense()
    out["concat"] = sparse.concatenate([a, b], axis=1).sum(axis=(0, 2)).todense()
    # products
    out["tensordot"] = sparse.tensordot(a, m, axes=((2,), (0,))).todense()
    out["tensordot2"] = sparse.tensordot(a, b, axes=((1, 2), (1, 2))).todense()
    out["dot_dense"] = sparse.dot(a, dense_w)
    out["matmul"] = (v @ v).todense()
    out["matmul_dense"] = np.asarray(v @ np.ones((30, 2)))
    # sparse results of sparse x dense products (COO @ ndarray, ndarray @ COO)
    out["tensordot_coo_dense_to_coo"] = sparse.tensordot(
        a, dense_w, axes=((2,), (0,)), return_type=sparse.COO).todense()
    out["tensordot_dense_coo_to_coo"] = sparse.tensordot(
        dense_x, m, axes=((1,), (0,)), return_type=sparse.COO).todense()
    # conversions
    gcxs = sparse.GCXS.from_coo(v, compressed_axes=(0,))
    out["gcxs_roundtrip"] = gcxs.tocoo().todense()
    out["gcxs_slice"] = gcxs[2:20, 5:15].todense()
    out["gcxs_matmul"] = (gcxs @ gcxs).todense()
    out["scipy_roundtrip"] = sparse.COO.from_scipy_sparse(v.tocsr()).todense()
    for name in sorted(out):
        arr = np.asarray(out[name], dtype=np.float64)
        print(f"{name}: shape={arr.shape} checksum={np.round(float(arr.sum()), 6)}")
    return out


if __name__ == "__main__":
    import _results
    _results.save(main())
