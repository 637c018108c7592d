"""Kernels whose results depend on the CPU level the JIT compiles for (tests/test_cpu_variants.py).

With fast-math, LLVM may reassociate a reduction into as many partial sums as the
vector width allows and contract a*b+c into one FMA (x86-64-v3 and up): each CPU
level rounds differently, so an image's variant must be exactly what the JIT at
its level compiles, not merely close."""
import numpy as np
from numba import njit


@njit(fastmath=True)
def dot(a, b):
    s = 0.0
    for i in range(a.size):
        s += a[i] * b[i]
    return s


@njit(fastmath=True)
def axpy(a, x, y):
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = a * x[i] + y[i]
    return out


@njit(fastmath=True)
def norm2(a):
    return dot(a, a)            # a callee the JIT inlines, optimized again in the caller


@njit
def combine(a, b):
    # no fast-math here, but its callees' code is inlined into it
    return norm2(a) - dot(a, b) + axpy(0.5, a, b).sum()


@njit
def tally(n):
    c = 0
    for i in range(n):
        c += (i * 2654435761) % 7
    return c
