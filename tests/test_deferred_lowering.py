"""A served process makes ``@vectorize`` DUFuncs without importing Numba's ufunc lowering
(numba_seam/deferred_lowering.py, issue 28): npyimpl and its ~20 modules stay unimported
until a compilation needs them, and everything reads as after the full import -- a call of
the DUFunc compiled on a miss, and overload resolution over registrations made meanwhile.

Measured by scripts/bench_start.py (never timed here)."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import small_project, tagged_json

LIB = '''
import numpy as np
from numba import njit, vectorize, types
from numba.extending import overload_method

@vectorize
def twice(x):
    return 2.0 * x + 0.1

@njit
def use(a):
    return twice(a).sum()

# registered after the first DUFunc: Numba's unicode module (imported by npyimpl) has its own
# 'upper'; which one a compilation picks depends on the registration order
@overload_method(types.UnicodeType, "upper")
def my_upper(s):
    def impl(s):
        return s + s
    return impl
'''

WORKLOAD = '''
import numpy as np
import vlib
vlib.use(np.linspace(0.0, 1.0, 9))
'''

APP = '''
import json, sys
import numpy as np
import vlib
from numba import njit
out = {"use": float(vlib.use(np.linspace(0.0, 1.0, 9))).hex(),
       "npyimpl_after_served_call": "numba.np.npyimpl" in sys.modules}
if "--miss" in sys.argv:
    @njit
    def up(s):
        return s.upper()

    @njit
    def calls_the_dufunc(a):            # lowering a call of the DUFunc: its deferred kernel
        return vlib.twice(a)[::2].copy()

    out["up"] = up("abc")
    out["dufunc"] = calls_the_dufunc(np.arange(7.0)).tobytes().hex()
    out["npyimpl_after_miss"] = "numba.np.npyimpl" in sys.modules
print("APP " + json.dumps(out))
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, Path]:
    return small_project(tmp_path_factory, "dlower", {"vlib.py": LIB, "workload.py": WORKLOAD, "app.py": APP}, "v.so")


def _app(d: Path, *args: str, **env: str) -> dict:
    return tagged_json(d, "app.py", "APP", *args, **env)


def test_a_served_dufunc_caller_runs_without_numbas_ufunc_lowering(project):
    d, image = project
    plain = _app(d)
    assert plain["npyimpl_after_served_call"]            # the JIT imports it with the DUFunc
    served = _app(d, SNAP_SYSIMAGE=str(image), SNAP_STRICT="1")     # strict: no compilation
    assert served["use"] == plain["use"]
    assert not served["npyimpl_after_served_call"]
    # the switch back: imported with the DUFunc, as without snap
    assert _app(d, SNAP_SYSIMAGE=str(image), SNAP_STRICT="1", SNAP_NO_DEFER="1")["npyimpl_after_served_call"]


def test_a_miss_after_deferral_compiles_as_the_jit_with_numbas_registrations_first(project):
    """Without the flush moving npyimpl's registrations back before the program's, ``up``
    resolves to Numba's ``str.upper`` ("ABC") where the JIT resolves the program's ("abcabc")."""
    d, image = project
    plain = _app(d, "--miss")
    served = _app(d, "--miss", SNAP_SYSIMAGE=str(image))
    assert plain["up"] == "abcabc"
    for key in ("use", "up", "dufunc"):
        assert served[key] == plain[key], key
    assert not served["npyimpl_after_served_call"] and served["npyimpl_after_miss"]
