"""@guvectorize / @vectorize(target='parallel') builders: what identifies them, and serving.
(Recording: gufunc_record.py; identity, extraction and placing: kinds.BuilderKind;
the run-time hooks: install.RuntimeHooks, which imports this module only when a
builder is used.)

These never reach ``add_overload``: a builder compiles each kernel through its
``UFuncDispatcher`` (``_BaseUFuncBuilder.add``) and wraps it in a loop
(``build``: the gufunc wrapper, plus for ``target='parallel'`` the threading
wrapper from ``build_gufunc_kernel``); ``build_ufunc`` then hands the loop
pointers to ``_internal.fromfunc``. The result is a ``GUFunc`` (cpu) or a bare
``np.ufunc`` (parallel), so there is nothing to install into afterwards.
Serving therefore intercepts the two builder steps: ``add`` gets a compile
result standing in for image code, ``build`` returns the image's loop pointer,
and Numba's own ``build_ufunc`` makes the very same ``fromfunc`` call.
"""
from __future__ import annotations

import os
from typing import Any

from ..image.kinds import GUFUNC, UFUNC


def builder_kind(builder) -> str:
    from numba.np.ufunc import ufuncbuilder
    return GUFUNC if isinstance(builder, ufuncbuilder.GUFuncBuilder) else UFUNC


def builder_target(builder) -> str:
    from numba.np.ufunc import parallel
    return "parallel" if isinstance(builder, (parallel.ParallelGUFuncBuilder,
                                              parallel.ParallelUFuncBuilder)) else "cpu"


def builder_identity(builder) -> tuple[dict, dict]:
    """(target options, builder facts) that decide the generated kernel and loop.

    The facts (layout, identity, target, cache, writable args, and for code made
    by ``exec`` the code itself) become part of an entry's identity: numbagg
    builds the same function for 'cpu' and 'parallel', and names every
    AST-rewritten kernel ``__numbagg_transformed_func`` with no source file.
    """
    options = getattr(builder, "targetoptions", None)
    if options is None:
        options = builder.nb_func.targetoptions
    facts: dict[str, Any] = {"target": builder_target(builder), "identity": builder.identity}
    if builder_kind(builder) == GUFUNC:
        facts.update(layout=builder.signature, cache=bool(builder.cache),
                     writable=tuple(builder.writable_args))
    code = builder.py_func.__code__
    if not os.path.isfile(code.co_filename):
        facts["exec_code"] = code       # fingerprinted by the caller
    return dict(options or {}), facts


# ------------------------------------------------------------------ serving
def add_served(builder, sig, cres) -> Any:
    """The rest of ``_BaseUFuncBuilder.add`` once the kernel is 'compiled'."""
    from numba.core import sigutils
    args, return_type = sigutils.normalize_signature(sig)
    fsig = builder._finalize_signature(cres, args, return_type)
    builder._sigs.append(fsig)
    builder._cres[fsig] = cres
    builder.nb_func.overloads.setdefault(cres.signature, cres)
    return cres


def build_served(builder, cres) -> tuple[list[int], int, Any]:
    """What ``build`` returns: (dtype numbers, loop pointer, environment)."""
    from numba.core import types
    from numba.np.numpy_support import as_dtype
    sig = cres.signature
    if builder_target(builder) == "parallel":
        from numba.np.ufunc import parallel
        parallel._launch_threads()
    nums = [as_dtype(a.dtype if isinstance(a, types.Array) else a).num for a in sig.args]
    if builder_kind(builder) == UFUNC:
        nums.append(as_dtype(sig.return_type).num)
    return nums, cres.metadata["snap_loop"], cres.environment
