"""snap info / snap check: read an image without running it; tell whether it would serve here."""
from __future__ import annotations

import json
import pickle
import shutil

import pytest

import linker
from conftest import assert_ok, clean_env, snap
from imagetools import forge
from snapshot.image.manifest import FORMAT_VERSION, PAYLOAD_SECTION
from snapshot.image.payload import Payloads, pack_payloads
from snapshot.numba_seam.pickling import loads_entry

LIB = '''\
from numba import njit


@njit
def add(a, b):
    return a + b


@njit
def scale(x, k):
    return add(x, x) * k
'''

INIT = '''\
import os
if os.environ.get("SNAPTEST_IMPORT_MARKER"):
    open(os.environ["SNAPTEST_IMPORT_MARKER"], "w").close()
'''

WORKLOAD = '''\
from pkgx import lib
lib.add(1, 2)
lib.add(1.5, 2.5)
lib.scale(3.0, 2.0)
'''


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(image, source tree): an image of 3 specializations of pkgx.lib, built once for the module."""
    root = tmp_path_factory.mktemp("infocheck")
    src = root / "src"
    (src / "pkgx").mkdir(parents=True)
    (src / "pkgx" / "__init__.py").write_text(INIT)
    (src / "pkgx" / "lib.py").write_text(LIB)
    (src / "run.py").write_text(WORKLOAD)
    image = root / "img.so"
    assert_ok(snap("create", "-q", "-w", "run.py", "-o", str(image), cwd=src))
    return image, src


def _one_line_error(p, what: str, needle: str) -> None:
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith(f"snap {what} failed:")
    assert needle in lines[0], lines[0]


# ------------------------------------------------------------------- info
def test_info_lists_entries_sections_and_fingerprint(built):
    image, _ = built
    p = snap("info", str(image))
    assert_ok(p)
    for text in ("pkgx.lib.add", "pkgx.lib.scale", "(int64, int64) -> int64",
                 "(float64, float64) -> float64", "snap.manifest", "snap.payload", ".text", "LOAD",
                 "numba config", "CPU features required", "imports (", "build workloads", "run.py"):
        assert text in p.stdout, text


def test_info_json(built):
    import numba
    image, src = built
    p = snap("info", "--json", str(image))
    assert_ok(p)
    doc = json.loads(p.stdout)
    assert doc["format"] == FORMAT_VERSION == 7
    assert doc["file_size"] == image.stat().st_size
    assert doc["fingerprint"]["numba"] == numba.__version__
    assert doc["cpu"]["target"] == "host" and doc["cpu"]["features"]
    got = sorted((e["function"], e["signature"]) for e in doc["entries"])
    assert got == [("pkgx.lib.add", "(float64, float64) -> float64"),
                   ("pkgx.lib.add", "(int64, int64) -> int64"),
                   ("pkgx.lib.scale", "(float64, float64) -> float64")]
    assert all(e["size"] > 0 for e in doc["entries"])
    assert doc["code_size"] == sum(e["size"] for e in doc["entries"])
    sections = {s["name"]: s for s in doc["sections"]}
    assert sections["snap.manifest"]["size"] > 0 and sections["snap.payload"]["size"] == doc["payload_size"] > 0
    assert sections[".text"]["flags"] == "AX"
    assert any(g["type"] == "LOAD" and g["flags"] == "r-x" for g in doc["segments"])
    assert doc["imports"] and all(isinstance(n, str) for n in doc["imports"])
    assert doc["skipped"] == []
    assert [s["module"] for s in doc["sources"]] == ["pkgx.lib"]
    assert doc["sources"][0]["path"] == str(src / "pkgx" / "lib.py")


def test_info_and_check_never_unpickle_dlopen_or_import(built, tmp_path):
    """The payload of this image is a pickle that creates a file when unpickled; the image's
    module creates another when imported; LD_DEBUG lists every dlopen. None may happen."""
    image, _ = built
    unpickled = tmp_path / "unpickled"
    imported = tmp_path / "imported"
    payload = bytes(linker.ImageFile.open(image).section(PAYLOAD_SECTION))
    evil = pack_payloads([pickle.dumps(_Opener(str(unpickled)), protocol=4)])   # entry 0's pickle
    assert len(evil) <= len(payload)
    forged = tmp_path / "evil.so"
    forge(image, forged, payload, evil + b"\0" * (len(payload) - len(evil)))
    loads_entry(Payloads(linker.ImageFile.open(forged).section(PAYLOAD_SECTION))[0])   # the trap is live
    assert unpickled.exists()
    unpickled.unlink()

    env = clean_env(SNAPTEST_IMPORT_MARKER=str(imported), LD_DEBUG="files")
    for args in (["info", str(forged)], ["info", "--json", str(forged)], ["check", str(forged)],
                 ["check", "--deep", "--json", str(forged)]):
        p = snap(*args, env=env)
        assert p.returncode == 0, (args, p.stdout, p.stderr[-3000:])
        assert not unpickled.exists(), args
        assert not imported.exists(), args
        dlopened = [line for line in p.stderr.splitlines() if "file=" in line and "evil.so" in line]
        assert dlopened == [], (args, dlopened)


class _Opener:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


# ------------------------------------------------------------------ check
def test_check_fresh_image_exits_0(built):
    image, _ = built
    p = snap("check", str(image))
    assert_ok(p)
    assert "ok:" in p.stdout and "3 of 3 entries fresh" in p.stdout
    doc = json.loads(snap("check", "--json", str(image)).stdout)
    assert doc["ok"] is True and doc["problems"] == []
    assert [e["status"] for e in doc["entries"]] == ["fresh"] * 3
    assert all(item["ok"] for item in doc["environment"])
    assert {item["name"] for item in doc["environment"]} >= {"python", "numba", "llvmlite", "numpy"}
    assert doc["cpu"]["missing"] == []


def test_check_names_the_edited_function(built):
    image, src = built
    lib = src / "pkgx" / "lib.py"
    original = lib.read_text()
    try:
        lib.write_text("# a comment moves every line\n" + original)        # file changed, code did not
        assert_ok(snap("check", str(image)))
        lib.write_text(original.replace("add(x, x) * k", "add(x, x) * k + 1"))
        p = snap("check", str(image))
        assert p.returncode == 1
        last = p.stdout.strip().splitlines()[-1]
        assert "1 of 3 entries stale (pkgx.lib.scale changed)" in last
        doc = json.loads(snap("check", "--json", str(image)).stdout)
        status = {(e["function"], e["signature"]): (e["status"], e["changed"]) for e in doc["entries"]}
        assert status[("pkgx.lib.scale", "(float64, float64) -> float64")] == ("stale", ["pkgx.lib.scale"])
        assert status[("pkgx.lib.add", "(int64, int64) -> int64")] == ("fresh", [])
        lib.write_text(original.replace("return a + b", "return a - b"))    # a callee: its callers go stale
        p = snap("check", str(image))
        assert p.returncode == 1
        assert "3 of 3 entries stale (pkgx.lib.add changed)" in p.stdout
    finally:
        lib.write_text(original)
    assert_ok(snap("check", str(image)))


def test_check_finds_moved_sources_by_module_without_importing(built, tmp_path):
    image, src = built
    moved = tmp_path / "elsewhere"
    marker = tmp_path / "imported"
    shutil.move(str(src / "pkgx"), str(moved / "pkgx"))
    try:
        p = snap("check", str(image), env=clean_env(SNAPTEST_IMPORT_MARKER=str(marker)))
        assert p.returncode == 1
        assert "source missing: pkgx.lib" in p.stdout
        p = snap("check", str(image), env=clean_env(SNAPTEST_IMPORT_MARKER=str(marker), PYTHONPATH=str(moved)))
        assert_ok(p)
        assert not marker.exists()      # found through the finders; pkgx/__init__.py never ran
    finally:
        shutil.move(str(moved / "pkgx"), str(src / "pkgx"))


def test_check_several_images(built, tmp_path):
    """One verdict per image; an unreadable one is a one-line error, the others still checked."""
    image, _ = built
    bad = tmp_path / "bad.so"
    bad.write_bytes(b"not an image")
    p = snap("check", str(image), str(bad), str(image))
    assert p.returncode == 1
    assert p.stdout.count(f"ok: {image} would be served here") == 2
    assert p.stdout.strip().splitlines()[-1] == "2 of 3 images would be served here"
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("snap check failed:") and "bad.so" in lines[0], p.stderr
    p = snap("check", str(image), str(image))
    assert_ok(p)
    assert "2 of 2 images would be served here" in p.stdout
    doc = json.loads(snap("check", "--json", str(image), str(bad)).stdout)
    assert doc["ok"] is False
    assert [(d["path"], d["ok"]) for d in doc["images"]] == [(str(image), True), (str(bad), False)]
    assert doc["images"][0]["package"] is None and doc["images"][0]["source_root"] is None


def test_check_source_root_reroots_the_recorded_sources(built, tmp_path):
    """--source-root: the image checked against a deployment of its sources, not the build tree."""
    image, src = built
    deploy = tmp_path / "deploy"
    shutil.copytree(src / "pkgx", deploy / "pkgx")
    doc = json.loads(snap("check", "--json", "--source-root", str(deploy), str(image)).stdout)
    assert doc["ok"] and doc["source_root"] == str(deploy)
    assert [s["path"] for s in doc["sources"]] == [str(deploy / "pkgx" / "lib.py")]
    lib = deploy / "pkgx" / "lib.py"
    lib.write_text(lib.read_text().replace("return a + b", "return a - b"))
    p = snap("check", "--source-root", str(deploy), str(image))
    assert p.returncode == 1
    assert "3 of 3 entries stale (pkgx.lib.add changed)" in p.stdout
    assert_ok(snap("check", str(image)))                    # the build tree is unchanged
    (deploy / "pkgx" / "lib.py").unlink()                   # not under the root: looked for on sys.path,
    p = snap("check", "--source-root", str(deploy), str(image))    # never at the recorded path
    assert p.returncode == 1 and "source missing: pkgx.lib" in p.stdout
    p = snap("check", "--source-root", str(tmp_path / "nope"), str(image))
    assert p.returncode == 2 and p.stderr.strip().splitlines() == [
        f"snap check failed: --source-root '{tmp_path / 'nope'}' is not a directory"]


def test_check_image_from_another_numba_version(built, tmp_path):
    import numba
    image, _ = built
    v = numba.__version__.encode()
    forged = tmp_path / "other.so"
    forge(image, forged, b'"numba":"' + v + b'"', b'"numba":"' + b"9" * len(v) + b'"')
    p = snap("check", str(forged))
    assert p.returncode == 1
    last = p.stdout.strip().splitlines()[-1]
    assert "built for another environment" in last
    assert f"numba {'9' * len(v)} (image) vs {v.decode()} (here)" in last
    doc = json.loads(snap("check", "--json", str(forged)).stdout)
    assert doc["ok"] is False
    assert [i["name"] for i in doc["environment"] if not i["ok"]] == ["numba"]
    assert all(e["status"] == "fresh" for e in doc["entries"])
    assert_ok(snap("info", str(forged)))      # info describes it all the same


def test_check_deep(built, tmp_path):
    import lief
    image, _ = built
    p = snap("check", "--deep", str(image))
    assert_ok(p)
    for name in ("checksum", "LIEF check_layout", "segments cover sections", "image directory",
                 "entry symbols exported"):
        assert name in p.stdout
    assert "FAILED" not in p.stdout
    doc = json.loads(snap("check", "--deep", "--json", str(image)).stdout)
    assert doc["ok"] and doc["deep"] and all(c["ok"] for c in doc["deep"])

    text = lief.ELF.parse(str(image)).get_section(".text")
    data = bytearray(image.read_bytes())
    data[text.offset + 5] ^= 0xFF
    flipped = tmp_path / "flipped.so"
    flipped.write_bytes(bytes(data))
    p = snap("check", "--deep", str(flipped))
    assert p.returncode == 1
    assert "Traceback" not in p.stdout + p.stderr
    assert "verification failed: checksum" in p.stdout.strip().splitlines()[-1]
    doc = json.loads(snap("check", "--deep", "--json", str(flipped)).stdout)
    assert [c["name"] for c in doc["deep"] if not c["ok"]] == ["checksum"]
    _one_line_error(snap("check", str(flipped)), "check", "checksum mismatch")
    _one_line_error(snap("info", str(flipped)), "info", "checksum mismatch")


# --------------------------------------------------------------- bad files
@pytest.mark.parametrize("kind, needle", [
    ("missing", "no such file"),
    ("directory", "is a directory"),
    ("empty", "empty file"),
    ("truncated", "truncated"),
    ("text", "not an ELF file"),
    ("foreign ELF", "not a snap image"),
    ("flipped byte in manifest", "checksum mismatch"),
])
@pytest.mark.parametrize("command", ["info", "check"])
def test_bad_files_give_one_line_and_exit_1(built, tmp_path, kind, needle, command):
    image, _ = built
    f = tmp_path / "bad.so"
    data = image.read_bytes()
    if kind == "directory":
        f.mkdir()
    elif kind == "empty":
        f.write_bytes(b"")
    elif kind == "truncated":
        f.write_bytes(data[: len(data) // 2])
    elif kind == "text":
        f.write_text("print('hello')\n" * 100)
    elif kind == "foreign ELF":
        import numpy.linalg._umath_linalg as ext
        shutil.copy(ext.__file__, f)
    elif kind == "flipped byte in manifest":
        i = data.index(b'"signature":"(')
        f.write_bytes(data[:i + 2] + bytes([data[i + 2] ^ 0x20]) + data[i + 3:])
    _one_line_error(snap(command, str(f)), command, needle)
    if kind in ("missing", "flipped byte in manifest"):
        _one_line_error(snap(command, "--json", str(f)), command, needle)
    if command == "check" and kind == "flipped byte in manifest":
        _one_line_error(snap(command, "--deep", str(f)), command, needle)
