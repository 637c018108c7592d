"""Build: recorded specializations -> ONE LLVM module -> ONE PIC object -> ONE image.

Stages, one direction: ``plan`` decides what is served and why not (pure data,
plan.py), ``merge_modules`` links the code libraries into one module and
``finish_module`` prefixes it (codegen.py), the backend emits one object, and
``linker.link`` writes the ELF with the manifest and payload embedded. Each
stage is timed (``BuildResult.timings``, shown by ``snap create``).
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from typing import Callable

import linker

from ..errors import BuildError, SnapError
from ..image.fingerprint import file_digest
from ..image.host import process_fingerprint
from ..image.manifest import MANIFEST_SECTION, PAYLOAD_SECTION, Manifest, Source
from ..image.payload import pack_payloads
from ..numba_seam.specialization import Specialization
from .codegen import finish_module, make_target_machine, merge_modules
from .cpu import CpuTarget
from .plan import StableNames, plan

Progress = Callable[[str], None]


@dataclass
class BuildResult:
    image: bytes
    manifest: Manifest
    internal: int                      # Numba-internal helpers compiled into callers
    timings: dict[str, float]



def build_image(specs: list[Specialization], libraries: list, *, cpu: CpuTarget,
                build_info: dict | None = None, package: str | None = None,
                progress: Progress = lambda s: None, bases: list[str] = ()) -> BuildResult:
    """The image of ``specs``; with ``bases`` (images that served the training run), an
    incremental image: what the bases served is not in it, and its code imports theirs.
    With ``package``, a library image: only that package's entries (the package recorded
    in the manifest's build info)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    progress("collecting")
    base_info, external = read_bases(bases)
    build_info = {**(build_info or {}), **({"bases": base_info} if base_info else {})}
    names = StableNames()
    planned, skipped, internal, files = plan(specs, libraries, names, package)
    if not planned:
        where = f" in package {package}" if package else ""
        raise BuildError(f"the workload compiled nothing{where} the image can serve"
                         + (f" ({len(skipped)} specialization(s) left to the JIT)" if skipped else ""))
    if package:
        build_info["package"] = package
    entries = [p.entry._replace(payload=i) for i, p in enumerate(planned)]
    fingerprint = process_fingerprint()
    cpu_info = {"target": cpu.option, "name": cpu.name, "features": sorted(cpu.required)}
    # The prefix is a pure function of what the image holds: reproducible, yet unique per image.
    ident = hashlib.blake2b(digest_size=6)
    for e in entries:
        ident.update(repr((e.kind, e.module, e.qualname, e.options, e.closure, e.code, e.signature)).encode())
    prefix = f"_snap{ident.hexdigest()}_"
    entries = [e._replace(symbols={role: prefix + names(name) for role, name in e.symbols.items()},
                          envs=[prefix + names(n) for n in e.envs],
                          dynamic={prefix + names(n): t for n, t in e.dynamic.items()})
               for e in entries]
    sources = [Source(m, files[m], file_digest(files[m])) for m in sorted(files)]
    manifest = Manifest(fingerprint=fingerprint, cpu=cpu_info, prefix=prefix, entries=entries,
                        skipped=skipped, sources=sources, build=dict(build_info or {}))
    timings["collect"] = time.perf_counter() - t0

    progress("code generation")
    t = time.perf_counter()
    big = merge_modules(planned, libraries)
    exported = {n for p in planned for n in list(p.raw_symbols.values()) + p.raw_envs}
    exported.update(t.slot_name() for p in planned for t in p.spec.extra.get("dynamic", {}).values())
    finish_module(big, prefix, exported, names, external)
    big.verify()
    obj = make_target_machine(cpu).emit_object(big)
    timings["codegen"] = time.perf_counter() - t

    progress("linking")
    t = time.perf_counter()
    payload = pack_payloads([p.blob for p in planned])
    image = linker.link([obj], sections={MANIFEST_SECTION: manifest.to_bytes(),
                                         PAYLOAD_SECTION: payload})
    timings["link"] = time.perf_counter() - t
    return BuildResult(image=image, manifest=manifest, internal=internal, timings=timings)


def read_bases(paths: list[str]) -> tuple[list[dict], dict[str, str]]:
    """What an incremental image records of each base (file name, prefix, SHA-256: the
    runtime requires exactly that image active) and every base symbol by its original name
    (recursion placeholders into base code become imports of these)."""
    info: list[dict] = []
    external: dict[str, str] = {}
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        try:
            m = Manifest.from_bytes(linker.ImageFile(path, -1, data, True).section(MANIFEST_SECTION))
        except (linker.LinkError, KeyError, SnapError) as e:
            raise BuildError(f"--base {path}: not a usable snap image ({e})") from None
        info.append({"file": os.path.basename(path), "prefix": m.prefix,
                     "sha256": hashlib.sha256(data).hexdigest(), "entries": len(m.entries),
                     **({"package": m.build["package"]} if m.build.get("package") else {})})
        for e in m.entries:
            for sym in e.symbols.values():
                external.setdefault(sym[len(m.prefix):], sym)
    return info, external
