"""@guvectorize / @vectorize(target='parallel') builders at build time: what a
builder compiled and built becomes a Specialization (see gufunc.py for why
builders need hooks of their own)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .gufunc import builder_identity, builder_kind
from .record import Recorded, Specialization, frozen_now, library_module


@dataclass
class GuRecorded(Recorded):
    """A kernel compiled by a builder, and the loop symbol its ``build`` produced."""
    sig: Any = None
    loop: str | None = None          # symbol fromfunc gets (gufunc / parallel wrapper)
    inner: list[str] = field(default_factory=list)   # every wrapper symbol built on the way


def install_recording(recorder) -> None:
    """Hook the builders so that every kernel and its loop symbol are recorded."""
    from numba.np.ufunc import parallel, ufuncbuilder, wrappers
    built: list[list[str]] = []          # wrapper names of the builds in progress
    by_cres: dict[int, GuRecorded] = {}

    def add(orig, self, sig=None):
        cres = orig(self, sig)
        rec = GuRecorded(self, cres, builder_kind(self), *frozen_now(self), sig=self._sigs[-1])
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
    spec.extra["globals"] = rec.globals if rec.globals is not None else {}
    spec.extra["closure"] = rec.closure
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
