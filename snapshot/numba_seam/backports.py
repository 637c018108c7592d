"""Numba 0.67's reproducibility fixes, given to the training run of older releases.

Numba 0.67 (issue numba#10610) stopped putting process addresses into the code it
emits: ``CPUContext`` got an address-free ``__repr__`` (each cfunc wrapper embeds
``repr(context)``) and the globals holding pickled constants are named by the SHA-1
of their content instead of ``id(obj)``. On 0.63-0.66 two builds of one workload would
differ in those bytes (string constants, symbol names in ``.symtab``). The training
run installs the 0.67 behaviour on those releases (flags in releases.py): the names
and the message text change, never the code or the pickled data.
"""
from __future__ import annotations

import hashlib
from typing import Any

from . import Patches, releases


def context_repr(ctx: Any) -> str:
    """numba 0.67's ``CPUContext.__repr__``."""
    return f"<{type(ctx).__module__}.{type(ctx).__name__}>"


def install(patches: Patches) -> None:
    """Install what this release lacks, undone with ``patches``."""
    if not releases.DETERMINISTIC_CONTEXT_REPR:
        from numba.core import cpu
        # inherited from object: the undo deletes the class's own attribute again
        assert "__repr__" not in cpu.CPUContext.__dict__
        cpu.CPUContext.__repr__ = context_repr
        patches._undo.append(lambda: delattr(cpu.CPUContext, "__repr__"))
    if not releases.CONTENT_NAMED_PICKLES:
        _content_named_pickles(patches)


def _content_named_pickles(patches: Patches) -> None:
    """numba 0.67's ``PythonAPI.serialize_uncached``/``serialize_object`` (0.63-0.66 name
    the globals ``.const.pickledata.<id(obj)>``; 0.67 by the pickle's SHA-1, identical
    otherwise: same struct, same data, same hash buffer)."""
    from llvmlite import ir
    from numba.core import cgutils, config, pythonapi, serialize

    def serialize_data(api: Any, data: bytes) -> tuple[Any, bytes]:
        assert len(data) < 2**31
        digest = hashlib.sha1(data).digest()
        suffix = digest.hex() if config.DIFF_IR == 0 else "DIFF_IR"
        name = ".const.pickledata.%s" % suffix
        arr = api.context.insert_unique_const(api.module, name, cgutils.make_bytearray(data))
        hasharr = api.context.insert_unique_const(api.module, f"{name}.sha1",
                                                  cgutils.make_bytearray(digest))
        struct = ir.Constant.literal_struct([
            arr.bitcast(api.voidptr),
            ir.Constant(ir.IntType(32), arr.type.pointee.count),
            hasharr.bitcast(api.voidptr),
            cgutils.get_null_value(api.voidptr),
            ir.Constant(ir.IntType(32), 0),
        ])
        return struct, digest

    def serialize_uncached(orig, api, obj):
        return serialize_data(api, serialize.dumps(obj))[0]

    def serialize_object(orig, api, obj):
        cache = api.module._PythonAPI__serialized       # PythonAPI's per-module cache
        try:
            return cache[obj]
        except KeyError:
            struct, digest = serialize_data(api, serialize.dumps(obj))
            suffix = digest.hex() if config.DIFF_IR == 0 else "DIFF_IR"
            gv = api.context.insert_unique_const(api.module, ".const.picklebuf.%s" % suffix, struct)
            cache[obj] = gv
            return gv

    patches.wrap(pythonapi.PythonAPI, "serialize_uncached", serialize_uncached)
    patches.wrap(pythonapi.PythonAPI, "serialize_object", serialize_object)
