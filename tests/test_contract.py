"""In-process unit tests of the contract build and run share (snapshot/image/): the manifest
and payload formats, fingerprints, identity, freshness, the compatibility verdict and the
stable names of a build. Seconds, no `snap create`: a format change is caught here first."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numba import njit, types

from snapshot.create.plan import StableNames
from snapshot.errors import ManifestError, SnapError
from snapshot.image import compat, identity
from snapshot.image.fingerprint import (closure_fingerprint, code_fingerprint, source_fingerprints,
                                        type_key, value_key)
from snapshot.image.freshness import Freshness
from snapshot.image.host import LEVELS, process_fingerprint
from snapshot.image.manifest import (FORMAT_VERSION, Dep, Entry, Manifest, ManifestIndex, Skipped, Source,
                                     describe_target, type_problem)
from snapshot.image.payload import Payloads, pack_payloads


def _entry(module: str, qualname: str, sig: str = "(float64,)", **kw) -> Entry:
    base = dict(kind="dispatcher", module=module, qualname=qualname, options="{}", closure=None,
                code="c0de", signature=sig, symbols={"function": f"_p_{qualname}", "env": f"_e_{qualname}"},
                envs=[f"_e_{qualname}"], argkeys=["float64"], ret="float64")
    base.update(kw)
    return Entry(**base)


def _manifest(entries: list[Entry], **kw) -> Manifest:
    base = dict(fingerprint={"python": "3.11.0", "numba_config": {"OPT": "3"}},
                cpu={"target": "host", "name": "x", "features": ["sse2"]}, prefix="_snapabc_",
                entries=entries, skipped=[Skipped("m", "f", "(int64,)", "object mode")],
                sources=[Source("m", "/x/m.py", "d1")])
    base.update(kw)
    return Manifest(**base)


# ------------------------------------------------------------------ manifest
def test_manifest_round_trip_and_index():
    entries = [_entry("b.mod", "g", dynamic={"_slot": {"kind": "symbol", "module": "", "name": "cos"}}),
               _entry("a.mod", "f", deps=[Dep("b.mod", "g", "c0de")], values={"g|a.mod|SCALE": "float:1.0"},
                      settings=0),
               _entry("a.mod", "f", "(int64,)", argkeys=["int64"], explicit=True),
               _entry("a.mod", "h")]
    m = _manifest(entries, settings=[{"BOUNDSCHECK": "None", "OPT": "_OptLevel(3)"}])
    data = m.to_bytes()
    # grouped by function whatever the input order (a function's entries keep the plan's order)
    assert data == _manifest([entries[3], entries[1], entries[0], entries[2]], settings=m.settings).to_bytes()
    back = Manifest.from_bytes(data)
    assert back.format == FORMAT_VERSION and back.prefix == m.prefix
    assert sorted(back.entries) == sorted(entries)                       # every field survives
    assert back.skipped == m.skipped and back.sources == m.sources and back.settings == m.settings
    assert type_problem(back) is None
    assert type_problem(back._replace(settings=[])) == "entry.settings is not an index of the manifest's settings"
    # activation's reader: the header, then one function's entries decoded on demand
    index = ManifestIndex.from_bytes(data)
    assert len(index) == 4 and index.has("a.mod", "f") and not index.has("a.mod", "nope")
    assert sorted(index.entries_of("a.mod", "f")) == sorted(entries[1:3])
    assert index.entries_of("b.mod", "g") == [entries[0]]
    assert index.entries_of("c.mod", "f") == []


@pytest.mark.parametrize("mangle", [
    lambda d: d[:-10],                                  # truncated
    lambda d: b"NOTSNAP!" + d[8:],                      # wrong magic
    lambda d: d.replace(b'"format":%d' % FORMAT_VERSION, b'"format":99', 1),  # unknown format version
])
def test_manifest_damage_is_a_manifest_error(mangle):
    data = _manifest([_entry("a", "f")]).to_bytes()
    bad = mangle(data)
    assert bad != data
    with pytest.raises(ManifestError):
        Manifest.from_bytes(bad)
    assert issubclass(ManifestError, SnapError)         # one family: the CLI prints one line


def test_type_problem_names_the_field():
    ok = _manifest([_entry("a", "f")])
    assert type_problem(ok) is None
    assert type_problem(ok._replace(prefix=3)) == "prefix is not a string"
    bad = _entry("a", "f")._replace(argkeys=[1])
    assert type_problem(ok._replace(entries=[bad])) == "entry.argkeys is not a list of strings"


def test_describe_target_texts():
    assert describe_target({"kind": "capsule", "module": "scipy.special.cython_special", "name": "ndtri"}) \
        == "scipy.special.cython_special.__pyx_capi__['ndtri']"
    assert describe_target({"kind": "symbol", "module": "", "name": "cos"}) == "symbol cos"
    assert describe_target({"kind": "pointer", "module": "m", "name": "p"}) == "pointer m.p"


# ------------------------------------------------------------------ payload section
def test_payload_table_round_trip_and_damage():
    blobs = [b"alpha", b"", b"x" * 1000]
    section = pack_payloads(blobs)
    p = Payloads(memoryview(section))
    assert len(p) == 3 and [bytes(p[i]) for i in range(3)] == blobs
    with pytest.raises(IndexError):
        p[3]
    with pytest.raises(ValueError):
        Payloads(memoryview(section[:4]))
    with pytest.raises(ValueError):                      # a count larger than the section
        Payloads(memoryview((10 ** 6).to_bytes(8, "little") + section[8:]))
    broken = bytearray(section)
    broken[16:24] = (len(section) + 100).to_bytes(8, "little")     # entry 0 ends past the section
    with pytest.raises(ValueError):
        Payloads(memoryview(bytes(broken)))[0]


# ------------------------------------------------------------------ fingerprints
def _twice(x):
    return x * 2


SRC = "def f(x, k=3):\n    return (x * 2 + k, 'text', 1.5, (1, 2))\n"


def _compiled(src: str, name: str = "f"):
    """A function compiled from ``src`` as an import would (no future flags inherited)."""
    ns: dict = {}
    exec(compile(src, "<contract>", "exec", dont_inherit=True), ns)
    return ns[name]


def test_code_fingerprint_sees_constants_not_lines():
    ns1, ns2, ns3 = {}, {}, {}
    exec("def f(x):\n    return x + 1\n", ns1)
    exec("\n\n\ndef f(x):\n    return x + 1\n", ns2)             # moved: same code
    exec("def f(x):\n    return x + 100\n", ns3)                 # another constant
    fp = code_fingerprint(ns1["f"].__code__)
    assert fp == code_fingerprint(ns2["f"].__code__) != code_fingerprint(ns3["f"].__code__)


def test_fingerprints_are_the_same_in_another_process():
    """No salted hash, no address: a fresh interpreter computes the same keys."""
    probe = textwrap.dedent("""
        import numpy as np
        from numba import types
        from snapshot.image.fingerprint import code_fingerprint, type_key, value_key
        ns = {}
        exec(compile(%r, "<contract>", "exec", dont_inherit=True), ns)
        print(code_fingerprint(ns["f"].__code__))
        print(value_key((1, 2.5, "s", frozenset({"a", "b", "c"}), np.arange(5.0))))
        print(type_key(types.Omitted(np.ones(3))))
    """) % SRC
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAP_")}
    env["PYTHONHASHSEED"] = "12345"                      # another str hash salt than ours
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                         check=True).stdout.split()
    assert out == [code_fingerprint(_compiled(SRC).__code__),
                   value_key((1, 2.5, "s", frozenset({"a", "b", "c"}), np.arange(5.0))),
                   type_key(types.Omitted(np.ones(3)))]


def test_value_and_type_keys():
    a = np.arange(6.0)
    assert value_key(a) == value_key(a.copy()) != value_key(a + 1)
    assert value_key(a.reshape(2, 3)) != value_key(a)                     # shape is part of it
    assert value_key(1) != value_key(1.0) != value_key(True)
    d = njit(_twice)
    assert type_key(types.Omitted(a)) == type_key(types.Omitted(a.copy()))
    assert type_key(types.float64[:, ::1]) == str(types.float64[:, ::1])
    assert type_key(types.Dispatcher(d)).startswith(f"dispatcher({__name__}._twice:")


def test_closure_fingerprint_by_cell_values():
    def make(k):
        def f(x):
            return x * k
        return f
    assert closure_fingerprint(_twice) is None
    assert closure_fingerprint(make(2)) == closure_fingerprint(make(2)) != closure_fingerprint(make(3))


def test_source_fingerprints_and_freshness(tmp_path):
    src = tmp_path / "fresh_mod.py"
    src.write_text("def f(x):\n    return x + 1\n\ndef g(x):\n    return x * 2\n")
    fps = source_fingerprints(str(src))
    f_code = code_fingerprint(_compiled(src.read_text(), "f").__code__)
    g_code = code_fingerprint(_compiled(src.read_text(), "g").__code__)
    assert f_code in fps["f"] and g_code in fps["g"]
    from snapshot.image.fingerprint import file_digest
    m = _manifest([], sources=[Source("fresh_mod", str(src), file_digest(str(src)))])
    fresh = Freshness(m, locate=lambda module: str(src) if module == "fresh_mod" else None)
    assert fresh.module_unchanged("fresh_mod") and fresh.fresh("fresh_mod", "f", f_code)
    # an edit of g: the file changed, f is still fresh (compared function by function), g is not
    src.write_text("def f(x):\n    return x + 1\n\ndef g(x):\n    return x * 3\n")
    fresh = Freshness(m, locate=lambda module: str(src) if module == "fresh_mod" else None)
    assert not fresh.module_unchanged("fresh_mod")
    assert fresh.fresh("fresh_mod", "f", f_code) and not fresh.fresh("fresh_mod", "g", g_code)
    assert not Freshness(m, locate=lambda module: None).fresh("fresh_mod", "f", f_code)


# ------------------------------------------------------------------ identity
def test_identity_matches_by_kind_options_closure_then_code():
    key = identity.key_of("dispatcher", "{}", _twice)
    same = _entry(__name__, "_twice", code=key.code)
    other_code = _entry(__name__, "_twice", code="0ther")
    other_options = _entry(__name__, "_twice", code=key.code, options="{fastmath=True}")
    other_kind = _entry(__name__, "_twice", code=key.code, kind="cfunc")
    matched, differs = identity.identity_matches([other_options, other_kind, other_code, same], key)
    assert matched == [same] and differs == other_code
    assert identity.identity_matches([other_code], key) == ([], other_code)
    assert identity.entry_key(same) == key
    ns: dict = {}
    exec("def k(a):\n    return a\n", ns)
    assert identity.generated(ns["k"]) and not identity.generated(_twice)


# ------------------------------------------------------------------ compatibility verdict
def test_compat_verdict_and_rows():
    here = process_fingerprint()
    features = frozenset({"sse2", "avx2"})
    m = _manifest([], fingerprint=dict(here), cpu={"features": ["sse2"]})
    problems, choice = compat.verdict(m, here, features)
    assert problems == [] and choice.variant.features == ["sse2"] and choice.variant.prefix == m.prefix
    older = {**here, "numba": "0.1.0", "numba_config": {**here["numba_config"], "OPT": "0"}}
    problems, choice = compat.verdict(m._replace(fingerprint=older, cpu={"features": ["avx512f"]}),
                                      here, features)
    assert choice.variant is None
    assert f"numba 0.1.0 (image) vs {here['numba']} (here)" in problems
    assert any(p.startswith("numba config differs: OPT=0 (image) vs ") for p in problems)
    assert problems[-1] == "this CPU lacks features the image needs: avx512f"
    rows = list(compat.rows(older, here))
    bad = {(r.key, r.sub) for r in rows if not r.ok}
    assert bad == {("numba", None), ("numba_config", "OPT")}
    assert len(rows) == len(here) - 1 + len(here["numba_config"])


# ------------------------------------------------------------------ stable names
def test_stable_names_replace_addresses_keep_lengths_and_repeat():
    a, b = StableNames(), StableNames()
    names = ["__numba_array_expr_0x7f3a12bc4d10", "__numba_array_expr_0x7f3a12bc9990",
             "x.kernel.140234567_inner", "numba.dynamic.globals.7f00aa", "plain_name"]
    out = [a(n) for n in names]
    assert out == [b(n) for n in names]                 # first-seen counters: reproducible
    assert [len(n) for n in out[:3]] == [len(n) for n in names[:3]]   # Itanium length prefixes hold
    assert "0x7f3a" not in out[0] and out[0] != out[1] and out[4] == "plain_name"
    assert a(names[0]) == out[0]                        # the same address, the same name
    assert a.local(".bytes.-123456") == a.local(".bytes.-123456") != a.local(".bytes.99")


# ------------------------------------------------------------------ CPU variants
def test_cpu_variants_choice_symbols_and_targets(monkeypatch):
    from snapshot.image import variants as V
    levels = [V.Variant(t, t, list(LEVELS[t][1]), f"_snapP_{V.tag(t)}_") for t in ("x86-64-v2", "x86-64-v3")]
    v3 = frozenset(LEVELS["x86-64-v3"][1])
    assert V.choose(levels, v3).variant.target == "x86-64-v3"
    assert V.choose(levels, frozenset(LEVELS["x86-64-v2"][1])).variant.target == "x86-64-v2"
    none = V.choose(levels, frozenset(LEVELS["x86-64"][1]))
    assert none.variant is None and none.reason.startswith("this CPU lacks features its lowest variant (x86-64-v2)")
    assert V.symbol("_snapP_f", "_snapP_", levels[1]) == "_snapP_v3_f"
    one = V.Variant("host", "znver4", [], "_snapP_")
    assert V.symbol("_snapP_f", "_snapP_", one) == "_snapP_f"
    assert V.parse_targets("portable") == ["x86-64-v2", "x86-64-v3", "x86-64-v4"]
    assert V.parse_targets("host,x86-64-v3,generic,x86-64") == ["generic", "x86-64-v3", "host"]
    with pytest.raises(ValueError, match="unknown --cpu 'v9'"):
        V.parse_targets("x86-64-v2,v9")
    monkeypatch.setenv(V.CPU_ENV, "x86-64-v2")
    assert V.usable_features(v3) == (frozenset(LEVELS["x86-64-v2"][1]), "x86-64-v2")
    monkeypatch.setenv(V.CPU_ENV, "x86-64-v4")
    assert V.usable_features(v3) == (v3, "x86-64-v4")            # never more than the CPU has


def test_manifest_with_variants_round_trips():
    from snapshot.image.variants import variants_of
    docs = [{"target": "x86-64-v2", "name": "x86-64-v2", "features": ["sse4.2"], "prefix": "_snapabc_v2_",
             "size": 10},
            {"target": "x86-64-v3", "name": "x86-64-v3", "features": ["avx2", "sse4.2"], "prefix": "_snapabc_v3_",
             "size": 12}]
    m = _manifest([_entry("a.mod", "f")], variants=docs)
    back = Manifest.from_bytes(m.to_bytes())
    assert back.format == FORMAT_VERSION == 7 and back.variants == docs and type_problem(back) is None
    assert [v.prefix for v in variants_of(back)] == ["_snapabc_v2_", "_snapabc_v3_"]
    assert Manifest.from_bytes(_manifest([_entry("a.mod", "f")]).to_bytes()).format == FORMAT_VERSION
    bad = back._replace(variants=[{**docs[0], "features": "sse4.2"}])
    assert type_problem(bad) == "variants: an entry is not {target, name, features, prefix, size}"
