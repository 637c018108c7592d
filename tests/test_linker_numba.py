"""Real Numba code: re-emit a cfunc's LLVM IR as PIC, link it, call it from a fresh process."""
from __future__ import annotations

import pytest

import linker
from linker_util import check_image, emit, run_python

numba = pytest.importorskip("numba")


@pytest.fixture(scope="module")
def numba_image(tmp_path_factory):
    import numpy as np
    from numba import cfunc

    @cfunc("float64(int64)")
    def alloc_sum(n):
        a = np.arange(n) * 1.5           # allocates through NRT
        b = np.empty(n)
        b[:] = a
        return b.sum()

    @cfunc("int64(int64)")
    def checked(x):
        if x < 0:
            raise ValueError("negative input to checked")
        return x + 1

    objs = [emit(f._library.get_llvm_str()) for f in (alloc_sum, checked)]
    path = check_image(linker.link(objs), tmp_path_factory.mktemp("nb") / "numba.so")
    return path, alloc_sum.native_name, checked.native_name


RUNNER = """
import ctypes, sys
import numba, llvmlite.binding as llvm
from numba.core.runtime import _nrt_python
numba.njit(lambda x: x + 1)(1)           # initialise Numba's runtime symbols (not the image's code)
import linker

def resolve(name):
    if name.startswith("NRT_") and name[4:] in _nrt_python.c_helpers:
        return _nrt_python.c_helpers[name[4:]]
    return llvm.address_of_symbol(name) or None

img = linker.load({path!r}, resolve)
alloc_sum = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_int64)(img.address({alloc!r}))
checked = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)(img.address({checked!r}))
print(alloc_sum(10), alloc_sum(1000), checked(41), flush=True)
checked(-1)
print("survived", flush=True)
"""


def test_numba_cfuncs_in_fresh_process(numba_image):
    path, alloc, checked = numba_image
    with linker.ImageFile.open(path) as f:
        assert any(n.startswith("NRT_") for n in f.imports)
        assert alloc in f.exports and checked in f.exports
    r = run_python(RUNNER.format(path=str(path), alloc=alloc, checked=checked))
    lines = r.stdout.split("\n")
    assert lines[0].split() == [repr(1.5 * 45.0), repr(1.5 * 999 * 1000 / 2), "42"]
    assert "negative input to checked" in r.stderr       # the cfunc reports the exception as unraisable
    assert lines[1] == "survived"
