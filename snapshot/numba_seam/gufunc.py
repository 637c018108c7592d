"""@guvectorize / @vectorize(target='parallel') builders: recording and serving.

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
from dataclasses import dataclass, field
from typing import Any, Callable

from . import Patches
from .record import Recorded, Specialization, library_module

GUFUNC_KINDS = ("gufunc", "ufunc")


@dataclass
class GuRecorded(Recorded):
    """A kernel compiled by a builder, and the loop symbol its ``build`` produced."""
    sig: Any = None
    loop: str | None = None          # symbol fromfunc gets (gufunc / parallel wrapper)
    inner: list[str] = field(default_factory=list)   # every wrapper symbol built on the way


def builder_kind(builder) -> str:
    from numba.np.ufunc import ufuncbuilder
    return "gufunc" if isinstance(builder, ufuncbuilder.GUFuncBuilder) else "ufunc"


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
    if builder_kind(builder) == "gufunc":
        facts.update(layout=builder.signature, cache=bool(builder.cache),
                     writable=tuple(builder.writable_args))
    code = builder.py_func.__code__
    if not os.path.isfile(code.co_filename):
        facts["exec_code"] = code       # fingerprinted by the caller
    return dict(options or {}), facts


# ------------------------------------------------------------------ recording
def install_recording(recorder) -> None:
    """Hook the builders so that every kernel and its loop symbol are recorded."""
    from numba.np.ufunc import parallel, ufuncbuilder, wrappers
    built: list[list[str]] = []          # wrapper names of the builds in progress
    by_cres: dict[int, GuRecorded] = {}

    def add(orig, self, sig=None):
        cres = orig(self, sig)
        rec = GuRecorded(self, cres, builder_kind(self), sig=self._sigs[-1])
        recorder.records.append(rec)
        by_cres[id(cres)] = rec
        return cres

    def note_wrapper(orig, *a, **kw):
        info = orig(*a, **kw)
        if built:
            built[-1].append(info.name)
        return info

    def build(orig, self, cres, *a):
        built.append([])
        try:
            out = orig(self, cres, *a)
        finally:
            names = built.pop()
        rec = by_cres.get(id(cres))
        if rec is not None and rec.cres is cres and names:
            rec.loop, rec.inner = names[-1], names
        return out

    recorder.wrap(ufuncbuilder._BaseUFuncBuilder, "add", add)
    recorder.wrap(wrappers._GufuncWrapper, "build", note_wrapper)
    recorder.wrap(ufuncbuilder, "build_ufunc_wrapper", note_wrapper)
    recorder.wrap(parallel, "build_gufunc_kernel", note_wrapper)
    for cls in (ufuncbuilder.UFuncBuilder, ufuncbuilder.GUFuncBuilder,
                parallel.ParallelUFuncBuilder, parallel.ParallelGUFuncBuilder):
        recorder.wrap(cls, "build", build)


def specialization(rec: GuRecorded) -> Specialization:
    cres, builder = rec.cres, rec.owner
    fndesc = cres.fndesc
    py_func = builder.py_func
    options, facts = builder_identity(builder)
    spec = Specialization(
        kind=rec.kind, owner=builder, py_func=py_func, module=py_func.__module__,
        qualname=py_func.__qualname__, options=options, args=tuple(cres.signature.args),
        return_type=cres.signature.return_type, library=cres.library,
        environment=cres.environment, mangled=fndesc.mangled_name, wrapper=None, cfunc=None,
        env_name=fndesc.env_name, loop=rec.loop, parfors=facts["target"] == "parallel")
    spec.extra["fndesc"] = {"modname": fndesc.modname, "qualname": fndesc.qualname,
                            "uid": fndesc.uid, "abi_tags": tuple(fndesc.abi_tags),
                            "argnames": tuple(fndesc.args)}
    spec.extra["builder"] = facts
    spec.reason = _unservable_reason(rec, spec)
    return spec


def _unservable_reason(rec: GuRecorded, spec: Specialization) -> str | None:
    cres = rec.cres
    if cres.objectmode:
        return "object mode kernel"
    if cres.lifted:
        return "kernel contains lifted code (object mode loops)"
    if rec.loop is None:
        return "the workload never built the ufunc for this kernel (build_ufunc not called)"
    if cres.library.has_dynamic_globals:
        return "code embeds process addresses (dynamic globals)"
    if cres.environment is not None and not cres.environment.can_cache():
        return "environment of a dynamically created function"
    mod = library_module(cres.library)
    if not any(f.name == spec.mangled and not f.is_declaration for f in mod.functions):
        return "kernel code not found in its library"
    return None


# ------------------------------------------------------------------ serving
def signature_args(sig) -> tuple:
    """The argument types of a signature as given to ``add`` (text, tuple or Signature)."""
    from numba.core import sigutils
    args, _ = sigutils.normalize_signature(sig)
    return tuple(args)


def make_image_cres(builder, *, fndesc, library, env, args, return_type, loop_address: int):
    """A compile result for a kernel served from the image (carries its loop pointer)."""
    from .install import make_compile_result
    cres = make_compile_result(builder.nb_func, fndesc=fndesc, library=library, env=env,
                               entry_point=None, args=args, return_type=return_type)
    cres.metadata["snap_loop"] = int(loop_address)
    return cres


def _add_served(builder, sig, cres) -> Any:
    """The rest of ``_BaseUFuncBuilder.add`` once the kernel is 'compiled'."""
    from numba.core import sigutils
    args, return_type = sigutils.normalize_signature(sig)
    fsig = builder._finalize_signature(cres, args, return_type)
    builder._sigs.append(fsig)
    builder._cres[fsig] = cres
    builder.nb_func.overloads.setdefault(cres.signature, cres)
    return cres


def _build_served(builder, cres) -> tuple[list[int], int, Any]:
    """What ``build`` returns: (dtype numbers, loop pointer, environment)."""
    from numba.core import types
    from numba.np.numpy_support import as_dtype
    sig = cres.signature
    if builder_target(builder) == "parallel":
        from numba.np.ufunc import parallel
        parallel._launch_threads()
    nums = [as_dtype(a.dtype if isinstance(a, types.Array) else a).num for a in sig.args]
    if builder_kind(builder) == "ufunc":
        nums.append(as_dtype(sig.return_type).num)
    return nums, cres.metadata["snap_loop"], cres.environment


class GufuncHooks(Patches):
    """Run time: ``on_add(builder, sig)`` returns an image compile result, or None for the JIT."""

    def __init__(self, on_add: Callable[[Any, Any], Any]) -> None:
        super().__init__()
        self.on_add = on_add

    def install(self) -> None:
        from numba.np.ufunc import parallel, ufuncbuilder
        hooks = self

        def add(orig, self, sig=None):
            cres = hooks.on_add(self, sig) if sig is not None else None
            if cres is None:
                return orig(self, sig)
            return _add_served(self, sig, cres)

        def build(orig, self, cres, *a):
            if "snap_loop" in (getattr(cres, "metadata", None) or {}):
                return _build_served(self, cres)
            return orig(self, cres, *a)

        self.wrap(ufuncbuilder._BaseUFuncBuilder, "add", add)
        for cls in (ufuncbuilder.UFuncBuilder, ufuncbuilder.GUFuncBuilder,
                    parallel.ParallelUFuncBuilder, parallel.ParallelGUFuncBuilder):
            self.wrap(cls, "build", build)
