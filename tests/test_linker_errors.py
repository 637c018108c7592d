"""Unsupported or broken input is a LinkError with a clear message, never a broken image."""
from __future__ import annotations

import struct

import llvmlite.binding as llvm
import numpy as np
import pytest

import linker
from linker import elf
from linker_util import emit

SIMPLE = r"""
@table = global [4 x i64] [i64 1, i64 2, i64 3, i64 4]
declare i64 @ext(i64)
define i64 @f(i64 %i) {
  %p = getelementptr [4 x i64], ptr @table, i64 0, i64 %i
  %v = load i64, ptr %p
  %r = call i64 @ext(i64 %v)
  ret i64 %r
}
"""


@pytest.fixture(scope="module")
def simple() -> bytes:
    return emit(SIMPLE)


def link_error(objects, *match: str) -> str:
    with pytest.raises(linker.LinkError) as e:
        linker.link(objects)
    msg = str(e.value)
    for m in match:
        assert m in msg, msg
    return msg


def test_duplicate_strong_definitions_name_both_objects(simple):
    other = emit("define i64 @f(i64 %x) {\n  ret i64 %x\n}")
    link_error([simple, other], "duplicate symbol 'f'", "object #0", "object #1")


def test_tls_definition():
    obj = emit("@t = thread_local global i64 0\ndefine i64 @g() {\n  %v = load i64, ptr @t\n  ret i64 %v\n}")
    link_error([obj], "object #0", "TLS")


def test_tls_reference():
    obj = emit("@t = external thread_local global i64\ndefine i64 @g() {\n  %v = load i64, ptr @t\n"
               "  ret i64 %v\n}")
    link_error([obj], "'t'", "TLS")


STATIC = r"""
@tab = internal global [4 x i64] [i64 1, i64 2, i64 3, i64 4]
define ptr @addr() {
  ret ptr @tab
}
"""


def test_static_relocation_model():
    link_error([emit(STATIC, reloc="static")], "object #0", ".text", "R_X86_64_32", "reloc='pic'")


def test_large_code_model():
    msg = link_error([emit(SIMPLE, codemodel="large")], "object #0")
    assert "large code model" in msg or "codemodel='default'" in msg, msg


@pytest.mark.parametrize("triple,machine", [("i386-pc-linux-gnu", "ELF32"),
                                            ("aarch64-unknown-linux-gnu", "aarch64"),
                                            ("powerpc64-unknown-linux-gnu", "big-endian")])
def test_foreign_objects(triple, machine):
    llvm.initialize_all_targets()
    llvm.initialize_all_asmprinters()
    try:
        obj = emit("define i32 @f() {\n  ret i32 1\n}", triple=triple)
    except RuntimeError as e:            # target not built into this llvmlite
        pytest.skip(str(e))
    link_error([obj], "object #0", machine)


def test_patched_machine(simple):
    obj = bytearray(simple)
    struct.pack_into("<H", obj, 18, elf.EM_RISCV)
    link_error([bytes(obj)], "riscv", "not x86-64")


@pytest.mark.parametrize("data,what", [(b"", "not an ELF file"), (b"\x7fELF", "truncated ELF header"),
                                       (b"!<arch>\nnot an object" * 4, "not an ELF file")])
def test_not_elf(data, what):
    link_error([data], "object #0", what)


