"""Numba extensions (adversarial harness, group y: a second adversary, class 1): code the
compiler runs at its extension boundaries, reaching what it decides on in ways group x does
not try -- through a global alias, a registry, a helper's default, a partial, a lazy import,
a submodule two levels down, getattr, a NumPy table, a large dict, a closure made at import,
a factory, an lru_cache, a Numba type, an argparse.Namespace, a data file, exec, a bound
method, a backend alias, the environment's names, sys.modules, Numba's thread count.
The callers are in advy_lib.py; each case of tests/test_adversarial.py changes one thing."""
import argparse
import functools
import importlib.util
import json
import os
import sys

import numpy as np
import numba
from numba import types
from numba.extending import intrinsic, overload

import advy_back_c
import advy_back_d
import advy_conf as C
import advy_pkg.sub


# -- a global alias of a helper the typing function calls --------------------------------
def _strat_a(x):
    return 2.0


def _strat_b(x):
    return 3.0


STRATEGY = _strat_a


def tgt_alias(x):
    raise NotImplementedError


@overload(tgt_alias)
def _ov_tgt_alias(x):
    k = STRATEGY(x)
    return lambda x: x * k


# -- a registry of implementation makers, looked up by the typing function ----------------
def _reg_double(x):
    return lambda x: x * 2.0


def _reg_negate(x):
    return lambda x: -x


_REGISTRY = {"float64": _reg_double}


def register(name, maker):
    _REGISTRY[name] = maker


def tgt_registry(x):
    raise NotImplementedError


@overload(tgt_registry)
def _ov_tgt_registry(x):
    return _REGISTRY[str(x)](x)


# -- a default argument of a helper the typing function calls -----------------------------
def _factor(ty, k=2.0):
    return k if isinstance(ty, types.Float) else 1.0


def tgt_hdefault(x):
    raise NotImplementedError


@overload(tgt_hdefault)
def _ov_tgt_hdefault(x):
    k = _factor(x)
    return lambda x: x * k


# -- a functools.partial the typing function calls ----------------------------------------
def _scale_by(ty, k):
    return k


PARTIAL = functools.partial(_scale_by, k=2.0)


def tgt_partial(x):
    raise NotImplementedError


@overload(tgt_partial)
def _ov_tgt_partial(x):
    k = PARTIAL(x)
    return lambda x: x * k


# -- a lazy import inside the typing function ----------------------------------------------
def tgt_lazy(x):
    raise NotImplementedError


@overload(tgt_lazy)
def _ov_tgt_lazy(x):
    from advy_conf import LAZY_K
    return lambda x: x + LAZY_K


# -- a package submodule's constant, two levels down, read by the typing function ----------
def tgt_depth(x):
    raise NotImplementedError


@overload(tgt_depth)
def _ov_tgt_depth(x):
    k = advy_pkg.sub.DEPTH_K
    return lambda x: x * k


# -- a module constant read through getattr with a computed name ----------------------------
def tgt_getattr(x):
    raise NotImplementedError


@overload(tgt_getattr)
def _ov_tgt_getattr(x):
    k = getattr(C, "K_" + str(x))
    return lambda x: x * k


# -- a NumPy coefficient table read by the typing function ----------------------------------
COEF = np.array([1.0, 2.5, 4.0])


def tgt_table(x):
    raise NotImplementedError


@overload(tgt_table)
def _ov_tgt_table(x):
    k = float(COEF[1])
    return lambda x: x * k


# -- a lookup table of more than 64 entries read by the typing function ----------------------
BIG_TABLE = {f"key{i}": float(i) for i in range(100)}
BIG_TABLE["float64"] = 1.5


def tgt_bigdict(x):
    raise NotImplementedError


@overload(tgt_bigdict)
def _ov_tgt_bigdict(x):
    k = BIG_TABLE[str(x)]
    return lambda x: x * k


# -- an implementation made by a factory at import, returned by the typing function ----------
def _make_impl(k):
    def impl(x):
        return x * k
    return impl


_IMPL = _make_impl(2.0)


def tgt_madeimpl(x):
    raise NotImplementedError


@overload(tgt_madeimpl)
def _ov_tgt_madeimpl(x):
    return _IMPL


# -- overloads made by a factory (the typing function is a closure); advy_lib calls it too ---
def make_op(k):
    def op(x):
        raise NotImplementedError

    @overload(op)
    def _ov_op(x):
        return lambda x: x * k
    return op


OP_HERE = make_op(5.0)


# -- a memo dict the typing function fills (data only) ----------------------------------------
_MEMO = {}


def _memo_scale(ty):
    key = str(ty)
    if key not in _MEMO:
        _MEMO[key] = 2.0 if isinstance(ty, types.Float) else 3.0
    return _MEMO[key]


def tgt_memo(x):
    raise NotImplementedError


@overload(tgt_memo)
def _ov_tgt_memo(x):
    k = _memo_scale(x)
    return lambda x: x * k


# -- a class-level cache the typing function fills --------------------------------------------
class Scales:
    _cache = {}

    @classmethod
    def get(cls, ty):
        key = str(ty)
        if key not in cls._cache:
            cls._cache[key] = 4.0 if isinstance(ty, types.Float) else 5.0
        return cls._cache[key]


def tgt_clscache(x):
    raise NotImplementedError


@overload(tgt_clscache)
def _ov_tgt_clscache(x):
    k = Scales.get(x)
    return lambda x: x * k


# -- an lru_cache'd helper the typing function calls (a hit for the second type) --------------
@functools.lru_cache(maxsize=None)
def _cached_k(kind):
    return 2.0 if kind == "f" else 7.0


def tgt_lru(x):
    raise NotImplementedError


