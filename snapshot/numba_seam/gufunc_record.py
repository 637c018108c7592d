"""@guvectorize / @vectorize(target='parallel') builders in the training run: every
kernel a builder compiles and the loop symbol its ``build`` produces (see gufunc.py
for why builders need hooks of their own; kinds.BuilderKind extracts them)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .gufunc import builder_kind
from .specialization import Recorded, observed_now


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
        rec = GuRecorded(self, cres, builder_kind(self), *observed_now(self, cres), sig=self._sigs[-1])
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
