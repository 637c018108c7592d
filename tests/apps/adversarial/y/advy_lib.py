"""Jitted callers of advy_ext's extensions (class 1), and functions whose code depends on
values reached through objects (class 2), classes and functions keyed by name (class 3) and
the state of the process (class 4) (adversarial harness, group y: a second adversary)."""
import ctypes.util
import types as pytypes

import numpy as np
from numba import cfunc, njit

import advy_ext as E
import advy_targets as TG

# a function made by advy_ext's factory, here: the value its overload's closure holds is
# decided in this file
OP_A = E.make_op(2.0)


# ------------------------------------------------------------------ class 1: callers
@njit
def y_alias(x):
    return E.tgt_alias(x)


@njit
def y_registry(x):
    return E.tgt_registry(x)


@njit
def y_hdefault(x):
    return E.tgt_hdefault(x)


@njit
def y_partial(x):
    return E.tgt_partial(x)


@njit
def y_lazy(x):
    return E.tgt_lazy(x)


@njit
def y_depth(x):
    return E.tgt_depth(x)


@njit
def y_getattr(x):
    return E.tgt_getattr(x)


@njit
def y_table(x):
    return E.tgt_table(x)


@njit
def y_bigdict(x):
    return E.tgt_bigdict(x)


@njit
def y_madeimpl(x):
    return E.tgt_madeimpl(x)


@njit
def y_factory_op(x):
    return OP_A(x)


@njit
def y_factory_here(x):
    return E.OP_HERE(x)


@njit
def y_memo_a(x):
    return E.tgt_memo(x)


@njit
def y_memo_c(n):
    return E.tgt_memo(n) + 1.0


@njit
def y_memo2(x, n):
    return E.tgt_memo(x) + E.tgt_memo(n)


@njit
def y_clscache_a(x):
    return E.tgt_clscache(x)


@njit
def y_clscache_b(n):
    return E.tgt_clscache(n)


@njit
def y_lru_a(x):
    return E.tgt_lru(x)


@njit
def y_lru_b(a):
    return E.tgt_lru(a)[0]


@njit
def y_emit(a, b):
    return E.ix_emit(a, b)


@njit
def y_assert(x):
    return E.tgt_assert(x)


@njit
def y_tcache_a(x):
    return E.tgt_tcache(x)


@njit
def y_tcache_b(x):
    return E.tgt_tcache(x) + 100.0


@njit
def y_settings(x):
    return E.tgt_settings(x)


@njit
def y_numbatype(x):
    return E.tgt_numbatype(x)


@njit
def y_namespace(x):
    return E.tgt_namespace(x)


@njit
def y_datafile_cwd(x):
    return E.tgt_datafile_cwd(x)


@njit
def y_datafile(x):
    return E.tgt_datafile(x)


@njit
def y_nthreads(x):
    return E.tgt_nthreads(x)


@njit
def y_backend2(x):
    return E.tgt_backend2(x)


@njit
def y_exec_helper(x):
    return E.tgt_exechelper(x)


@njit
def y_bound(x):
    return E.tgt_bound(x)


@njit
def y_envscan(x):
    return E.tgt_envscan(x)


@njit
def y_envitems(x):
    return E.tgt_envitems(x)


@njit
def y_modpresent(x):
    return E.tgt_modpresent(x)


@njit
def y_branch(x):
    return E.tgt_branch(x)


@njit
def y_order(x):
    return TG.tgt_order(x)


# an inline cost model (a function) as the option of a callee
def _always(expr, caller, callee):
    return True


@njit(inline=_always)
def inl_cost(x):
    return x * 9.0


@njit
def y_inline_cost(x):
    return inl_cost(x) + 1.0


# ------------------------------------------------------------------ class 2: values
# a record dtype with a subarray field (same size, other element type or shape)
RECS = np.dtype([("a", np.float64), ("c", np.float64, (3,))])


@njit
def y_subarray():
    r = np.zeros(1, dtype=RECS)
    r[0].c[0] = 1.7
    r[0].c[1] = 2.9
    return r[0].c[0] + r[0].c[1]


