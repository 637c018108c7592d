"""Linking real llvmlite objects, loading them and calling into them (no mocks)."""
from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

import linker
from linker_util import ROOT, addr, check_image, emit, link_and_check, run_python

I64 = ctypes.c_int64
FN1 = ctypes.CFUNCTYPE(I64, I64)

OBJ_A = r"""
$shared = comdat any
@counter = global i64 0
@zeros = global [1024 x i64] zeroinitializer
@table = constant [4 x i64] [i64 10, i64 20, i64 30, i64 40]
@msg = private unnamed_addr constant [14 x i8] c"hello, linker\00"
@ext_data = external global i64
@maybe = extern_weak global i64
@ctor_ran = global i64 0
@fptable = constant [3 x ptr] [ptr @add_b, ptr @imported_fn, ptr @square]
@mut_fp = global ptr @imported_fn
@llvm.global_ctors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 65535, ptr @ctor, ptr null }]

declare i64 @add_b(i64)
declare i64 @imported_fn(i64)

define linkonce_odr i64 @shared(i64 %x) comdat {
  %r = add i64 %x, 1
  ret i64 %r
}
define linkonce_odr i64 @weakdup(i64 %x) {
  ret i64 1
}
define i64 @square(i64 %x) {
  %r = mul i64 %x, %x
  ret i64 %r
}
define i64 @call_b(i64 %x) {
  %r = call i64 @add_b(i64 %x)
  %s = add i64 %r, 1
  ret i64 %s
}
define i64 @call_shared(i64 %x) {
  %r = call i64 @shared(i64 %x)
  ret i64 %r
}
define i64 @call_imported(i64 %x) {
  %r = call i64 @imported_fn(i64 %x)
  %s = add i64 %r, 1
  ret i64 %s
}
define i64 @call_weakdup(i64 %x) {
  %r = call i64 @weakdup(i64 %x)
  ret i64 %r
}
define i64 @use_table(i64 %i) {
  %p = getelementptr [4 x i64], ptr @table, i64 0, i64 %i
  %v = load i64, ptr %p
  ret i64 %v
}
define i64 @bump(i64 %by) {
  %v = load i64, ptr @counter
  %n = add i64 %v, %by
  store i64 %n, ptr @counter
  ret i64 %n
}
define i64 @bss_rw(i64 %i, i64 %v) {
  %p = getelementptr [1024 x i64], ptr @zeros, i64 0, i64 %i
  %old = load i64, ptr %p
  store i64 %v, ptr %p
  ret i64 %old
}
define i64 @jt(i64 %x) {
  switch i64 %x, label %d [ i64 0, label %a  i64 1, label %b  i64 2, label %c
                            i64 3, label %e  i64 4, label %f  i64 5, label %g ]
a:
  ret i64 100
b:
  ret i64 201
c:
  ret i64 302
e:
  ret i64 403
f:
  ret i64 504
g:
  ret i64 605
d:
  ret i64 -1
}
define i64 @call_via_table(i64 %i, i64 %x) {
  %p = getelementptr [3 x ptr], ptr @fptable, i64 0, i64 %i
  %f = load ptr, ptr %p
  %r = call i64 %f(i64 %x)
  ret i64 %r
}
define i64 @call_mut_fp(i64 %x) {
  %f = load ptr, ptr @mut_fp
  %r = call i64 %f(i64 %x)
  store ptr @square, ptr @mut_fp
  ret i64 %r
}
define i64 @read_ext(i64 %x) {
  %v = load i64, ptr @ext_data
  %r = add i64 %v, %x
  ret i64 %r
}
define i64 @has_maybe(i64 %x) {
  %c = icmp ne ptr @maybe, null
  %r = zext i1 %c to i64
  ret i64 %r
}
define double @scale(double %x) {
  %a = fmul double %x, 3.25
  %b = fadd double %a, 0.125
  ret double %b
}
define i64 @is_counter(ptr %p) {
  %c = icmp eq ptr %p, @counter
  %r = zext i1 %c to i64
  ret i64 %r
}
define i64 @fact(i64 %n) {
  %c = icmp sle i64 %n, 1
  br i1 %c, label %base, label %rec
base:
  ret i64 1
rec:
  %m = sub i64 %n, 1
  %f = call i64 @fact(i64 %m)
  %r = mul i64 %n, %f
  ret i64 %r
}
define ptr @get_msg() {
  ret ptr @msg
}
define void @ctor() {
  %v = call i64 @imported_fn(i64 5)
  store i64 %v, ptr @ctor_ran
  ret void
}
"""

