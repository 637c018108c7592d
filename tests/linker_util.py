"""Helpers for the linker tests: emit objects from IR with llvmlite, check and run images."""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import llvmlite.binding as llvm

import linker

ROOT = Path(__file__).resolve().parent.parent
_initialised = False


def _init() -> None:
    global _initialised
    if not _initialised:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        _initialised = True


def emit(ir: str, *, reloc: str = "pic", codemodel: str = "default", triple: str | None = None) -> bytes:
    """Compile LLVM IR text to an ELF relocatable object."""
    _init()
    mod = llvm.parse_assembly(ir)
    mod.verify()
    target = llvm.Target.from_triple(triple) if triple else llvm.Target.from_default_triple()
    tm = target.create_target_machine(reloc=reloc, codemodel=codemodel)
    return tm.emit_object(mod)


def check_image(so: bytes, path: Path) -> Path:
    """Write ``so`` to ``path`` and check it with LIEF and readelf (independent readers)."""
    import lief
    path.write_bytes(so)
    binary = lief.ELF.parse(str(path))
    assert binary is not None, "LIEF could not parse the image"
    ok, msg = lief.ELF.check_layout(binary)
    assert ok, f"LIEF check_layout: {msg}"
    S = lief.ELF.Segment.TYPE
    seg = {s.type: s for s in binary.segments}
    assert {S.LOAD, S.DYNAMIC, S.GNU_RELRO, S.GNU_EH_FRAME, S.GNU_STACK} <= set(seg)
    assert not seg[S.GNU_STACK].has(lief.ELF.Segment.FLAGS.X), "executable stack"
    assert not any(s.has(lief.ELF.Segment.FLAGS.X) and s.has(lief.ELF.Segment.FLAGS.W) for s in binary.segments)
    assert binary.has_section(".eh_frame_hdr") and binary.has_section(".symtab")
    assert {str(e.tag).split(".")[-1] for e in binary.dynamic_entries} >= {"GNU_HASH", "SYMTAB", "STRTAB"}
    assert not [e for e in binary.dynamic_entries if str(e.tag).split(".")[-1] in ("INIT", "INIT_ARRAY", "NEEDED")]
    if shutil.which("readelf"):
        r = subprocess.run(["readelf", "-W", "-a", str(path)], capture_output=True, text=True)
        bad = [ln for ln in (r.stdout + r.stderr).splitlines()
               if ln.startswith("readelf:") or "<corrupt>" in ln]
        assert r.returncode == 0 and not bad, "readelf complains:\n" + "\n".join(bad)
    return path


def link_and_check(objects: list[bytes], path: Path, **kw) -> Path:
    return check_image(linker.link(objects, **kw), path)


def addr(cfn) -> int:
    return ctypes.cast(cfn, ctypes.c_void_p).value


def run_python(code: str, *, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter with the project importable."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               PYTHONFAULTHANDLER="")
    env.pop("PYTHONFAULTHANDLER")
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                       env=env, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"subprocess failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r
