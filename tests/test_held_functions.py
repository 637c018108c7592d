"""Code that embeds the address of a jitted function (one passed as a value) held where no
module attribute reaches it is served when the function is found again from the entry's
own function (numba_seam/addresses.py, ``closure_targets``):

* in a global of the function's own globals dictionary -- a kernel a code generator
  evaluated in a scope it made (datashader's ``expand_varargs`` evaluates its kernels in a
  copy of the factory's globals and locals, so a closure variable becomes such a global);
* in a jitted callee reached from the entry's function (its closure holds the kernel: the
  kernel's code, with the address, is compiled into the caller's);
* in two closures of the same code holding two different functions: one slot each, every
  entry reaching one of them sharing its slot.

Found by datashader, whose line glyphs were left to the JIT (6 of 97 specializations) and,
once the first case was handled, failed to install (the entries reaching one held function
through different callers named different slots, and the linker kept one). Compared with
the plain JIT bit for bit, in strict mode (a miss or an entry left out is an error)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import assert_ok, assert_served_as_jit, small_project, snap

LIB = '''
import numpy as np
from numba import njit

@njit
def apply_each(f, a, out):
    # long enough that LLVM keeps it a call: the function passed stays an argument, its
    # address in the caller's code
    for i in range(a.shape[0]):
        v = f(a[i])
        for j in range(8):
            if v > 10.0 * (j + 1):
                v = v * 0.5 - j
            elif v < -10.0 * (j + 1):
                v = v * 0.75 + j
            else:
                v = v + np.sin(v) * 1e-3 * j
        out[i] = v

SOURCE = "def kernel(a, out):\\n    apply_each(op, a, out)\\n"

def make(k, c):
    @njit
    def op(x):                         # made here: no module attribute reaches it
        return k * x + c

    # evaluated in a scope of its own: `op` is a global of the kernel's own globals
    scope = dict(globals(), op=op)
    exec(SOURCE, scope)
    kernel = njit(scope["kernel"])

    @njit
    def driver(a):                     # the kernel in its closure, compiled into it
        out = np.empty_like(a)
        kernel(a, out)
        return out
    return kernel, driver

k1_kernel, by_k1 = make(2.0, 0.25)
k2_kernel, by_k2 = make(-1.5, 3.0)
'''

WORKLOAD = '''
import numpy as np
import hlib
a = np.linspace(-2.0, 3.0, 11)
hlib.by_k1(a); hlib.by_k2(a)
out = np.empty_like(a); hlib.k1_kernel(a, out); hlib.k2_kernel(a, out)
'''

APP = '''
import json
import numpy as np
import hlib
a = np.linspace(-2.0, 3.0, 11)
out = {}
for name in ("k1", "k2"):
    kernel, driver = getattr(hlib, name + "_kernel"), getattr(hlib, "by_" + name)
    out["by_" + name] = driver(a).tobytes().hex()
    o = np.empty_like(a)
    kernel(a, o)
    out[name] = o.tobytes().hex()
print("APP " + json.dumps(out))
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> tuple[Path, Path]:
    return small_project(tmp_path_factory, "held", {"hlib.py": LIB, "workload.py": WORKLOAD, "app.py": APP},
                         "h.so")


def test_every_specialization_is_in_the_image(project):
    _, image = project
    p = snap("info", "--json", str(image))
    assert_ok(p)
    doc = json.loads(p.stdout)
    assert doc["skipped"] == []
    functions = [e["function"] for e in doc["entries"]]
    assert functions.count("hlib.make.<locals>.driver") == 2       # the callee's address: via it
    assert functions.count("hlib.kernel") == 2                     # the own globals' address
    assert functions.count("hlib.apply_each") == 2


def test_served_and_identical_to_the_jit(project):
    assert_served_as_jit(*project)
