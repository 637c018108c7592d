"""In-process checks of the validity model: the key `snap create` gives an entry
(create.plan) is the key the runtime asks for (runtime.serving, through each kind's
strategy in numba_seam.kinds), per kind, and the inputs observed while compiling
(numba_seam.observe) are the values the compilation read, compared again the way an
install does. Seconds, no image."""
from __future__ import annotations

import numpy as np
import pytest
from numba import cfunc, int64, njit, types, vectorize

from conftest import APPS
from snapshot.create.plan import _identity
from snapshot.image import identity, inputs, validity
from snapshot.image.fingerprint import code_fingerprint, type_key, value_key
from snapshot.numba_seam import owner_py_func, record
from snapshot.numba_seam.kinds import KINDS, kind_of, specializations

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
    specs = specializations(recorder.records)
    return [s for s in specs if s.py_func is py_func and s.kind == kind]


def _run_side_key(owner, kind: str, py_func) -> tuple:
    """The key the runtime computes for ``owner`` (runtime.serving: its kind's identity)."""
    strategy = kind_of(owner, kind)
    k = identity.key_of(strategy.name, strategy.identity(owner)[2], py_func)
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
                == KINDS["dispatcher"].options(owner)][0]
        key, ident = _build_side_key(spec)
        assert key == _run_side_key(owner, "dispatcher", owner.py_func)
        args = tuple(spec.args)
        assert ident.argkeys == tuple(type_key(t) for t in args)
        assert ident.explicit is explicit
        # what it read, located again here: nothing differs
        assert validity.values_difference(dict(ident.values), owner.py_func.__globals__) == []
    assert _run_side_key(with_locals, "dispatcher", _div) != _run_side_key(njit(_div), "dispatcher", _div)


def test_dufunc_and_cfunc_keys_agree(recorder):
    vec = vectorize(lambda a, b: a * b + G_SCALE)
    vec(np.arange(3.0), 2.0)
    cf = cfunc("float64(float64)")(user)
    for owner, kind in ((vec, "dufunc"), (cf, "cfunc")):
        py_func = owner_py_func(owner)
        specs = _specs_of(recorder, py_func, kind)
        assert specs, kind
        key, _ = _build_side_key(specs[0])
        assert key == _run_side_key(owner, kind, py_func)


def test_omitted_defaults_are_keyed_by_value():
    a, b = np.array([[1.0, 2.0]]), np.array([[1.0, 2.0]])
    assert types.Omitted(a) != types.Omitted(b)              # Numba: by id()
    assert type_key(types.Omitted(a)) == type_key(types.Omitted(b))
    assert type_key(types.Omitted(a)) != type_key(types.Omitted(b * 2))


def test_observed_values_follow_what_the_compilation_read(recorder):
    global G_SCALE, G_TABLE
    compiled = njit(user)
    compiled(1.0)
    (spec,) = [s for s in _specs_of(recorder, user, "dispatcher")]
    _, ident = _build_side_key(spec)
    values = dict(ident.values)
    mod = __name__
    # its own globals, and the callee's (compiled into it), each under the module that has it
    assert {inputs.global_of(mod, "helper"), inputs.global_of(mod, "G_TABLE"),
            inputs.global_of(mod, "G_SCALE")} <= set(values)
    assert (mod, "helper", code_fingerprint(helper.py_func.__code__)) in ident.consulted
    saved = G_SCALE, G_TABLE
    try:
        G_SCALE = 3.0                     # a callee's global
        assert validity.values_difference(values, user.__globals__) == [inputs.global_of(mod, "G_SCALE")]
        G_SCALE = saved[0]
        G_TABLE = np.arange(4.0)          # a new array of equal content: nothing differs
        assert validity.values_difference(values, user.__globals__) == []
        G_TABLE[1] = 7.0                  # the same array, mutated: it differs (no memo by id)
        assert validity.values_difference(values, user.__globals__) == [inputs.global_of(mod, "G_TABLE")]
    finally:
        G_SCALE, G_TABLE = saved


def test_exec_generated_functions_differ_by_globals():
    src = "def k(a, b):\n    return op(a, b)\n"
    made = []
    for op in (helper, njit(lambda a, b: a - b)):
        ns = {"op": op, "__name__": __name__}
        exec(compile(src, "<gen>", "exec"), ns)
        made.append(ns["k"])
    assert identity.generated(made[0])
    k0, k1 = (identity.key_of("dispatcher", "{}", f) for f in made)
    assert k0 == k1                                            # same code, same name...
    # ...other globals: their globals are no module's, so a function's key holds what it names
    assert value_key(made[0]) != value_key(made[1])