def test_truncated_object(simple):
    link_error([simple[: len(simple) // 2]], "object #0", "truncated")
    link_error([simple[:100]], "object #0", "truncated")


def _first_rela(obj: bytes) -> int:
    eh = np.frombuffer(obj, elf.EHDR, 1)[0]
    sh = np.frombuffer(obj, elf.SHDR, int(eh["shnum"]), int(eh["shoff"]))
    return int(sh[sh["type"] == elf.SHT_RELA][0]["offset"])


def test_unknown_relocation_type(simple):
    obj = bytearray(simple)
    off = _first_rela(obj)
    info = struct.unpack_from("<Q", obj, off + 8)[0]
    struct.pack_into("<Q", obj, off + 8, (info & ~0xFFFFFFFF) | 250)
    link_error([bytes(obj)], "object #0", "relocation type 250", "unknown")


def test_relocation_symbol_out_of_range(simple):
    obj = bytearray(simple)
    off = _first_rela(obj)
    info = struct.unpack_from("<Q", obj, off + 8)[0]
    struct.pack_into("<Q", obj, off + 8, (info & 0xFFFFFFFF) | (9999 << 32))
    link_error([bytes(obj)], "object #0", "symbol index 9999")


def test_error_names_object_index(simple):
    link_error([simple, simple[:64]], "object #1")


def test_bad_extra_section_name(simple):
    with pytest.raises(linker.LinkError, match="collides"):
        linker.link([simple], sections={".text": b"x"})


def test_reserved_symbol():
    obj = emit("@__snap_image_dir = global i64 0")
    link_error([obj], "__snap_image_dir", "reserved")


# --- ImageFile on broken files ---------------------------------------------------------

@pytest.fixture(scope="module")
def image(simple) -> bytes:
    return linker.link([simple], sections={"snap.manifest": b"{}"})


def open_error(path, *match: str) -> str:
    with pytest.raises(linker.LinkError) as e:
        linker.ImageFile.open(path)
    for m in match:
        assert m in str(e.value), str(e.value)
    return str(e.value)


def test_image_file_rejects_empty(tmp_path):
    (tmp_path / "e.so").write_bytes(b"")
    open_error(tmp_path / "e.so", "empty")


@pytest.mark.parametrize("cut", [10, 100, 1000, -1, -200])
def test_image_file_rejects_truncated(image, tmp_path, cut):
    (tmp_path / "t.so").write_bytes(image[:cut])
    with pytest.raises(linker.LinkError):
        linker.ImageFile.open(tmp_path / "t.so")


@pytest.mark.parametrize("where", [0x1008, 0x300, -100])
def test_image_file_rejects_flipped_byte(image, tmp_path, where):
    data = bytearray(image)
    data[where] ^= 0x40
    (tmp_path / "f.so").write_bytes(bytes(data))
    with pytest.raises(linker.LinkError):
        linker.ImageFile.open(tmp_path / "f.so")
    if where == 0x1008:               # inside .text: only the checksum can tell
        open_error(tmp_path / "f.so", "checksum mismatch")
        linker.ImageFile.open(tmp_path / "f.so", verify=False).close()


def test_image_file_rejects_foreign_files(tmp_path):
    import ctypes.util
    import sys
    open_error(sys.executable, "not")
    (tmp_path / "x.so").write_text("hello world, this is not an image\n" * 10)
    open_error(tmp_path / "x.so", "not an ELF file")
    libm = ctypes.util.find_library("m")
    for d in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64"):
        import os
        p = os.path.join(d, libm or "libm.so.6")
        if os.path.exists(p):
            open_error(p, "not a snap image")
            break


def test_image_file_never_loads(image, tmp_path):
    """Opening does not dlopen: the file is at most mapped to be read, never executable."""
    p = tmp_path / "n.so"
    p.write_bytes(image)
    with linker.ImageFile.open(p) as f:
        assert f.imports == ["ext"]
        with open("/proc/self/maps") as maps:
            mapped = [line.split() for line in maps if str(p) in line]
        assert all(m[1].startswith("r--") for m in mapped), mapped      # (small files are read)


def test_image_file_survives_random_corruption(image, tmp_path):
    """Unverified opening of damaged files: a LinkError or a consistent view, never another exception."""
    import random
    rnd = random.Random(5)
    path = tmp_path / "fz.so"
    for _ in range(300):
        d = bytearray(image)
        for _ in range(rnd.randint(1, 4)):
            lo, hi = rnd.choice([(0, 64), (64, 500), (len(d) - 1400, len(d)), (0, len(d))])
            d[rnd.randrange(lo, hi)] = rnd.randrange(256)
        if rnd.random() < 0.2:
            d = d[:rnd.randrange(len(d))]
        path.write_bytes(bytes(d))
        try:
            with linker.ImageFile.open(path, verify=False) as f:
                f.exports, f.imports
                for name in f.sections:
                    f.section(name)
        except linker.LinkError:
            pass


def test_link_survives_random_corruption():
    """Damaged objects: a LinkError or a successful link, never another exception."""
    import random
    obj = emit(SIMPLE + "\n$c = comdat any\ndefine linkonce_odr i64 @c(i64 %x) comdat {\n  ret i64 %x\n}")
    rnd = random.Random(11)
    for _ in range(400):
        d = bytearray(obj)
        for _ in range(rnd.randint(1, 3)):
            d[rnd.randrange(len(d))] = rnd.randrange(256)
        try:
            linker.link([bytes(d)])
        except linker.LinkError:
            pass
