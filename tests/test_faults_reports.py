"""Hostile files snap reads never make it run code: miss reports and pyproject.toml.

A miss report is data from elsewhere (appended by workers on shared paths, copied
between machines, folded into release builds): its argument types are parsed
(snapshot/numba_seam/typecodec.py), never unpickled; the modules it names are
looked up among those the workloads imported, never imported. Reading it, and
reading [tool.snap], is bounded: a FIFO, a device, a GB-long line, deep nesting or
bytes that are not UTF-8 give one line of reason, never a hang or a traceback.
"""
from __future__ import annotations

import base64
import collections
import enum
import json
import os
import pickle
import shutil
import sys
from pathlib import Path

import numba
import numpy as np
import pytest
from numba import njit, typed, types

from conftest import assert_ok, clean_env, run, snap
from snapshot.numba_seam.typecodec import BadTypes, Undescribable, decode_types, encode_types

# ------------------------------------------------------------------ the codec, in this process
P = collections.namedtuple("P", "x y")


class Color(enum.Enum):
    RED = 1


class Level(enum.IntEnum):
    HIGH = 5


@njit
def _callee(x):
    return x


def _round_trip(t):
    tree = json.loads(json.dumps(encode_types([t])))      # as written to and read from a file
    back = decode_types(tree)[0]
    return tree, back


def _kinds() -> list:
    rec = np.zeros(2, dtype=[("a", "f8"), ("b", "i4", (3,))])
    aligned = np.zeros(2, dtype=np.dtype([("a", "u1"), ("b", "f8")], align=True))
    ro = np.arange(3.0)
    ro.setflags(write=False)
    values = [1, 1.5, 1j, np.float32(1), np.int8(3), True, None, "s", b"b", np.arange(3),
              np.zeros((2, 2), order="F"), np.zeros((4, 4))[::2], ro, np.array(3.0), rec, rec[0], aligned,
              aligned[0], np.zeros(3, np.complex64), np.zeros(3, "M8[ns]"), np.zeros(3, "U5"), np.zeros(3, "S3"),
              np.datetime64("2020-01-01"), np.timedelta64(1, "s"), (1, 2), (1, 2.0), ((1, 2.0), (np.arange(2),)),
              P(1, 2), P(1.0, 2), typed.List([1.0]), typed.List([np.arange(2)]),
              typed.Dict.empty(types.unicode_type, types.int64), [1, 2], {1, 2}, slice(1, 2), Color.RED,
              Level.HIGH, Color, P, np.float64, np.dtype("f8"), np.random.default_rng(0), _callee]
    return [numba.typeof(v) for v in values] + [
        types.Optional(types.int64), types.Optional(types.Array(types.float64, 1, "C")), types.literal(3),
        types.literal("ab"), types.literal(True), types.Omitted(2.5), types.Omitted(None),
        types.FunctionType(types.float64(types.float64)), types.NestedArray(types.int32, (3,)),
        types.none, types.unicode_type, types.complex128]


def test_every_kind_of_argument_type_reads_back_equal():
    for t in _kinds():
        try:
            _, back = _round_trip(t)
        except Undescribable as e:
            pytest.fail(f"{t} cannot be described: {e}")
        assert type(back) is type(t) and back == t, t
        assert back is t       # interned: the very type object of this process


def _array_tree():
    return json.loads(json.dumps(encode_types([types.float64[:]])))