OBJ_B = r"""
$shared = comdat any
define linkonce_odr i64 @shared(i64 %x) comdat {
  %r = add i64 %x, 1000
  ret i64 %r
}
define linkonce_odr i64 @weakdup(i64 %x) {
  ret i64 2
}
define i64 @add_b(i64 %x) {
  %s = call i64 @shared(i64 %x)
  %r = add i64 %s, 99
  ret i64 %r
}
define i64 @call_weakdup_b(i64 %x) {
  %r = call i64 @weakdup(i64 %x)
  ret i64 %r
}
"""


@pytest.fixture(scope="module")
def objs() -> tuple[bytes, bytes]:
    return emit(OBJ_A), emit(OBJ_B)


@pytest.fixture(scope="module")
def image_bytes(objs) -> bytes:
    return linker.link(list(objs), sections={"snap.manifest": b'{"version": 1}', "snap.extra": b"\x00\x01\x02"})


class Env:
    """Imports the test image needs: a Python callback and a data word we own."""

    def __init__(self) -> None:
        self.data = I64(1000)
        self.calls: list[int] = []

        @FN1
        def imported_fn(x):
            self.calls.append(x)
            return 3 * x
        self.fn = imported_fn
        self.table = {"imported_fn": addr(imported_fn), "ext_data": ctypes.addressof(self.data)}

    def resolve(self, name: str):
        return self.table.get(name)


@pytest.fixture(scope="module")
def loaded(image_bytes, tmp_path_factory):
    path = check_image(image_bytes, tmp_path_factory.mktemp("img") / "image.so")
    env = Env()
    img = linker.load(path, env.resolve)
    return img, env


def call(img, name, *args, restype=I64):
    fn = ctypes.CFUNCTYPE(restype, *[I64] * len(args))(img.address(name))
    return fn(*args)


def test_layout_checks(image_bytes, tmp_path):
    check_image(image_bytes, tmp_path / "a.so")


def test_calls_across_objects(loaded):
    img, _ = loaded
    assert call(img, "square", 7) == 49
    assert call(img, "call_b", 1) == 1 + 1 + 99 + 1      # add_b uses the kept COMDAT copy of `shared`


def test_comdat_and_weak_first_definition_wins(loaded):
    img, _ = loaded
    assert call(img, "call_shared", 5) == 6
    assert call(img, "call_weakdup", 0) == 1
    assert call(img, "call_weakdup_b", 0) == 1


def test_constant_table_jump_table_recursion(loaded):
    img, _ = loaded
    assert [call(img, "use_table", i) for i in range(4)] == [10, 20, 30, 40]
    assert [call(img, "jt", i) for i in range(7)] == [100, 201, 302, 403, 504, 605, -1]
    assert call(img, "fact", 10) == 3628800
    scale = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)(img.address("scale"))   # .rodata.cst8
    assert scale(2.0) == 6.625


def test_mutable_global_and_bss(loaded):
    img, _ = loaded
    assert call(img, "bump", 2) == 2
    assert call(img, "bump", 3) == 5
    assert ctypes.c_int64.from_address(img.address("counter")).value == 5
    assert call(img, "is_counter", img.address("counter")) == 1       # non-relaxable GOT use: GOT entry
    assert call(img, "is_counter", img.address("counter") + 8) == 0
    assert call(img, "bss_rw", 1000, 7) == 0
    assert call(img, "bss_rw", 1000, 8) == 7


