"""Adversarial harness, group y (a second adversary: all four classes). Also the training
workload: no arguments runs every item. Cases edit this file at the #@ markers (process
state), its text (what it imports and passes), the modules it imports, or run it with
another environment or Python options."""
import os  # noqa: F401
import sys  # noqa: F401
import warnings  # noqa: F401
#@PRELUDE
import importlib.util

import numpy as np
import numba  # noqa: F401
#@AFTER_NUMBA
import snaptest_forbid  # noqa: F401
from adv_runner import main

import advy_ext as E
import advy_lib as L
import advy_ord_a  # noqa: F401 - registers an overload of advy_targets.tgt_order
import advy_ord_b  # noqa: F401 - registers another one (tried second)
import advy_pipe
#@AFTER_IMPORT

HERE = os.path.dirname(os.path.abspath(__file__))


def load_plugin(fname, name, register):
    """A plugin loaded from its file (plugins/ is not on sys.path)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, "plugins", fname))
    mod = importlib.util.module_from_spec(spec)
    if register:
        sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


PLUGIN = load_plugin("advy_plugin.py", "advy_plugin", register=False)
# two plugins loaded as one module name (each registered, the second replacing the first)
PLUG_A = load_plugin("plug_a.py", "advy_plug", register=True)
PLUG_B = load_plugin("plug_b.py", "advy_plug", register=True)


def before(name):
    pass
#@HOOKS


ITEMS = {
    # class 1
    "y_alias": lambda: L.y_alias(1.5),
    "y_registry": lambda: L.y_registry(1.5),
    "y_hdefault": lambda: L.y_hdefault(1.5),
    "y_partial": lambda: L.y_partial(1.5),
    "y_lazy": lambda: L.y_lazy(1.5),
    "y_depth": lambda: L.y_depth(1.5),
    "y_getattr": lambda: L.y_getattr(1.5),
    "y_table": lambda: L.y_table(1.5),
    "y_bigdict": lambda: L.y_bigdict(1.5),
    "y_madeimpl": lambda: L.y_madeimpl(1.5),
    "y_factory_op": lambda: L.y_factory_op(1.5),
    "y_factory_here": lambda: L.y_factory_here(1.5),
    "y_memo_a": lambda: L.y_memo_a(1.5),
    "y_memo_c": lambda: L.y_memo_c(2),
    "y_memo2": lambda: L.y_memo2(1.5, 2),
    "y_clscache_a": lambda: L.y_clscache_a(1.5),
    "y_clscache_b": lambda: L.y_clscache_b(2),
    "y_lru_a": lambda: L.y_lru_a(1.5),
    "y_lru_b": lambda: L.y_lru_b(np.array([1.5])),
    "y_emit": lambda: L.y_emit(10, 3),
    "y_assert": lambda: L.y_assert(-1.0),
    "y_settings": lambda: L.y_settings(1.5),
    "y_numbatype": lambda: L.y_numbatype(1.5),
    "y_namespace": lambda: L.y_namespace(1.5),
    "y_datafile_cwd": lambda: L.y_datafile_cwd(1.5),
    "y_datafile": lambda: L.y_datafile(1.5),
    "y_backend2": lambda: L.y_backend2(1.5),
    "y_exec_helper": lambda: L.y_exec_helper(1.5),
    "y_bound": lambda: L.y_bound(1.5),
    "y_envitems": lambda: L.y_envitems(1.5),
    "y_branch": lambda: L.y_branch(1.5),
    "y_order": lambda: L.y_order(1.5),
    "y_pipe": lambda: advy_pipe.y_pipe_caller(1.5),
    "y_inline_cost": lambda: L.y_inline_cost(1.5),
    # class 2
    "y_subarray": lambda: L.y_subarray(),
    "y_strides": lambda: L.y_strides(),
    "y_nan_sign": lambda: L.y_nan_sign(),
    "y_fnarg_default": lambda: L.y_fnarg_default(L.fn_dflt, 2.0),
    "y_fnarg_closure": lambda: L.y_fnarg_closure(L.MUL_A, 2.0),
    "y_settings_jit": lambda: L.y_settings_jit(1.5),
    "y_cfunc": lambda: L.y_cfunc(1.5),
    "y_cffi": lambda: L.y_cffi(0.5),
    "y_plugin": lambda: PLUGIN.y_plugin(1.5),
    # class 3
    "y_gscaled": lambda: L.y_gscaled(1.5),
    "y_gscaled5": lambda: L.y_gscaled5(1.5),
    "y_plug_a": lambda: PLUG_A.run(1.5),
    "y_plug_b": lambda: PLUG_B.run(1.5),
    # class 4
    "y_nthreads": lambda: L.y_nthreads(1.5),
    "y_envscan": lambda: L.y_envscan(1.5),
    "y_modpresent": lambda: L.y_modpresent(1.5),
    "y_tcache_a": lambda: L.y_tcache_a(1.5),
    "y_tcache_b": lambda: L.y_tcache_b(1.5),
    "y_ro_a": lambda: L.y_ro_a(),
    "y_ro_b": lambda: L.y_ro_b(),
    "y_shared_a": lambda: L.y_shared_a(),
    "y_shared_b": lambda: L.y_shared_b(),
    "y_bc_a": lambda: L.y_bc_a(np.arange(3.0)),
    "y_bc_b": lambda: L.y_bc_b(np.arange(3.0)),
    "y_settable_f": lambda: L.y_settable(1.5),
    "y_settable_i": lambda: L.y_settable(2),
    "y_weighted_f": lambda: L.y_weighted(1.5),
    "y_weighted_i": lambda: L.y_weighted(2),
    "y_plain": lambda: L.y_plain(1.5),
}

# entries snap leaves to the JIT by design, with their reason (snap create lists them): code
# embedding the address of a @cfunc or cffi function pointer, a jitted function made inside
# another function passed as an argument (not nameable from another process). Whether they
# could be served is a question of coverage, not of validity: run only when named
NOT_SERVABLE = frozenset({"y_cfunc", "y_cffi", "y_fnarg_closure"})

main(ITEMS, before, NOT_SERVABLE)
