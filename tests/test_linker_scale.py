"""Many functions over several objects: every result must match LLVM's own JIT on the same IR."""
from __future__ import annotations

import ctypes
import random

import llvmlite.binding as llvm
import pytest

import linker
from linker_util import emit, link_and_check

N_FUNCS, N_OBJS = 240, 3


def fn(i: int) -> str:
    return f"_ZN5scale{i}B2v1E{'x' * (i % 23)}"


def module_ir(part: int, seed: int = 7) -> str:
    """Functions i with i % N_OBJS == part; f_i calls only f_j with j < i (finite recursion)."""
    rnd = random.Random(seed * 1000 + part)
    out = ["declare i64 @labs(i64)", "@ext_val = external global i64"]
    out += [f"declare i64 @{fn(i)}(i64, i64)" for i in range(N_FUNCS) if i % N_OBJS != part]
    if part == 0:
        out += [f"@g{k} = global i64 {k * 3 + 1}" for k in range(8)]
        table = ", ".join(f"ptr @{fn(i)}" for i in range(N_FUNCS))
        out.append(f"@fns = constant [{N_FUNCS} x ptr] [{table}]")
        out.append(f"""define i64 @dispatch(i64 %i, i64 %x) {{
  %p = getelementptr [{N_FUNCS} x ptr], ptr @fns, i64 0, i64 %i
  %f = load ptr, ptr %p
  %r = call i64 %f(i64 %x, i64 2)
  ret i64 %r
}}""")
    else:
        out += [f"@g{k} = external global i64" for k in range(8)]
    for i in range(N_FUNCS):
        if i % N_OBJS != part:
            continue
        consts = ", ".join(str(rnd.randrange(-50, 50)) for _ in range(8))
        out.append(f"@tab{i} = private unnamed_addr constant [8 x i64] [{', '.join('i64 ' + c for c in consts.split(', '))}]")
        j1, j2 = (rnd.randrange(i), rnd.randrange(i)) if i else (0, 0)
        rec = (f"""  %m = sub i64 %n, 1
  %c1 = call i64 @{fn(j1)}(i64 %x, i64 %m)
  %x2 = add i64 %c1, {i}
  %c2 = call i64 @{fn(j2)}(i64 %x2, i64 %m)
  %r = xor i64 %c1, %c2
  ret i64 %r""" if i else "  ret i64 %x")
        out.append(f"""define i64 @{fn(i)}(i64 %x, i64 %n) {{
entry:
  %c = icmp sle i64 %n, 0
  br i1 %c, label %leaf, label %rec
leaf:
  %k = and i64 %x, 7
  %p = getelementptr [8 x i64], ptr @tab{i}, i64 0, i64 %k
  %t = load i64, ptr %p
  %g = load i64, ptr @g{i % 8}
  %e = load i64, ptr @ext_val
  %s1 = add i64 %t, %g
  %s2 = sub i64 %s1, %e
  %s3 = mul i64 %s2, {i + 1}
  %a = call i64 @labs(i64 %s3)
  switch i64 %k, label %d [ i64 0, label %l0  i64 1, label %l1  i64 2, label %l2  i64 3, label %l3  i64 4, label %l4 ]
l0:
  ret i64 %a
l1:
  %a1 = add i64 %a, 11
  ret i64 %a1
l2:
  %a2 = mul i64 %a, 3
  ret i64 %a2
l3:
  %a3 = sub i64 %a, 7
  ret i64 %a3
l4:
  %a4 = xor i64 %a, 255
  ret i64 %a4
d:
  ret i64 %s3
rec:
{rec}
}}""")
    return "\n".join(out)


@pytest.fixture(scope="module")
def ext_val():
    v = ctypes.c_int64(42)
    llvm.add_symbol("ext_val", ctypes.addressof(v))
    return v


def jit_results(irs: list[str], inputs: list[tuple[int, int]]) -> list[int]:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    mod = llvm.parse_assembly(irs[0])
    for ir in irs[1:]:
        mod.link_in(llvm.parse_assembly(ir))
    tm = llvm.Target.from_default_triple().create_target_machine()
    ee = llvm.create_mcjit_compiler(mod, tm)
    ee.finalize_object()
    f = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_int64)(ee.get_function_address("dispatch"))
    res = [f(i, x) for i, x in inputs]
    del ee
    return res


def test_many_functions_match_llvm_jit(tmp_path, ext_val):
    irs = [module_ir(p) for p in range(N_OBJS)]
    inputs = [(i, x) for i in range(N_FUNCS) for x in (-3, 0, 5, 1234567)]
    expected = jit_results(irs, inputs)
    path = link_and_check([emit(ir) for ir in irs], tmp_path / "scale.so")
    img = linker.load(path, {"ext_val": ctypes.addressof(ext_val)}.get)
    assert sorted(img.imports) == ["ext_val", "labs"]          # labs: dlsym(RTLD_DEFAULT) fallback
    f = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_int64)(img.address("dispatch"))
    assert [f(i, x) for i, x in inputs] == expected
    g = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_int64)(img.address(fn(N_FUNCS - 1)))
    assert g(9, 2) == f(N_FUNCS - 1, 9)