def test_imports_data_fixups_and_ctor(loaded):
    img, env = loaded
    assert ctypes.c_int64.from_address(img.address("ctor_ran")).value == 15   # ctor ran after the fill
    assert env.calls[0] == 5
    assert call(img, "read_ext", 1) == 1001
    env.data.value = 5
    assert call(img, "read_ext", 1) == 6
    assert call(img, "call_via_table", 0, 1) == 1 + 1 + 99     # local function pointer (RELATIVE)
    assert call(img, "call_via_table", 1, 4) == 12             # imported function pointer (import fixup)
    assert call(img, "call_via_table", 2, 4) == 16
    assert call(img, "has_maybe", 0) == 0                      # unresolved weak -> 0
    assert call(img, "call_imported", 2) == 7                  # through the stub
    assert call(img, "call_mut_fp", 3) == 9                    # import fixup in writable .data
    assert call(img, "call_mut_fp", 3) == 9                    # (now points at square)


def test_string_constant_and_sections(loaded, image_bytes, tmp_path):
    img, _ = loaded
    p = call(img, "get_msg", restype=ctypes.c_void_p)
    assert ctypes.string_at(p) == b"hello, linker"
    assert img.section("snap.manifest").tobytes() == b'{"version": 1}'
    assert img.section("snap.extra").tobytes() == b"\x00\x01\x02"
    with pytest.raises(KeyError):
        img.section("nope")
    with pytest.raises(KeyError):
        img.address("no_such_symbol")
    assert sorted(img.imports) == ["ext_data", "imported_fn", "maybe"]


def test_import_table_is_read_only_after_load(loaded, tmp_path):
    img, _ = loaded
    # Writing to the table must fault: do it in a child that loads its own copy.
    path = tmp_path / "ro.so"
    path.write_bytes(linker.link([emit(OBJ_A), emit(OBJ_B)]))
    r = run_python(f"""
        import ctypes, linker
        data = ctypes.c_int64(0)
        fn = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)(lambda x: x)
        table = {{"ext_data": ctypes.addressof(data), "imported_fn": ctypes.cast(fn, ctypes.c_void_p).value}}
        img = linker.load({str(path)!r}, table.get)
        d = img._dir
        print("writing", flush=True)
        ctypes.c_uint64.from_address(img.base + d["slots_addr"]).value = 1
        print("wrote")
    """, check=False)
    assert "writing" in r.stdout and "wrote" not in r.stdout
    assert r.returncode == -signal.SIGSEGV


def test_image_file_reads_without_loading(image_bytes, tmp_path):
    path = tmp_path / "f.so"
    path.write_bytes(image_bytes)
    with linker.ImageFile.open(path) as f:
        assert f.section("snap.manifest").tobytes() == b'{"version": 1}'
        assert f.sections["snap.extra"] == 3 and ".text" in f.sections and ".symtab" in f.sections
        assert sorted(f.imports) == ["ext_data", "imported_fn", "maybe"]
        assert f.exports["square"] > 0 and f.exports["table"] == 32
        assert "shared" in f.exports and "printf" not in f.exports
        with pytest.raises(KeyError):
            f.section("nope")


def test_relink_is_byte_identical(objs, image_bytes):
    assert linker.link(list(objs), sections={"snap.extra": b"\x00\x01\x02",
                                             "snap.manifest": b'{"version": 1}'}) == image_bytes


def test_unresolved_imports_named_in_one_error(image_bytes, tmp_path):
    path = tmp_path / "u.so"
    path.write_bytes(image_bytes)
    with pytest.raises(linker.LinkError) as e:
        linker.load(path, lambda name: None)
    assert "2 unresolved" in str(e.value) and "ext_data, imported_fn" in str(e.value)


