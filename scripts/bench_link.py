#!/usr/bin/env python
"""Benchmark linker/ against `ld -shared` on a generated ~5 MB object.

The object is built with llvmlite from IR text made here: thousands of
functions with Numba-like mangled names calling each other and external
functions, loading constant tables, module globals (relaxable GOT loads),
external data (GOT loads of imports) and a function-pointer table.
Prints link time, output size, ImageFile.open and load (dlopen + import
fill) time, and the same for ld, with ratios.

Usage: python scripts/bench_link.py [--functions N] [--repeat R]
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchutil import ROOT, python_probe, table, workspace  # noqa: E402

sys.path.insert(0, ROOT)
import llvmlite.binding as llvm  # noqa: E402

import linker  # noqa: E402


def fname(i: int) -> str:
    return f"_ZN8__main__4kernel{i}B2v1B38c8tJTIcFHzwl2ILiXkcBV0KBSmNGHkyiCKJEEx{i}"


def make_ir(n_funcs: int, n_ext: int = 200, n_data: int = 20, seed: int = 1) -> str:
    rnd = random.Random(seed)
    out = [f"declare double @numba_ext_{k}(double)" for k in range(n_ext)]
    out += [f"@ext_data_{k} = external global i64" for k in range(n_data)]
    out += [f"@state_{k} = global i64 {k}" for k in range(n_data)]
    for i in range(n_funcs):
        consts = ", ".join(f"double {rnd.random():.6f}" for _ in range(16))
        out.append(f"@tab_{i} = private unnamed_addr constant [16 x double] [{consts}]")
    for i in range(n_funcs):
        body = [f"define double @{fname(i)}(double %x, i64 %n) {{", "entry:",
                "  %k = and i64 %n, 15",
                f"  %tp = getelementptr [16 x double], ptr @tab_{i}, i64 0, i64 %k",
                "  %t = load double, ptr %tp", "  %v0 = fadd double %x, %t"]
        v = 0
        for c in range(8):
            j = rnd.randrange(n_funcs)
            body.append(f"  %c{c} = call double @{fname(j)}(double %v{v}, i64 %n)")
            body.append(f"  %v{v + 1} = fmul double %c{c}, %v{v}")
            v += 1
        for c in range(3):
            e = rnd.randrange(n_ext)
            body.append(f"  %e{c} = call double @numba_ext_{e}(double %v{v})")
            body.append(f"  %v{v + 1} = fadd double %e{c}, %v{v}")
            v += 1
        for c in range(2):
            d = rnd.randrange(n_data)
            body.append(f"  %d{c} = load i64, ptr @ext_data_{d}")
            body.append(f"  %s{c} = load i64, ptr @state_{d}")
            body.append(f"  %ds{c} = add i64 %d{c}, %s{c}")
            body.append(f"  %df{c} = sitofp i64 %ds{c} to double")
            body.append(f"  %v{v + 1} = fadd double %df{c}, %v{v}")
            v += 1
        body.append(f"  store i64 %n, ptr @state_{rnd.randrange(n_data)}")
        body += [f"  ret double %v{v}", "}"]
        out += body
    table = ", ".join(f"ptr @{fname(i)}" for i in range(0, n_funcs, 7))
    table += ", " + ", ".join(f"ptr @numba_ext_{k}" for k in range(0, n_ext, 5))
    out.append(f"@fntable = constant [{table.count('ptr')} x ptr] [{table}]")
    return "\n".join(out)


def emit(ir: str) -> bytes:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    mod = llvm.parse_assembly(ir)
    tm = llvm.Target.from_default_triple().create_target_machine(reloc="pic", codemodel="default", opt=0)
    return tm.emit_object(mod)


LOAD_SNIPPET = textwrap.dedent("""
    import json, sys, time, ctypes
    sys.path.insert(0, {root!r})
    t0 = time.perf_counter()
    import linker
    buf = ctypes.create_string_buffer(64)
    addr = ctypes.addressof(buf)
    t1 = time.perf_counter()
    f = linker.ImageFile.open({path!r})
    t2 = time.perf_counter()
    img = f.load(lambda name: addr)
    t3 = time.perf_counter()
    print("LOAD " + json.dumps({{"open": t2 - t1, "load": t3 - t2}}))
