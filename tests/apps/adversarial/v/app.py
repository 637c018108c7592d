"""Adversarial harness, group v (class 2: values reached through objects). Also the
training workload: no arguments runs every item. Cases edit this file at the #@ markers
(process state) or the modules it imports."""
import os  # noqa: F401
import sys  # noqa: F401
import warnings  # noqa: F401
#@PRELUDE
import numpy as np
import numba  # noqa: F401
#@AFTER_NUMBA
import snaptest_forbid  # noqa: F401
from adv_runner import main

import advv_lib as L
from advv_kinds import Color, Pt
#@AFTER_IMPORT


def before(name):
    pass
#@HOOKS


ITEMS = {
    "v_default": lambda: L.v_default(2.0),
    "v_owndefault": lambda: L.v_owndefault(2.0),
    "v_default_array": lambda: L.v_default_array(2.0),
    "v_enum": lambda: L.v_enum(),
    "v_intenum": lambda: L.v_intenum(1),
    "v_enum_cmp": lambda: L.v_enum_cmp(Color.RED),
    "v_nt_order": lambda: L.v_nt_order(),
    "v_nt_arg": lambda: L.v_nt_arg(Pt(1.0, 2.0)),
    "v_dtype": lambda: L.v_dtype(),
    "v_jitclass": lambda: L.v_jitclass(),
    "v_jc_global": lambda: L.v_jc_global(),
    "v_ops": lambda: L.v_ops(2.0),
    "v_alias": lambda: L.v_alias(2.0),
    "v_deep": lambda: L.v_deep(1.5),
    "v_modattr": lambda: L.v_modattr(1.5),
    "v_imported": lambda: L.v_imported(1.5),
    "v_fnarg": lambda: L.v_fnarg(L.fn_target, 2.0),
    "v_slice": lambda: L.v_slice(np.arange(6.0)),
    "v_subclass": lambda: L.v_subclass(),
    "v_tuple": lambda: L.v_tuple(),
    "v_str": lambda: L.v_str(),
    "v_npscalar": lambda: L.v_npscalar(3.0),
    "v_flag": lambda: L.v_flag(1.5),
    "v_arr_a": lambda: L.v_arr_a(),
    "v_arr_b": lambda: L.v_arr_b(),
    "v_closure": lambda: L.v_closure(2.0),
    "v_closure_array": lambda: L.v_closure_array(2.0),
    "v_plain": lambda: L.v_plain(1.5),
}

main(ITEMS, before)