# a non-contiguous global array (same shape, flags and elements; other strides)
STRIDED = np.arange(12.0)[::2]


@njit
def y_strides():
    return STRIDED.strides[0]


# the sign of a NaN constant
NANK = float("nan")


@njit
def y_nan_sign():
    return np.copysign(1.0, NANK)


# a jitted function with a default argument, passed as an argument
@njit
def fn_dflt(x, k=4.0):
    return x * k


@njit
def y_fnarg_default(f, x):
    return f(x) + 1.0


# a closure made by a factory, passed as an argument
def make_mul(k):
    @njit
    def mul(x):
        return x * k
    return mul


MUL_A = make_mul(2.0)


@njit
def y_fnarg_closure(f, x):
    return f(x) + 1.0


# a module loaded by spec (advy_ext.SETTINGS, not in sys.modules), read by jitted code
@njit
def y_settings_jit(x):
    return x * E.SETTINGS.JIT_K


# a @cfunc held in a global, called by jitted code
@cfunc("float64(float64)")
def CF(x):
    return x * 3.0


@njit
def y_cfunc(x):
    return CF(x) + 1.0


# a cffi function (ffi.dlopen) held in a global (cffi is not a dependency of the tests: without
# it the item gives a fixed text)
try:
    import cffi
except ImportError:          # pragma: no cover - the test environment has it
    cffi = None

if cffi is not None:
    ffi = cffi.FFI()
    ffi.cdef("double cos(double);")
    _libm = ffi.dlopen(ctypes.util.find_library("m"))
    CFFI_COS = _libm.cos

    @njit
    def y_cffi(x):
        return CFFI_COS(x)
else:                        # pragma: no cover
    def y_cffi(x):
        return "cffi is not installed"


# ------------------------------------------------------------------ class 3: by name
# copies of a jitted function's code with other globals (a way to specialize constants)
GK = 2.0


def _gscaled(x):
    return x * GK


y_gscaled = njit(_gscaled)


def with_globals(f, **values):
    g = dict(f.__globals__)
    g.update(values)
    return njit(pytypes.FunctionType(f.__code__, g, f.__name__, f.__defaults__, f.__closure__))


y_gscaled5 = with_globals(_gscaled, GK=5.0)
y_gscaled7 = with_globals(_gscaled, GK=7.0)


# ------------------------------------------------------------------ class 4: process state
# a read-only global table (hashed once), made writeable again and mutated by the app
RO = np.array([1.0, 2.0, 3.0])
RO.flags.writeable = False


@njit
def y_ro_a():
    return RO.sum()


@njit
def y_ro_b():
    return RO[0] * 10.0


# a global array read by a callee two functions share
SHARED = np.array([1.0, 2.0, 3.0])


@njit
def _shared_callee():
    return SHARED[0]


@njit
def y_shared_a():
    return _shared_callee() + 1.0


@njit
def y_shared_b():
    return _shared_callee() + 2.0


# a callee two functions share, the second compiled under BOUNDSCHECK
@njit
def _probe(a, i):
    x = a[i]   # noqa: F841 - without bounds checking the load is dropped: no error
    return 1.0


@njit
def y_bc_a(a):
    return _probe(a, 10) + 1.0


@njit
def y_bc_b(a):
    return _probe(a, 10) + 2.0


# closures whose cells change after a first call (the factory's setter; an array in place)
def make_settable(k):
    @njit
    def settable(x):
        return x * k

    def set_k(v):
        nonlocal k
        k = v
    return settable, set_k


y_settable, set_settable_k = make_settable(2.0)


def make_weighted(w):
    @njit
    def weighted(x):
        return x * w[0]
    return weighted


WARR = np.array([2.0, 1.0])
y_weighted = make_weighted(WARR)


# -- the sentinel: uses nothing above ------------------------------------------------------
@njit
def y_plain(x):
    return x * 1.75 - 0.5