@pytest.mark.parametrize("through", ["call_imported", "call_via_table"])   # stub / import fixup
def test_unfilled_import_traps(image_bytes, tmp_path, through):
    path = tmp_path / "t.so"
    path.write_bytes(image_bytes)
    # Plain dlopen, no fill: ld.so must not run the constructor, and a call must trap loudly.
    r = run_python(f"""
        import ctypes, os
        lib = ctypes.CDLL({str(path)!r}, mode=os.RTLD_NOW | os.RTLD_LOCAL)
        print("loaded", flush=True)
        print(ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)(lib.call_b)(1), flush=True)
        getattr(lib, {through!r})(ctypes.c_int64(1), ctypes.c_int64(1))
    """, check=False)
    assert r.stdout.split() == ["loaded", "102"]
    assert r.returncode in (-signal.SIGILL, -signal.SIGTRAP), (r.returncode, r.stderr)
    assert "snap: call through an unfilled import slot" in r.stderr


UNWIND = r"""
declare void @cb()
define i64 @probe(i64 %x) noinline {
  call void @cb()
  %r = add i64 %x, 1
  ret i64 %r
}
define i64 @outer(i64 %x) noinline {
  %r = call i64 @probe(i64 %x)
  %s = mul i64 %r, 2
  ret i64 %s
}
"""


def test_unwind_through_image_frames(tmp_path):
    path = link_and_check([emit(UNWIND)], tmp_path / "u.so")
    r = run_python(f"""
        import ctypes, linker
        gcc = ctypes.CDLL("libgcc_s.so.1")
        TRACE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
        gcc._Unwind_GetIP.restype = ctypes.c_size_t
        gcc._Unwind_GetIP.argtypes = [ctypes.c_void_p]
        ips = []
        @TRACE
        def tr(ctx, arg):
            ips.append(gcc._Unwind_GetIP(ctx)); return 0
        @ctypes.CFUNCTYPE(None)
        def cb():
            gcc._Unwind_Backtrace(tr, None)
        img = linker.load({str(path)!r}, {{"cb": ctypes.cast(cb, ctypes.c_void_p).value}}.get)
        f = linker.ImageFile.open({str(path)!r})
        lo, hi = img.address("probe"), img.address("outer") + f.exports["outer"]
        res = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)(img.address("outer"))(20)
        inside = [i for i, ip in enumerate(ips) if lo <= ip < hi]
        print(res, len(ips), inside)
    """)
    res, n, inside = r.stdout.split(" ", 2)
    inside = eval(inside)
    assert res == "42"
    assert len(inside) == 2, r.stdout                 # probe and outer frames both found
    assert int(n) > inside[-1] + 3, r.stdout          # and the unwinder got past them into libffi/python


@pytest.mark.skipif(not shutil.which("gdb"), reason="gdb not installed")
def test_gdb_names_image_frames(tmp_path):
    path = link_and_check([emit(UNWIND)], tmp_path / "g.so")
    script = tmp_path / "g.py"
    script.write_text(textwrap.dedent(f"""
        import ctypes, os, signal, linker
        @ctypes.CFUNCTYPE(None)
        def cb():
            os.kill(os.getpid(), signal.SIGTRAP)
        img = linker.load({str(path)!r}, {{"cb": ctypes.cast(cb, ctypes.c_void_p).value}}.get)
        ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)(img.address("outer"))(1)
    """))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run(["gdb", "-q", "-batch", "-nx", "-ex", "run", "-ex", "bt", "--args", sys.executable,
                        str(script)], capture_output=True, text=True, env=env, timeout=120)
    if "ptrace" in r.stderr.lower() or "SIGTRAP" not in r.stdout:
        pytest.skip(f"gdb cannot run the child here: {r.stderr[-300:]}")
    frames = [ln for ln in r.stdout.splitlines() if ln.startswith("#")]
    assert any(" probe () from /proc/" in ln for ln in frames), r.stdout
    assert any(" outer () from /proc/" in ln for ln in frames), r.stdout


def test_gnu_hash_lets_dlsym_find_every_export(tmp_path):
    n = 300
    ir = "\n".join(f"define i64 @fn_{i}_{'x' * (i % 37)}() {{\n  ret i64 {i}\n}}" for i in range(n))
    path = link_and_check([emit(ir)], tmp_path / "many.so")
    img = linker.load(path, lambda name: None)
    for i in range(n):
        fn = ctypes.CFUNCTYPE(I64)(img.address(f"fn_{i}_{'x' * (i % 37)}"))
        assert fn() == i
    lib = ctypes.CDLL(str(path))                       # glibc's own lookup through DT_GNU_HASH
    assert all(hasattr(lib, f"fn_{i}_{'x' * (i % 37)}") for i in range(n))
    assert not hasattr(lib, "fn_nope")


