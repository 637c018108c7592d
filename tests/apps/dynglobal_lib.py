"""Jitted functions whose code embeds process addresses ("dynamic globals").

* ``ppf_wap`` / ``ppf_ctypes``: scipy's ``cython_special.ndtri`` called through a
  function pointer from ``get_cython_function_address``, as a
  ``WrapperAddressProtocol`` object (numba-stats' way) and as a ctypes pointer;
* ``threads_sum`` / ``threads_ok``: ``numba.get_num_threads()`` in a
  ``parallel=True`` function and in a plain one (a ctypes pointer into Numba's
  threading layer);
* ``call_triple``: a ctypes callback that the program registers with llvmlite
  under a name -- unless ``DYNGLOBAL_UNREGISTERED=1``, which makes the name
  missing at run time (the image entry must then fall back to the JIT);
* ``cos_twice``: libm's ``cos`` through a module-level ctypes pointer;
* ``call_neg``: a ctypes callback only a closure holds (cannot be named: reported);
* ``seeded_draw``: an outer function with a ``with objmode`` block;
* ``pair_sum``: builds a structref (its constructor is made by exec).
"""
import ctypes
import ctypes.util
import os

import llvmlite.binding as ll
import numba
import numpy as np
from numba.core import types
from numba.experimental import structref
from numba.extending import get_cython_function_address
from numba.types import WrapperAddressProtocol, float64

_NDTRI = get_cython_function_address("scipy.special.cython_special", "ndtri")
_D2D = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)


class Ndtri(WrapperAddressProtocol):
    def __wrapper_address__(self):
        return _NDTRI

    def signature(self):
        return float64(float64)


ndtri_wap = Ndtri()
ndtri_ctypes = _D2D(_NDTRI)


@numba.njit
def ppf_wap(p):
    out = np.empty_like(p)
    for i in range(p.size):
        out[i] = ndtri_wap(p[i])
    return out


@numba.njit
def ppf_ctypes(p):
    out = np.empty_like(p)
    for i in range(p.size):
        out[i] = ndtri_ctypes(p[i]) * 2.0
    return out


@numba.njit(parallel=True)
def threads_sum(x):
    n = numba.get_num_threads()
    acc = 0.0
    for i in numba.prange(x.size):
        acc += x[i]
    return acc, n >= 1


@numba.njit
def threads_ok():
    """get_num_threads() outside parallel code: the image starts the threading layer itself."""
    return numba.get_num_threads() >= 1


def _triple(v):
    return 3.0 * v


triple_cb = _D2D(_triple)
if os.environ.get("DYNGLOBAL_UNREGISTERED") != "1":
    ll.add_symbol("dynglobal_triple", ctypes.cast(triple_cb, ctypes.c_void_p).value)


@numba.njit
def call_triple(x):
    return triple_cb(x) + 1.0


libm_cos = ctypes.CDLL(ctypes.util.find_library("m")).cos   # an IFUNC: dladdr cannot name it
libm_cos.restype, libm_cos.argtypes = ctypes.c_double, [ctypes.c_double]


@numba.njit
def cos_twice(x):
    return 2.0 * libm_cos(x)


def _make_call_neg():
    neg_cb = _D2D(lambda v: -v)      # reachable from no module: its address names nothing

    @numba.njit
    def call_neg(x):
        return neg_cb(x)
    return call_neg


call_neg = _make_call_neg()


@numba.njit
def _seed(seed):
    if seed is None:
        with numba.objmode(seed="optional(uint64)"):     # runs in the interpreter
            seed = int.from_bytes(os.fsencode("snap"), "little") % 100003
    np.random.seed(seed)


@numba.njit("float64[:](int64, optional(uint64))")
def seeded_draw(n, seed):
    """Like numba-stats' eager _rvs functions: calls a function with an objmode block."""
    _seed(seed)
    return np.random.random(n)


# A structref, like pynndescent's SearchIndex: its constructor is generated with exec.
@structref.register
class PairType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class Pair(structref.StructRefProxy):
    def __new__(cls, a, b):
        return structref.StructRefProxy.__new__(cls, a, b)


structref.define_proxy(Pair, PairType, ["a", "b"])


@numba.njit
def pair_sum(a, b):
    p = Pair(a, b)          # calls the exec-generated constructor (a `<string>` callee)
    return p.a + p.b