def test_jitclass_objmode_and_gufunc_keys_agree(recorder):
    from numba import guvectorize, objmode
    from numba.experimental import jitclass

    from snapshot.numba_seam import jitclass as seam_jitclass
    from snapshot.numba_seam.gufunc import builder_identity, builder_kind

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
    owners = {id(o.py_func): o for o in owners_of.values()
              if seam_jitclass.PART_IDENTITY in getattr(o, "__dict__", {})}   # the parts' dispatchers
    for spec in specializations(recorder.records):
        if spec.kind not in ("jitclass", "objmode", "gufunc") or spec.reason is not None:
            continue
        key, _ = _build_side_key(spec)
        if spec.kind == "jitclass":
            owner = owners[id(spec.py_func)]
            module, qualname, suffix = owner.__dict__[seam_jitclass.PART_IDENTITY]
            assert (module, qualname) == (spec.module, spec.qualname)
            k = identity.key_of("jitclass", KINDS["dispatcher"].options(owner) + suffix, owner.py_func)
            assert key == tuple(k)
            assert key == _run_side_key(owner, "dispatcher", owner.py_func)
        elif spec.kind == "objmode":
            (cres,) = [r.cres for r in recorder.records if r.spec is spec]
            block = owners_of[id(cres)]
            assert key == _run_side_key(block, "objmode", block.py_func)
        else:
            builder = [r.owner for r in recorder.records if getattr(r, "spec", None) is None
                       and r.owner is not None and getattr(r.owner, "py_func", None) is spec.py_func]
            assert builder_kind(builder[0]) == spec.kind and builder_identity(builder[0])
            assert key == _run_side_key(builder[0], spec.kind, spec.py_func)
        checked.add(spec.kind)
    assert checked == {"jitclass", "objmode", "gufunc"}


def test_code_run_while_compiling_is_observed_through_numbas_caches(recorder, monkeypatch):
    """An @overload's typing function and the helper it calls, the constant it decides on, an
    @intrinsic's generator: inputs of the function that compiled them first, and of a second
    function that reuses Numba's cached implementation without running them again."""
    monkeypatch.syspath_prepend(str(APPS))
    import observed_lib as lib
    assert lib.first(1) == 4 and lib.second(1) == 5
    mod = "observed_lib"
    for name in ("first", "second"):
        (spec,) = [s for s in specializations(recorder.records) if s.qualname == name]
        _, ident = _build_side_key(spec)
        ran = {q for m, q, _ in ident.consulted if m == mod}
        assert {"_ov_target", "_pick", "add_one", "add_one.<locals>.codegen"} <= ran, (name, ran)
        assert inputs.global_of(mod, "MODE") in dict(ident.values), name
        assert validity.values_difference(dict(ident.values), spec.py_func.__globals__) == []
    saved = lib.MODE
    try:
        lib.MODE = "triple"
        assert validity.values_difference(dict(ident.values), lib.second.py_func.__globals__) == [
            inputs.global_of(mod, "MODE")]
    finally:
        lib.MODE = saved


def test_a_closure_run_while_compiling_is_identified_with_its_cells(recorder, monkeypatch):
    """A typing function made by a factory holds values decided by code no compilation ran:
    its cells are part of what it is. Found again live through Numba's registry: the same
    closure is fresh, a factory called with another value makes another one."""
    monkeypatch.syspath_prepend(str(APPS))
    import observed_lib as lib
    from snapshot.image.freshness import CLOSURE, Freshness
    from snapshot.image.manifest import Manifest
    assert lib.use_three(2) == 6
    (spec,) = [s for s in specializations(recorder.records) if s.qualname == "make_overload.<locals>.use"]
    _, ident = _build_side_key(spec)
    (fp,) = [c for m, q, c in ident.consulted if q == "make_overload.<locals>._ov"]
    assert CLOSURE in fp
    fresh = Freshness(Manifest({}, {}, "", [], [], []))
    assert fresh.fresh("observed_lib", "make_overload.<locals>._ov", fp)
    other = fp.replace(CLOSURE, CLOSURE + "0")
    assert not fresh.fresh("observed_lib", "make_overload.<locals>._ov", other)


PINNED_OVERLOADS = '''
def gen(strict, nrt):
    def target(a, kw=None):
        pass

    def ol(a, **kws):
        def impl(a, kw=10):
            return a
        return impl

    overload(target, strict=strict, jit_options={"_nrt": nrt})(ol)
    return target
'''


def test_options_of_an_overload_made_at_run_time_in_a_pinned_package():
    """Numba's own tests (a pinned package: code identified by its version) register
    ``@overload``s inside test methods, the same typing function with other options
    (``strict=``, ``jit_options=``): a function typed by one is another identity than by the
    other (found by test_extending: a compilation expected to fail was served instead).
    Numba's library registers no such typing function (every one made at run time is a
    closure), so its own overloads stay identified by the version alone."""
    from numba.extending import overload
    ns = {"__name__": "numba.tests.snap_pinned_case", "overload": overload}
    exec(compile(PINNED_OVERLOADS, "<pinned>", "exec"), ns)
    lax, strict, no_nrt, lax_again = (ns["gen"](s, n) for s, n in
                                      ((False, True), (True, True), (False, False), (False, True)))
    assert value_key(lax) != value_key(strict)
    assert value_key(lax) != value_key(no_nrt)
    assert value_key(lax) == value_key(lax_again)