def test_common_symbols_and_hidden_globals(tmp_path):
    a = emit("""
@buf = common global [64 x i64] zeroinitializer, align 16
@hid = hidden global i64 41
define i64 @get_hid() {
  %v = load i64, ptr @hid
  %p = getelementptr [64 x i64], ptr @buf, i64 0, i64 3
  store i64 %v, ptr %p
  ret i64 %v
}""")
    b = emit("""
@buf = common global [128 x i64] zeroinitializer, align 16
define i64 @read_buf(i64 %i) {
  %p = getelementptr [128 x i64], ptr @buf, i64 0, i64 %i
  %v = load i64, ptr %p
  ret i64 %v
}""")
    path = link_and_check([a, b], tmp_path / "c.so")
    img = linker.load(path, lambda name: None)
    with linker.ImageFile.open(path) as f:
        assert f.exports["buf"] == 128 * 8 and "hid" not in f.exports
    assert call(img, "get_hid") == 41
    assert call(img, "read_buf", 3) == 41


def test_weak_import_resolved_when_available(tmp_path):
    ir = "@maybe = extern_weak global i64\n" \
         "define i64 @get() {\n  %c = icmp ne ptr @maybe, null\n  br i1 %c, label %y, label %n\n" \
         "y:\n  %v = load i64, ptr @maybe\n  ret i64 %v\nn:\n  ret i64 -1\n}"
    obj = emit(ir)
    value = I64(77)
    img = linker.load(link_and_check([obj], tmp_path / "w1.so"), {"maybe": ctypes.addressof(value)}.get)
    assert call(img, "get") == 77
    img = linker.load(link_and_check([obj], tmp_path / "w2.so"), lambda name: None)
    assert call(img, "get") == -1


def test_constructor_priorities(tmp_path):
    ir = """
@x = global i64 0
@llvm.global_ctors = appending global [2 x { i32, ptr, ptr }] [
  { i32, ptr, ptr } { i32 65535, ptr @late, ptr null }, { i32, ptr, ptr } { i32 101, ptr @early, ptr null }]
define void @early() {
  %v = load i64, ptr @x
  %m = mul i64 %v, 10
  %a = add i64 %m, 1
  store i64 %a, ptr @x
  ret void
}
define void @late() {
  %v = load i64, ptr @x
  %m = mul i64 %v, 10
  %a = add i64 %m, 2
  store i64 %a, ptr @x
  ret void
}
"""
    img = linker.load(link_and_check([emit(ir)], tmp_path / "ctors.so"), lambda name: None)
    assert I64.from_address(img.address("x")).value == 12


def test_medium_code_model_gotoff(tmp_path):
    """codemodel='medium': large data sections, R_X86_64_GOTPC32 to _GLOBAL_OFFSET_TABLE_, GOTOFF64."""
    ir = """
@big = internal global [20000 x i64] zeroinitializer
@tab = internal constant [3 x i64] [i64 1, i64 2, i64 3]
define i64 @f(i64 %i, i64 %v) {
  %p = getelementptr [20000 x i64], ptr @big, i64 0, i64 %i
  %o = load i64, ptr %p
  store i64 %v, ptr %p
  %q = getelementptr [3 x i64], ptr @tab, i64 0, i64 1
  %t = load i64, ptr %q
  %r = add i64 %o, %t
  ret i64 %r
}
"""
    img = linker.load(link_and_check([emit(ir, codemodel="medium")], tmp_path / "m.so"), lambda name: None)
    assert [call(img, "f", 19999, 5), call(img, "f", 19999, 6), call(img, "f", 3, 1)] == [2, 7, 2]


def test_empty_link_and_no_imports(tmp_path):
    path = link_and_check([], tmp_path / "e.so", sections={"snap.manifest": b"x"})
    img = linker.load(path, lambda name: None)
    assert img.imports == [] and img.section("snap.manifest").tobytes() == b"x"