def test_reading_never_imports_the_modules_a_description_names(tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    (tmp_path / "snap_test_side_effect.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nimport numba.core.types as T\nclass Evil(T.Float): pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    tree = _array_tree()
    tree["args"][0]["state"]["dtype"]["type"] = ["snap_test_side_effect", "Evil"]
    with pytest.raises(BadTypes, match="module snap_test_side_effect is not imported by the workloads; "
                                       "a miss report never imports code"):
        decode_types(tree)
    assert not marker.exists() and "snap_test_side_effect" not in sys.modules


@pytest.mark.parametrize("ref, why", [
    (["os", "system"], "os.system is not a Numba type"),
    (["subprocess", "Popen"], "subprocess.Popen is not a Numba type"),
    (["numba.core.types.npytypes", "<locals>.X"], "does not exist here"),
])
def test_only_numba_type_classes_are_taken_as_types(ref, why):
    tree = _array_tree()
    tree["args"][0]["state"]["dtype"]["type"] = ref
    with pytest.raises(BadTypes, match=why):
        decode_types(tree)


def test_names_are_looked_up_without_running_a_module_getattr(tmp_path, monkeypatch):
    marker = tmp_path / "getattr_ran"
    (tmp_path / "snap_test_lazy.py").write_text(
        f"def __getattr__(name):\n    open({str(marker)!r}, 'w').close()\n    raise AttributeError(name)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import snap_test_lazy  # noqa: F401 - imported, as by a workload
    tree = _array_tree()
    tree["args"][0]["state"]["dtype"]["type"] = ["snap_test_lazy", "Float"]
    with pytest.raises(BadTypes, match="snap_test_lazy.Float does not exist here"):
        decode_types(tree)
    assert not marker.exists()


def test_a_class_reference_must_be_an_enum_or_namedtuple():
    tree = json.loads(json.dumps(encode_types([numba.typeof(Color.RED)])))
    tree["args"][0]["state"]["instance_class"] = {"class": ["subprocess", "Popen"]}
    with pytest.raises(BadTypes, match="not an enum or namedtuple class"):
        decode_types(tree)
    tree["args"][0]["state"]["instance_class"] = {"class": [__name__, "_callee"]}
    with pytest.raises(BadTypes, match="not an enum or namedtuple class"):
        decode_types(tree)


def test_a_type_described_with_a_state_its_class_would_not_make_is_refused():
    # a record type is equal by its name: fields that contradict the name could stand for the
    # real type and have code compiled for the wrong layout served for it
    rec = numba.typeof(np.zeros(1, dtype=[("qa", "f8"), ("qb", "i4")])[0])
    tree = json.loads(json.dumps(encode_types([rec])))
    fields = tree["args"][0]["state"]["fields"]["dict"]
    fields[1][1]["items"][1] = 4                              # field qb at offset 4, not 8
    with pytest.raises(BadTypes, match="state its constructor does not make"):
        decode_types(tree)
    tup = json.loads(json.dumps(encode_types([types.UniTuple(types.int64, 2)])))
    tup["args"][0]["state"]["count"] = 200
    with pytest.raises(BadTypes, match="state its constructor does not make"):
        decode_types(tup)


def test_malformed_or_hostile_descriptions_give_one_line():
    nested: dict = {"tuple": []}
    for _ in range(50_000):                                   # far past the stack's depth
        nested = {"list": [nested]}
    cases = [
        "gASVAAAAAAAAAAA=",                                    # an old-format (pickled) description
        {"codec": 1, "args": [nested]},
        {"codec": 1, "args": [{"list": [1] * 60_000}]},
        {"codec": 1, "args": [{"tuple": 3}]},
        {"codec": 1, "args": [{"type": ["numba.core.types.scalars", "Integer"], "state": {"__class__": 1}}]},
        {"codec": 1, "args": [{"type": ["numba.core.types.scalars", "Integer"], "state": {"name": 3}}]},
        {"codec": 1, "args": [{"weird": 1}]},
        {"codec": 99, "args": []},
    ]
    for case in cases:
        with pytest.raises(BadTypes) as e:
            decode_types(case)
        assert "\n" not in str(e.value)


def test_a_type_that_cannot_be_described_is_left_out_with_the_reason(tmp_path):
    from snapshot.runtime.report import record_jit

    def factory():
        @njit
        def local(x):
            return x
        return local
    report = tmp_path / "r.jsonl"
    local = factory()
    record_jit(str(report), "not in image", "m:g", "(dispatcher(local), int64)", "signature not in the image",
               args=(numba.typeof(local), types.int64))
    line = json.loads(report.read_text())
    assert "types" not in line and line["signature"] == "(dispatcher(local), int64)"
    assert "made inside a function" in line["types_omitted"]


# ------------------------------------------------------------------ end to end
KINDS_LIB = Path(__file__).parent / "apps" / "faults_kinds_lib.py"
APP = "import faults_kinds_lib\nfor v in faults_kinds_lib.calls():\n    print(repr(v))\n"
WORKLOAD = "import faults_kinds_lib\nfaults_kinds_lib.first(1)\nfaults_kinds_lib.Acc(1.0)\n"


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    """A project, an image of its workload, and the miss report a real run of its app
    (every kind of argument, none in the image) wrote."""
    d = tmp_path_factory.mktemp("reported")
    shutil.copy(KINDS_LIB, d / "faults_kinds_lib.py")
    (d / "wl.py").write_text(WORKLOAD)
    (d / "app.py").write_text(APP)
    assert_ok(snap("create", "-q", "-w", "wl.py", "-o", "a.so", cwd=d))
    plain = run([sys.executable, "app.py"], cwd=d)
    assert_ok(plain)
    p = snap("run", "--sysimage", "a.so", "--report-misses", "misses.jsonl", "app.py", cwd=d)
    assert_ok(p)
    assert p.stdout == plain.stdout
    return d, plain.stdout


def test_a_real_miss_report_folds_into_an_image_that_serves_every_call(reported):
    d, plain = reported
    lines = [json.loads(x) for x in (d / "misses.jsonl").read_text().splitlines()]
    ours = [m for m in lines if m["module"] == "faults_kinds_lib"]
    assert len(ours) >= 25
    omitted = [(m["signature"], m.get("types_omitted")) for m in lines if "types" not in m]
    assert omitted == []
    assert all(isinstance(m["types"], dict) for m in lines)      # data, not a pickle
    p = snap("create", "-w", "wl.py", "--add-misses", "misses.jsonl", "-o", "b.so", cwd=d)
    assert_ok(p)
    not_added = [x for x in p.stderr.splitlines() if x.startswith("miss not added")]
    # the one expected: a literally() function compiled for a non-literal int (Numba retries it
    # with the literal, which the report also has)
    assert len(not_added) == 1 and "faults_kinds_lib.lit(int64)" in not_added[0], not_added
    strict = snap("run", "--strict", "--sysimage", "b.so", "app.py", cwd=d)    # compiling = an error
    assert_ok(strict)
    assert strict.stdout == plain


def _old_format_payload(marker: Path) -> str:
    class Boom:
        def __reduce__(self):
            return (exec, (f"open({str(marker)!r}, 'w').close()",))
    return base64.b64encode(pickle.dumps((Boom(),))).decode()


def test_a_hostile_miss_report_runs_no_code_and_imports_nothing(reported, tmp_path):
    d, plain = reported
    for name in ("faults_kinds_lib.py", "wl.py", "app.py"):
        shutil.copy(d / name, tmp_path / name)
    pickled, imported, typed_import = (tmp_path / m for m in ("PICKLE_RAN", "IMPORTED", "TYPE_IMPORTED"))
    (tmp_path / "side_effect_mod.py").write_text(f"open({str(imported)!r}, 'w').close()\n"
                                                 "import numba\nf = numba.njit(lambda x: x)\n")
    (tmp_path / "side_effect_types.py").write_text(f"open({str(typed_import)!r}, 'w').close()\n")
    good = next(json.loads(x) for x in (d / "misses.jsonl").read_text().splitlines()
                if '"faults_kinds_lib"' in x and '"(float64)"' in x)
    evil = [dict(good, types=_old_format_payload(pickled)),                     # old format: a pickle
            dict(good, module="side_effect_mod", qualname="f", function="side_effect_mod.f", types=""),
            dict(good, types={"codec": 1, "args": [{"type": ["side_effect_types", "T"], "state": {}}]}),
            dict(good, module="os", qualname="system", function="os.system"),
            dict(good, types={"codec": 1, "args": [{"type": ["os", "system"], "state": {}}]})]
    lines = [json.dumps(e) for e in evil] + [json.dumps(good)]
    (tmp_path / "hostile.jsonl").write_text("\n".join(lines) + "\n")
    p = snap("create", "-w", "wl.py", "--add-misses", "hostile.jsonl", "-o", "h.so", cwd=tmp_path)
    assert not pickled.exists(), "a pickle in a miss report was run"
    assert not imported.exists() and not typed_import.exists(), "a miss report imported a module"
    assert_ok(p)
    err = p.stderr
    assert "an old-format line (its argument types are a pickle): refused, a miss report is data" in err
    assert "module side_effect_mod is not imported by the workloads; a miss report never imports code" in err
    assert "module side_effect_types is not imported by the workloads" in err
    assert "os.system is not a jitted function" in err and "os.system is not a Numba type" in err
    assert "Traceback" not in err
    served = ("import faults_kinds_lib\nprint(faults_kinds_lib.first(2.5))\n")
    (tmp_path / "one.py").write_text(served)
    strict = snap("run", "--strict", "--sysimage", "h.so", "one.py", cwd=tmp_path)
    assert_ok(strict)                       # the good line was folded all the same
    assert strict.stdout == "2.5\n"


# ------------------------------------------------------------------ bounded reading
def _small_project(tmp_path: Path) -> None:
    (tmp_path / "wl.py").write_text("import numba\n@numba.njit\ndef f(x):\n    return x\nf(1)\n")


def _create_with(tmp_path: Path, report: str, timeout: float = 120):
    return snap("create", "-q", "-w", "wl.py", "--add-misses", report, "-o", "o.so", cwd=tmp_path,
                timeout=timeout)


def _one_line_failure(p, text: str) -> None:
    assert p.returncode != 0, p.stderr
    assert text in p.stderr, p.stderr
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) <= 3, p.stderr


def test_a_fifo_or_device_as_miss_report_is_refused_without_reading(tmp_path):
    _small_project(tmp_path)
    os.mkfifo(tmp_path / "fifo.jsonl")
    os.symlink("/dev/zero", tmp_path / "zero.jsonl")
    for name in ("fifo.jsonl", "zero.jsonl"):
        _one_line_failure(_create_with(tmp_path, name, timeout=60), f"miss report '{name}' is not a regular file")
    assert not (tmp_path / "o.so").exists()


def test_a_fifo_swapped_in_after_the_check_does_not_block_the_fold(tmp_path):
    # the trace child opens the report itself: a FIFO there (a race with the check in
    # snap create) must not block it
    os.mkfifo(tmp_path / "fifo.jsonl")
    code = ("from snapshot.create.misses import fold\nfrom snapshot.errors import SnapError\n"
            "try:\n    fold('fifo.jsonl', [])\nexcept SnapError as e:\n    print(e)\n")
    p = run([sys.executable, "-c", code], cwd=tmp_path, timeout=60)
    assert_ok(p)
    assert "not a regular file" in p.stdout


def test_damaged_lines_are_skipped_with_their_reason_and_never_read_whole(tmp_path):
    _small_project(tmp_path)
    good = {"event": "jit", "kind": "not in image", "module": "__main__", "qualname": "f",
            "function": "__main__.f", "signature": "(float64)",
            "types": json.loads(json.dumps(encode_types([types.float64])))}
    with open(tmp_path / "r.jsonl", "wb") as f:
        f.write(b"[" * 300_000 + b"\n")                  # deep nesting: RecursionError in a parser
        f.write(b'{"event": "jit", "kind": "\xff\xfe"}\n')   # not UTF-8
        f.write(b'{"event": "jit", "kind": "not in image", "module": "__main__", "qualname": "f", "types"')
        f.write(b"\n")                                    # torn by a killed worker
        f.write(b"x" * (3 << 20) + b"\n")                 # longer than a line may be
        f.write(json.dumps(good).encode() + b"\n")
    p = snap("create", "-w", "wl.py", "--add-misses", "r.jsonl", "-o", "o.so", cwd=tmp_path, timeout=120)
    assert_ok(p)
    for n, why in [(1, "invalid JSON (nested too deeply)"), (2, "not UTF-8"), (3, "invalid JSON"),
                   (4, "longer than 1048576 bytes")]:
        assert f"r.jsonl:{n}: line skipped: not a miss report line ({why})" in p.stderr, p.stderr
    assert "Traceback" not in p.stderr
    assert "2 specialization(s) served by the image" in p.stderr      # f(int64) and the good line


def test_a_gigabyte_line_is_refused_in_bounded_memory(tmp_path):
    _small_project(tmp_path)
    with open(tmp_path / "huge.jsonl", "wb") as f:
        f.truncate(1 << 30)                 # sparse: 1 GiB of NULs, no newline
    code = ("import resource\nfrom snapshot.create.misses import fold\nfrom snapshot.errors import SnapError\n"
            "try:\n    fold('huge.jsonl', [])\nexcept SnapError as e:\n    print(e)\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")
    p = run([sys.executable, "-c", code], cwd=tmp_path, timeout=120)
    assert_ok(p)
    message, maxrss_kib = p.stdout.splitlines()
    assert message == "huge.jsonl:1: not a miss report line (longer than 1048576 bytes)"
    assert int(maxrss_kib) < 400 * 1024           # it was never held whole (1 GiB)
    _one_line_failure(_create_with(tmp_path, "huge.jsonl"), "not a miss report line (longer than")


# ------------------------------------------------------------------ pyproject.toml
@pytest.mark.parametrize("content, message", [
    (b'[tool.snap]\nworkloads = ' + b"[" * 5000 + b"]" * 5000 + b"\n", "nested too deeply"),
    (b'[tool.snap]\nworkloads = ["\xff.py"]\n', "not UTF-8"),
    (b"tool = 3\n", "[tool] must be a table"),
    (b'[tool.snap]\noutput = "a\\u0000b"\nworkloads = ["w.py"]\n', "[tool.snap] output holds a NUL character"),
    (b"# " + b"x" * (5 << 20) + b"\n", "bytes read at most"),
    (b"[tool.snap\n", "cannot read"),
])
def test_a_malformed_pyproject_gives_one_line(tmp_path, content, message):
    (tmp_path / "pyproject.toml").write_bytes(content)
    (tmp_path / "x.py").write_text("print(1)\n")
    for cmd in (["create"], ["run", "x.py"], ["info"]):
        _one_line_failure(snap(*cmd, cwd=tmp_path, timeout=60), message)


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_a_pyproject_that_is_no_regular_file_is_refused_not_read(tmp_path, kind):
    path = tmp_path / "pyproject.toml"
    os.mkfifo(path) if kind == "fifo" else os.symlink("/dev/zero", path)
    _one_line_failure(snap("create", cwd=tmp_path, env=clean_env(), timeout=60), "not a regular file")


# ------------------------------------------------------------------ the rest of the class
def test_a_fifo_as_miss_report_does_not_hang_the_program(tmp_path):
    # SNAP_REPORT at a FIFO nobody reads: the report cannot be written (said once), the
    # program runs on
    (tmp_path / "bad.so").write_bytes(b"not an image")          # refused: a "refused" miss line
    (tmp_path / "app.py").write_text("import numba\nprint(numba.njit(lambda x: x + 1)(1))\n")
    os.mkfifo(tmp_path / "r.jsonl")
    p = run([sys.executable, "app.py"], cwd=tmp_path, timeout=60,
            env=clean_env(SNAP_SYSIMAGE="bad.so", SNAP_REPORT="r.jsonl"))
    assert_ok(p)
    assert p.stdout == "2\n" and "cannot write the miss report r.jsonl" in p.stderr


def test_a_fifo_in_the_host_cache_does_not_block_a_start(tmp_path):
    boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    os.mkfifo(tmp_path / f"host-{boot}.txt")
    code = "from snapshot.image.host import host_facts\nprint(bool(host_facts()[0]))\n"
    p = run([sys.executable, "-c", code], cwd=tmp_path, timeout=60, env=clean_env(SNAP_CACHE_DIR=str(tmp_path)))
    assert_ok(p)
    assert p.stdout == "True\n"


def test_finding_a_modules_file_imports_nothing(tmp_path, monkeypatch):
    # the build (and the run-time freshness check) look up the file of modules a compilation
    # consulted: for "pkg.mod" importlib.util.find_spec would run pkg/__init__.py
    from snapshot.image.freshness import current_file
    marker = tmp_path / "pkg_imported"
    (tmp_path / "snap_test_pkg").mkdir()
    (tmp_path / "snap_test_pkg" / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (tmp_path / "snap_test_pkg" / "mod.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert current_file("snap_test_pkg.mod") == str(tmp_path / "snap_test_pkg" / "mod.py")
    assert not marker.exists() and "snap_test_pkg" not in sys.modules
