"""What a jitted object compiles: its Python function and compile options.

A leaf of the seam (it imports nothing of snap): the image contract's
fingerprints use it to follow dispatchers, DUFuncs and gufuncs reached through
globals and closure cells, without knowing how Numba stores them.
"""
from __future__ import annotations

import types as pytypes
from typing import Any


def jitted_parts(v: Any) -> tuple[pytypes.FunctionType | None, dict, str]:
    """(Python function, target options, gufunc layout or "") of a dispatcher, DUFunc or
    GUFunc; (None, {}, "") for anything else."""
    for owner_attr in ("gufunc_builder", "_dispatcher", None):
        owner = v if owner_attr is None else getattr(v, owner_attr, None)
        func = getattr(owner, "py_func", None)
        if isinstance(func, pytypes.FunctionType):
            opts = getattr(owner, "targetoptions", None)
            if opts is None:
                opts = getattr(v, "targetoptions", None)
            layout = getattr(owner, "signature", None)
            return func, dict(opts or {}), (layout if owner_attr == "gufunc_builder"
                                            and isinstance(layout, str) else "")
    return None, {}, ""