""")

# dlopen of ld's output (RTLD_NOW, like ours), its undefined symbols served by a preloaded
# library; a failure to load is reported (as null), not fatal: ld is only the reference
LD_LOAD_SNIPPET = textwrap.dedent("""
    import ctypes, json, os, time
    ctypes.CDLL({provider!r}, mode=os.RTLD_NOW | os.RTLD_GLOBAL)
    t = time.perf_counter()
    try:
        ctypes.CDLL({path!r}, mode=os.RTLD_NOW | os.RTLD_LOCAL)
        seconds = time.perf_counter() - t
    except OSError:
        seconds = None
    print("LOAD " + json.dumps({{"load": seconds}}))
""")


def time_load(path: str, repeat: int) -> tuple[float, float]:
    """Best ImageFile.open and load (dlopen + import fill) of ``repeat`` fresh processes."""
    runs = [python_probe(LOAD_SNIPPET.format(root=ROOT, path=path), "LOAD") for _ in range(repeat)]
    return min(r["open"] for r in runs), min(r["load"] for r in runs)


def provider_ir(n_ext: int = 200, n_data: int = 20) -> str:
    """Definitions of everything the benchmark object imports, for loading ld's output."""
    out = [f"define double @numba_ext_{k}(double %x) {{\n  ret double %x\n}}" for k in range(n_ext)]
    out += [f"@ext_data_{k} = global i64 {k}" for k in range(n_data)]
    return "\n".join(out)


def time_ld_load(path: str, provider: str, repeat: int) -> float | None:
    """Best dlopen of ld's output over ``repeat`` fresh processes (None if it does not load)."""
    code = LD_LOAD_SNIPPET.format(provider=provider, path=path)
    loads = [r["load"] for r in (python_probe(code, "LOAD") for _ in range(repeat)) if r["load"] is not None]
    return min(loads) if loads else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--functions", type=int, default=5500)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with workspace("snap-bench-link-") as tmp:
        t = time.perf_counter()
        obj = emit(make_ir(args.functions))
        t_emit = time.perf_counter() - t
        n_rel = _count_relocs(obj)
        print(f"object: {len(obj) / 1e6:.2f} MB, {args.functions} functions, {n_rel} relocations "
              f"(emitted in {t_emit:.1f} s)")
        best = float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            so = linker.link([obj], sections={"snap.manifest": b"{}"})
            best = min(best, time.perf_counter() - t)
        so_path = os.path.join(tmp, "image.so")
        with open(so_path, "wb") as f:
            f.write(so)
        t_open, t_load = time_load(so_path, args.repeat)
        rows = [("link time (s)", best), ("output size (MB)", len(so) / 1e6),
                ("ImageFile.open (ms)", t_open * 1e3), ("load: dlopen+fill (ms)", t_load * 1e3)]
        ld = shutil.which("ld")
        ld_vals: list[float | None] = [None] * 4
        if ld:
            obj_path, ld_out = os.path.join(tmp, "in.o"), os.path.join(tmp, "ld.so")
            with open(obj_path, "wb") as f:
                f.write(obj)
            lbest = float("inf")
            for _ in range(args.repeat):
                t = time.perf_counter()
                subprocess.run([ld, "-shared", "-o", ld_out, obj_path], check=True)
                lbest = min(lbest, time.perf_counter() - t)
            provider = os.path.join(tmp, "provider.so")
            with open(provider, "wb") as f:
                f.write(linker.link([emit(provider_ir())]))
            ld_load = time_ld_load(ld_out, provider, args.repeat)
            ld_vals = [lbest, os.path.getsize(ld_out) / 1e6, None, ld_load and ld_load * 1e3]
        else:
            print("ld not found: skipping the comparison")
        print()
        table(["", "snap linker", "ld -shared", "snap / ld"],
              [(label, f"{mine:.3f}", "-" if theirs is None else f"{theirs:.3f}",
                "-" if not theirs else f"{mine / theirs:.2f}")
               for (label, mine), theirs in zip(rows, ld_vals)])
        print("\n(ld's load: dlopen RTLD_NOW with its undefined symbols served by a preloaded library;\n"
              " ours: dlopen RTLD_NOW + filling the import table in Python + mprotect)")


def _count_relocs(obj: bytes) -> int:
    import numpy as np
    from linker import elf
    eh = np.frombuffer(obj, elf.EHDR, 1)[0]
    sh = np.frombuffer(obj, elf.SHDR, int(eh["shnum"]), int(eh["shoff"]))
    return int(sh["size"][sh["type"] == elf.SHT_RELA].sum() // elf.RELA.itemsize)


if __name__ == "__main__":
    main()
