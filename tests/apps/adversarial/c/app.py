"""Adversarial harness, group c (class 3: classes keyed by name). Also the training
workload: no arguments runs every item. Cases edit this file at the #@ markers or
advc_lib.py."""
import os  # noqa: F401
import sys  # noqa: F401
import warnings  # noqa: F401
#@PRELUDE
import numpy as np  # noqa: F401
import numba  # noqa: F401
#@AFTER_NUMBA
import snaptest_forbid  # noqa: F401
from adv_runner import main

import advc_lib as L
#@AFTER_IMPORT


def before(name):
    pass
#@HOOKS


def raise_caught(label, check, own, other):
    """The closure's own class is raised: caught by its own except clause, not the other's."""
    try:
        check(-1.0)
        return f"{label}: no exception"
    except own as e:
        return f"{label}: own {type(e).__qualname__}({e}) str={str(e)!r}"
    except other as e:
        return f"{label}: OTHER closure's class ({e})"
    except Exception as e:  # noqa: BLE001
        return f"{label}: neither class: {type(e).__module__}.{type(e).__qualname__}({e})"


def errors():
    return (raise_caught("a", L.check_a, L.ErrA, L.ErrB), raise_caught("b", L.check_b, L.ErrB, L.ErrA))


def limit():
    try:
        return L.c_limit(11.0)
    except L.LimitError as e:
        return f"caught LimitError({e}) str={str(e)!r} bases={[b.__name__ for b in type(e).__mro__]}"
    except Exception as e:  # noqa: BLE001
        return f"not caught as LimitError: {type(e).__module__}.{type(e).__qualname__}({e})"


def units():
    """Each dispatcher compiles (first call) while its own class is the global ``Unit``."""
    f2 = L.configured_unit(2)
    r2 = f2(1.5)
    f5 = L.configured_unit(5)
    return (r2, f5(1.5))


ITEMS = {
    "c_modes": lambda: (L.mode2(1.5), L.mode3(1.5)),
    "c_mode3": lambda: L.mode3(1.5),
    "c_errors": errors,
    "c_error_b": lambda: raise_caught("b", L.check_b, L.ErrB, L.ErrA),
    "c_pairs": lambda: (L.pair_xy(1.0, 2.0), L.pair_yx(1.0, 2.0)),
    "c_boxes": lambda: (L.box2(1.5), L.box5(1.5)),
    "c_box5": lambda: L.box5(1.5),
    "c_cells": lambda: (L.cell_f(1.5), L.cell_i(3)),
    "c_units": units,
    "c_limit": limit,
    "c_plain": lambda: L.c_plain(1.5),
}

main(ITEMS, before)
