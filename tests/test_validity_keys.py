"""In-process checks of the validity model: the key `snap create` gives an entry
(build.plan) is the key the runtime asks for (runtime._state / serve), per kind, and
frozen-global fingerprints follow exactly the values Numba freezes. Seconds, no image."""
from __future__ import annotations

import numpy as np
import pytest
from numba import cfunc, int64, njit, types, vectorize

from snapshot import numba_seam, validity
from snapshot.build import _identity
from snapshot.numba_seam import install, record

G_SCALE = 2.0
G_TABLE = np.arange(4.0)


@njit
def helper(x):
    return x * G_SCALE


def user(x):
    return helper(x) + G_TABLE[1]


def _div(a, b):
    c = a / b
    return c


@pytest.fixture()
def recorder():
    rec = record.Recorder()
    rec.install()
    yield rec
    rec.uninstall()


def _specs_of(recorder, py_func, kind: str) -> list:
    """The specializations the recorder extracted (when compiled) for ``py_func``'s ``kind``."""
    specs = record.specializations(recorder.records)
    return [s for s in specs if s.py_func is py_func and s.kind == kind]


def _run_side_key(owner, kind: str, py_func) -> tuple:
    k = validity.key_of(kind, numba_seam.compile_options(owner, kind), py_func)
    return (k.kind, k.options, k.closure, k.code)


def _build_side_key(spec) -> tuple:
    ident = _identity(spec)
    assert not isinstance(ident, str), ident
    return (ident.kind, ident.options, ident.closure, ident.code), ident


def test_dispatcher_keys_agree(recorder):
    lazy = njit(user)
    eager = njit("float64(float64)")(user)
    with_locals = njit(locals={"c": int64})(_div)
    lazy(1.0)
    with_locals(8, 3)
    for owner, explicit in ((lazy, False), (eager, True), (with_locals, False)):
        spec = [s for s in _specs_of(recorder, owner.py_func, "dispatcher")
                if s.extra["explicit_return"] is explicit and s.extra["compile_options"]
                == numba_seam.compile_options(owner, "dispatcher")][0]
        key, ident = _build_side_key(spec)
        assert key == _run_side_key(owner, "dispatcher", owner.py_func)
        args = tuple(spec.args)
        assert ident.argkeys == tuple(numba_seam.type_key(t) for t in args)
        assert ident.explicit is explicit
        assert dict(ident.globals) == validity.frozen_globals(owner.py_func)
    assert _run_side_key(with_locals, "dispatcher", _div) != _run_side_key(njit(_div), "dispatcher", _div)


def test_dufunc_and_cfunc_keys_agree(recorder):
    vec = vectorize(lambda a, b: a * b + G_SCALE)
    vec(np.arange(3.0), 2.0)
    cf = cfunc("float64(float64)")(user)
    for owner, kind in ((vec, "dufunc"), (cf, "cfunc")):
        py_func = install.owner_py_func(owner)
        specs = _specs_of(recorder, py_func, kind)
        assert specs, kind
        key, _ = _build_side_key(specs[0])
        assert key == _run_side_key(owner, kind, py_func)


def test_omitted_defaults_are_keyed_by_value():
    a, b = np.array([[1.0, 2.0]]), np.array([[1.0, 2.0]])
    assert types.Omitted(a) != types.Omitted(b)              # Numba: by id()
    assert numba_seam.type_key(types.Omitted(a)) == numba_seam.type_key(types.Omitted(b))
    assert numba_seam.type_key(types.Omitted(a)) != numba_seam.type_key(types.Omitted(b * 2))


def test_frozen_globals_follow_the_values_numba_freezes():
    global G_SCALE, G_TABLE
    before = validity.frozen_globals(user)
    assert {"helper", "G_TABLE", "helper.G_SCALE"} <= set(before)
    saved = G_SCALE, G_TABLE
    try:
        G_SCALE = 3.0                     # a callee's global
        assert validity.globals_difference(before, validity.frozen_globals(user)) == ["helper.G_SCALE"]
        G_SCALE = saved[0]
        G_TABLE = np.arange(4.0)          # a new array of equal content: nothing differs
        assert validity.frozen_globals(user) == before
        G_TABLE = np.arange(4.0) + 1
        assert validity.globals_difference(before, validity.frozen_globals(user)) == ["G_TABLE"]
    finally:
        G_SCALE, G_TABLE = saved


def test_exec_generated_functions_differ_by_globals():
    src = "def k(a, b):\n    return op(a, b)\n"
    made = []
    for op in (helper, njit(lambda a, b: a - b)):
        ns = {"op": op, "__name__": __name__}
        exec(compile(src, "<gen>", "exec"), ns)
        made.append(ns["k"])
    assert validity.generated(made[0])
    k0, k1 = (validity.key_of("dispatcher", "{}", f) for f in made)
    assert k0 == k1                                            # same code, same name...
    assert validity.frozen_globals(made[0]) != validity.frozen_globals(made[1])   # ...other globals


def test_jitclass_objmode_and_gufunc_keys_agree(recorder):
    from numba import guvectorize, objmode
    from numba.experimental import jitclass

    from snapshot.gufuncs import builder_options_text
    from snapshot.numba_seam import jitclass as seam_jitclass
    from snapshot.numba_seam.gufunc import builder_identity

    @jitclass([("x", types.float64)])
    class Box:
        def __init__(self, x):
            self.x = x

        def scaled(self, k):
            return self.x * k * G_SCALE

    @njit
    def with_block(x):
        with objmode(y="float64"):
            y = x * 2.0
        return y + 1.0

    @guvectorize(["void(float64[:], float64[:])"], "(n)->(n)")
    def twice(a, out):
        for i in range(a.shape[0]):
            out[i] = 2 * a[i] + G_SCALE

    owners_of: dict[int, object] = {}         # id(cres) -> the owner the record drops
    keep = recorder.keep
    recorder.keep = lambda owner, cres, kind: (owners_of.__setitem__(id(cres), owner),
                                               keep(owner, cres, kind))
    assert Box(2.0).scaled(3.0) == 12.0
    assert with_block(1.0) == 3.0
    twice(np.arange(3.0))
    checked = set()
    owners = {id(o.py_func): o for o, _, _ in seam_jitclass._PARTS.values()}   # the parts' dispatchers
    for spec in record.specializations(recorder.records):
        if spec.kind not in ("jitclass", "objmode", "gufunc") or spec.reason is not None:
            continue
        key, _ = _build_side_key(spec)
        if spec.kind == "jitclass":
            owner = owners[id(spec.py_func)]
            part = seam_jitclass.part_of(owner)
            module, qualname, suffix = seam_jitclass.part_identity(owner, *part)
            assert (module, qualname) == (spec.module, spec.qualname)
            k = validity.key_of("jitclass", numba_seam.compile_options(owner, "dispatcher") + suffix,
                                owner.py_func)
            assert key == tuple(k)
        elif spec.kind == "objmode":
            (cres,) = [r.cres for r in recorder.records if r.spec is spec]
            block = owners_of[id(cres)]
            assert key == _run_side_key(block, "objmode", block.py_func)
        else:
            builder = [r.owner for r in recorder.records if getattr(r, "spec", None) is None
                       and r.owner is not None and getattr(r.owner, "py_func", None) is spec.py_func]
            k = validity.key_of(spec.kind, builder_options_text(*builder_identity(builder[0])),
                                spec.py_func)
            assert key == tuple(k)
        checked.add(spec.kind)
    assert checked == {"jitclass", "objmode", "gufunc"}
