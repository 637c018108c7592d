"""A call leaving out an argument whose default is an array (Numba's ``types.Omitted``, keyed
by the id of the default object) is served from the image when the default is one whose
pickled copy is not the same array: an empty array (its strides are free: ``np.array([[],
[]]).T``, quantecon's ``nelder_mead(bounds=...)``) or a read-only one. The key
snap records is taken from the default itself at build time; the unpickled copy in the
image's payload must not be what the request is compared with (it refused both,
found by quantecon's optimizer). Each result is compared with the plain JIT, bit for bit,
in strict mode (a miss is an error)."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import assert_served_as_jit, small_project

LIB = '''
import numpy as np
from numba import njit

_RO = np.linspace(0.0, 1.0, 5)
_RO.flags.writeable = False

@njit
def with_empty(x, bounds=np.array([[], []]).T, k=3):
    # bounds.shape[0] == 0: unbounded (the default)
    return x * k + bounds.shape[0] + bounds.shape[1]

@njit
def with_readonly(x, table=_RO):
    return (x * table).sum()

@njit
def with_tuple(x, t=(1, 2.5)):
    return x * t[0] + t[1]
'''

WORKLOAD = '''
import olib
olib.with_empty(2.0); olib.with_readonly(2.0); olib.with_tuple(2.0)
'''

APP = '''
import json
import olib
out = {f: float(getattr(olib, f)(2.0)).hex()
       for f in ("with_empty", "with_readonly", "with_tuple")}
out["signatures"] = {f: len(getattr(olib, f).signatures)
                     for f in ("with_empty", "with_readonly", "with_tuple")}
print("APP " + json.dumps(out))
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, Path]:
    return small_project(tmp_path_factory, "omitted", {"olib.py": LIB, "workload.py": WORKLOAD, "app.py": APP},
                         "o.so")


def test_array_defaults_are_served_and_identical(project):
    assert_served_as_jit(*project)