def test_load_uses_the_verified_file_even_if_the_path_is_replaced(tmp_path):
    path = tmp_path / "live.so"
    one = linker.link([emit("define i64 @which() {\n  ret i64 1\n}")], sections={"snap.manifest": b"one"})
    two = linker.link([emit("define i64 @which() {\n  ret i64 2\n}")], sections={"snap.manifest": b"two"})
    path.write_bytes(one)
    with linker.ImageFile.open(path) as f:
        (tmp_path / "new.so").write_bytes(two)
        (tmp_path / "new.so").rename(path)              # atomic replacement, as a rebuild would do
        img = f.load(lambda name: None)
    assert call(img, "which") == 1 and img.section("snap.manifest").tobytes() == b"one"
    assert img.path == str(path)


def test_resolver_wins_over_dlsym(tmp_path):
    ir = "declare i64 @labs(i64)\ndefine i64 @f(i64 %x) {\n  %r = call i64 @labs(i64 %x)\n  ret i64 %r\n}"
    path = link_and_check([emit(ir)], tmp_path / "r.so")
    mine = FN1(lambda x: x * 100)
    img = linker.load(path, {"labs": addr(mine)}.get)
    assert call(img, "f", -2) == -200                  # ours, not libc's labs
    img2 = linker.load(link_and_check([emit(ir)], tmp_path / "r2.so"), lambda name: None)
    assert call(img2, "f", -2) == 2                    # fallback: dlsym(RTLD_DEFAULT, "labs")


def test_rewriting_a_loaded_image_in_place_changes_nothing_loaded(tmp_path):
    path = tmp_path / "inplace.so"
    path.write_bytes(linker.link([emit("define i64 @v() {\n  ret i64 1\n}")]))
    img = linker.load(path, lambda name: None)
    assert call(img, "v") == 1
    new = linker.link([emit("define i64 @v() {\n  ret i64 2\n}")])
    with open(path, "r+b") as f:           # same inode, same size: only the contents change
        f.write(new)
    # The loaded code is a private copy of the bytes checked: a library dlopened from its
    # file would now run the new bytes (its pages are the file's).
    assert call(img, "v") == 1
    again = linker.load(path, lambda name: None)      # the new bytes, checked, in a copy of their own
    assert call(again, "v") == 2 and call(img, "v") == 1


def test_closed_image_file_cannot_load(image_bytes, tmp_path):
    path = tmp_path / "closed.so"
    path.write_bytes(image_bytes)
    f = linker.ImageFile.open(path)
    f.close()
    with pytest.raises(linker.LinkError, match="closed"):
        f.load(Env().resolve)


def test_each_load_is_its_own_copy(image_bytes, tmp_path):
    path = tmp_path / "twice.so"
    path.write_bytes(image_bytes)
    env = Env()
    a = linker.load(path, env.resolve)
    b = linker.load(path, env.resolve)
    assert a is not b and a.base != b.base        # what was checked each time, never an older load
    assert call(a, "square", 7) == call(b, "square", 7) == 49


def test_gnu_hash_function_matches_reference():
    import random
    from linker.dynamic import gnu_hashes

    def ref(name: bytes) -> int:
        h = 5381
        for c in name:
            h = (h * 33 + c) & 0xFFFFFFFF
        return h
    rnd = random.Random(3)
    names = [bytes(rnd.randrange(1, 256) for _ in range(rnd.randrange(0, 400))) for _ in range(500)] + [b""]
    assert gnu_hashes(names).tolist() == [ref(n) for n in names]


def test_package_api_and_lazy_writer():
    r = run_python("""
        import sys, linker
        assert "linker.driver" not in sys.modules       # loading-only processes skip the writer
        from linker import ImageFile, LinkError, LoadedImage, load
        a = linker.link([]); b = linker.link([])        # callable every time, not just the first
        from linker import link
        assert a == b == link([]) and callable(linker.link)
        print("ok")
    """)
    assert r.stdout.strip() == "ok"
