"""Jitted functions of every kind the image serves (imported by the workload and the app)."""
import numpy as np
from numba import njit, prange, typed, types, vectorize


@njit
def add(a, b):
    return a + b


@njit(parallel=True)
def par_sum(x):
    s = 0.0
    for i in prange(x.shape[0]):
        s += x[i] * 2.0
    return s


@njit(fastmath=True)
def fm_dot(a, b):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * b[i]
    return s


@njit(boundscheck=True)
def bc_get(a, i):
    return a[i]


@njit
def make_list(n):
    lst = typed.List()
    for i in range(n):
        lst.append(i * 1.5)
    return lst


@njit
def sum_list(lst):
    s = 0.0
    for x in lst:
        s += x
    return s


@njit
def make_dict(n):
    d = typed.Dict.empty(types.int64, types.float64)
    for i in range(n):
        d[i] = i / 2
    return d


@njit
def sum_dict(d):
    s = 0.0
    for k, v in d.items():
        s += k * v
    return s


@vectorize
def vpoly(x, y):
    return x * x + 3 * y


@njit
def square(x):
    return x * x


@njit
def apply(f, a):
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        out[i] = f(a[i])
    return out


def make_scaler(k):
    @njit
    def scale(x):
        return x * k
    return scale


scale2 = make_scaler(2.0)
scale3 = make_scaler(3.0)


@njit
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


@njit
def is_even(n):
    return True if n == 0 else is_odd(n - 1)


@njit
def is_odd(n):
    return False if n == 0 else is_even(n - 1)


@njit
def checked_sqrt(x):
    if x < 0:
        raise ValueError("negative input", x)
    return np.sqrt(x)


@njit
def alloc_stats(n):
    a = np.arange(n) * 0.5
    b = a.reshape((n // 2, 2)).T.copy()
    return b.sum(), a.max(), np.cumsum(a)[-1]


fn_sig = types.float64(types.float64)


@njit(types.float64(types.FunctionType(fn_sig), types.float64))
def call_fc(f, x):
    return f(x) + 1.0


@njit("int64(int64, int64)")
def eager_mul(a, b):
    return a * b


@vectorize(["float64(float64, float64)", "int64(int64, int64)"])
def veager(x, y):
    return 2 * x - y
