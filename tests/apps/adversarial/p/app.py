"""Adversarial harness, group p (class 4: state of the process after activation). Also the
training workload: no arguments runs every item. Cases edit this file at the #@ markers
(numba.config, os.environ, warning filters, hooks), advp_lib.py, or run it with another
environment or Python options."""
import os  # noqa: F401
import sys  # noqa: F401
import warnings  # noqa: F401
#@PRELUDE
import importlib
import pathlib  # noqa: F401

import numpy as np
import numba  # noqa: F401
#@AFTER_NUMBA
import snaptest_forbid  # noqa: F401
from adv_runner import main

import advp_lib as L
import advp_mod
#@AFTER_IMPORT


def before(name):
    pass


def rewrite_module(old, new):
    """Edit advp_mod.py on disk (between the two calls of a reload item)."""
    path = pathlib.Path(advp_mod.__file__)
    text = path.read_text()
    assert text.count(old) == 1, (old, text)
    path.write_text(text.replace(old, new))


def edit_before_reload():
    pass
#@HOOKS


BIG = np.arange(10.0)
DATA = np.random.default_rng(0).standard_normal(1003) * 1e3
FMA_A = np.random.default_rng(1).standard_normal(16)
FMA_B = np.random.default_rng(2).standard_normal(16)
FMA_C = np.random.default_rng(3).standard_normal(16)


def reloaded(fname):
    """Call advp_mod.<fname>, edit and reload the module, call the new function."""
    global advp_mod
    first = getattr(advp_mod, fname)(1.5)
    edit_before_reload()
    advp_mod = importlib.reload(advp_mod)
    return (first, getattr(advp_mod, fname)(1.5))


ITEMS = {
    "p_oob": lambda: L.p_oob(BIG[:4], 5),
    "p_oob_checked": lambda: L.p_oob_checked(BIG[:4], 5),
    "p_fsum": lambda: L.p_fsum(DATA),
    "p_fma": lambda: L.p_fma(FMA_A, FMA_B, FMA_C),
    "p_par": lambda: L.p_par(2.0),
    "p_garr_a": lambda: L.p_garr_a(),
    "p_garr_b": lambda: L.p_garr_b(),
    "p_gsig_int": lambda: L.p_gsig(2),
    "p_gsig_float": lambda: L.p_gsig(2.0),
    "p_reload": lambda: reloaded("p_rl"),
    "p_reload_global": lambda: reloaded("p_rl_global"),
    "p_quiet": lambda: L.p_quiet(1.5),
}

main(ITEMS, before)
