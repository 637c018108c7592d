"""Real Numba code: re-emit a cfunc's LLVM IR as PIC, link it, call it from a fresh process."""
from __future__ import annotations

import pytest

import linker
from linker_util import check_image, emit, run_python

numba = pytest.importorskip("numba")


@pytest.fixture(scope="module")
def numba_image(tmp_path_factory):
    import numpy as np
    from numba import carray, cfunc, types

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

    @cfunc(types.float64(types.CPointer(types.float64), types.int64))
    def median_det(p, n):                # sort + LAPACK (numba_xxgetrf) through the import table
        a = carray(p, (n,)).copy()
        a.sort()
        m = np.empty((3, 3))
        m[:] = 0.0
        for i in range(3):
            m[i, i] = i + 2.0
        return a[n // 2] + np.linalg.det(m)

    @cfunc("int64(int64)")
    def dict_count(n):                   # typed dict: numba_dict_* helpers
        d = {0: 0}
        for i in range(n):
            d[i % 7] = d.get(i % 7, 0) + 1
        return len(d) * 1000 + d[0]

    funcs = (alloc_sum, checked, median_det, dict_count)
    objs = [emit(f._library.get_llvm_str()) for f in funcs]      # one object per Numba library
    path = check_image(linker.link(objs), tmp_path_factory.mktemp("nb") / "numba.so")
    return (path, *(f.native_name for f in funcs))


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
median_det = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.POINTER(ctypes.c_double), ctypes.c_int64)(
    img.address({median_det!r}))
dict_count = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)(img.address({dict_count!r}))
x = (ctypes.c_double * 5)(5.0, 1.0, 4.0, 2.0, 3.0)
print(alloc_sum(10), alloc_sum(1000), checked(41), round(median_det(x, 5), 9), dict_count(100), flush=True)
checked(-1)
print("survived", flush=True)
"""


def test_numba_cfuncs_in_fresh_process(numba_image):
    path, alloc, checked, median_det, dict_count = numba_image
    with linker.ImageFile.open(path) as f:
        assert any(n.startswith("NRT_") for n in f.imports)
        assert {"numba_xxgetrf", "numba_dict_insert"} <= set(f.imports)
        assert {alloc, checked, median_det, dict_count} <= set(f.exports)
    r = run_python(RUNNER.format(path=str(path), alloc=alloc, checked=checked, median_det=median_det,
                                 dict_count=dict_count))
    lines = r.stdout.split("\n")
    assert lines[0].split() == [repr(1.5 * 45.0), repr(1.5 * 999 * 1000 / 2), "42", repr(3.0 + 24.0), "7015"]
    assert "negative input to checked" in r.stderr       # the cfunc reports the exception as unraisable
    assert lines[1] == "survived"