@overload(tgt_lru)
def _ov_tgt_lru(x):
    k = _cached_k("f" if isinstance(x, (types.Float, types.Array)) else "i")
    return lambda x: x * k


# -- an @intrinsic whose codegen calls an emitter through a global alias -----------------------
def _emit_add(builder, a, b):
    return builder.add(a, b)


def _emit_sub(builder, a, b):
    return builder.sub(a, b)


EMIT = _emit_add


@intrinsic
def ix_emit(typingctx, a, b):
    sig = types.int64(types.int64, types.int64)

    def codegen(context, builder, signature, args):
        return EMIT(builder, args[0], args[1])
    return sig, codegen


# -- an assert in an overload's implementation (python -O compiles it away) --------------------
def tgt_assert(x):
    raise NotImplementedError


@overload(tgt_assert)
def _ov_tgt_assert(x):
    def impl(x):
        assert x >= 0.0, "negative"
        return x + 1.0
    return impl


# -- a module constant read by a typing function (Numba caches what it typed) ------------------
TYPED_MODE = "fast"


def tgt_tcache(x):
    raise NotImplementedError


@overload(tgt_tcache)
def _ov_tgt_tcache(x):
    if TYPED_MODE == "fast":
        return lambda x: x * 0.5
    return lambda x: x / 3.0


# -- a settings module loaded from its file by spec (not registered in sys.modules) -------------
_spec = importlib.util.spec_from_file_location(
    "advy_settings", os.path.join(os.path.dirname(os.path.abspath(__file__)), "advy_settings.py"))
SETTINGS = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(SETTINGS)


def tgt_settings(x):
    raise NotImplementedError


@overload(tgt_settings)
def _ov_tgt_settings(x):
    k = SETTINGS.SETTINGS_K
    return lambda x: x * k


# -- a Numba type held in a module global, compared by the typing function ---------------------
PREFERRED = types.float64


def tgt_numbatype(x):
    raise NotImplementedError


@overload(tgt_numbatype)
def _ov_tgt_numbatype(x):
    if x == PREFERRED:
        return lambda x: x * 2.0
    return lambda x: x * 3.0


# -- options held in an argparse.Namespace ------------------------------------------------------
OPTIONS = argparse.Namespace(scale=2.0)


def tgt_namespace(x):
    raise NotImplementedError


@overload(tgt_namespace)
def _ov_tgt_namespace(x):
    k = OPTIONS.scale
    return lambda x: x * k


# -- a data file read by a typing helper: in the working directory; next to this module ---------
def _load_k_cwd():
    with open("advy_data.json") as f:
        return json.load(f)["k"]


def tgt_datafile_cwd(x):
    raise NotImplementedError


@overload(tgt_datafile_cwd)
def _ov_tgt_datafile_cwd(x):
    k = _load_k_cwd()
    return lambda x: x * k


_DATA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "advy_data.json")


def _load_k():
    with open(_DATA_PATH) as f:
        return json.load(f)["k"]


def tgt_datafile(x):
    raise NotImplementedError


@overload(tgt_datafile)
def _ov_tgt_datafile(x):
    k = _load_k()
    return lambda x: x * k


# -- the number of threads, asked of Numba by the typing function -------------------------------
def tgt_nthreads(x):
    raise NotImplementedError


@overload(tgt_nthreads)
def _ov_tgt_nthreads(x):
    k = float(numba.get_num_threads())
    return lambda x: x * k


# -- a backend module chosen at import by an environment variable (both are imported) -----------
B2 = advy_back_d if os.environ.get("ADVY_BACKEND2") == "d" else advy_back_c


def tgt_backend2(x):
    raise NotImplementedError


@overload(tgt_backend2)
def _ov_tgt_backend2(x):
    k = B2.BACK_K
    return lambda x: x * k


# -- a helper generated by exec, called by the typing function -----------------------------------
exec("def _gen_k(ty):\n    return 2.0\n", globals())


def tgt_exechelper(x):
    raise NotImplementedError


@overload(tgt_exechelper)
def _ov_tgt_exechelper(x):
    k = _gen_k(x)  # noqa: F821 - made by exec above
    return lambda x: x * k


# -- a bound method as the typing function (its object holds the constant) -----------------------
class Backend:
    def __init__(self, k):
        self.k = k

    def typer(self, x):
        k = self.k
        return lambda x: x * k


BACKEND = Backend(2.0)


def tgt_bound(x):
    raise NotImplementedError


overload(tgt_bound)(BACKEND.typer)


# -- environment variables found by their names ------------------------------------------------
def tgt_envscan(x):
    raise NotImplementedError


@overload(tgt_envscan)
def _ov_tgt_envscan(x):
    if any(k.startswith("ADVY_OPT_") for k in os.environ):
        return lambda x: x * 3.0
    return lambda x: x * 2.0


def tgt_envitems(x):
    raise NotImplementedError


@overload(tgt_envitems)
def _ov_tgt_envitems(x):
    opts = {k: v for k, v in os.environ.items() if k.startswith("ADVY_ITEM_")}
    k = 3.0 if opts else 2.0
    return lambda x: x * k


# -- whether an optional module was imported -------------------------------------------------------
def tgt_modpresent(x):
    raise NotImplementedError


@overload(tgt_modpresent)
def _ov_tgt_modpresent(x):
    if "advy_optional" in sys.modules:
        return lambda x: x * 3.0
    return lambda x: x * 2.0


# -- a typing function with a branch per kind of type, each reading its own constant ----------
FLOAT_K = 2.0
INT_K = 3


def tgt_branch(x):
    raise NotImplementedError


@overload(tgt_branch)
def _ov_tgt_branch(x):
    if isinstance(x, types.Float):
        k = FLOAT_K
        return lambda x: x * k
    k = INT_K
    return lambda x: x + k
