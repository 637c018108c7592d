"""Build: recorded specializations -> ONE LLVM module -> ONE PIC object -> ONE image.

Stages, one direction: ``plan`` decides what is served and why not (pure data,
plan.py), ``generate`` makes one object per CPU variant from the same recipe
(codegen.py; the variants the training run did not compile come from variants.py),
and ``linker.link`` writes one ELF with every variant's code, the manifest and
the payload embedded. Each
stage is timed (``BuildResult.timings``, shown by ``snap create``).
"""
from __future__ import annotations

import hashlib
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import linker
from linker.objects import allocated_size

from ..errors import BuildError, SnapError
from ..image.fingerprint import file_digest
from ..image.host import process_fingerprint
from ..image.identity import entry_failure_key
from ..image import kinds as K
from ..image.manifest import MANIFEST_SECTION, PAYLOAD_SECTION, Manifest, Skipped, Source
from ..image.payload import pack_payloads
from ..image.variants import Variant, tag
from ..numba_seam import compile_warnings
from ..numba_seam.library import library_module
from ..numba_seam.replay import LibraryKeys, ReplayError
from ..numba_seam.specialization import Specialization
from .codegen import CodeRecipe, generate
from .cpu import CpuTarget
from .plan import StableNames, plan
from .variants import VariantBuilder

Progress = Callable[[str], None]


@dataclass
class BuildResult:
    image: bytes
    manifest: Manifest
    internal: int                      # Numba-internal helpers compiled into callers
    timings: dict[str, float]
    notes: list[str]                   # how the build went, worth saying (snap create prints them)



def failed_skips(failed, planned: list, skipped: list[Skipped]) -> list[Skipped]:
    """``skipped`` with the compilations the training run saw fail (``Recorder.failed``:
    module, qualname, signature, exception class, ``identity.failure_key``) that no entry of that
    code, closure and signature, nor a specialization skipped for another reason, accounts for: a miss of one
    in the image process then says what it is, not that the image lacks it."""
    have = {(p.entry.module, p.entry.qualname, p.entry.signature.split(" -> ")[0], entry_failure_key(p.entry))
            for p in planned}
    other = {(s.module, s.qualname, s.signature.split(" -> ")[0]) for s in skipped}
    out = list(skipped)
    for module, qualname, signature, error, code in dict.fromkeys(failed):
        if (module, qualname, signature, code) not in have and (module, qualname, signature) not in other:
            have.add((module, qualname, signature, code))
            out.append(Skipped(module, qualname, signature, K.failed_reason(error), code))
    out.sort(key=lambda s: (s.module, s.qualname, s.signature, s.reason, s.code))
    return out


def child_skips(children, planned: list, skipped: list[Skipped]) -> list[Skipped]:
    """``skipped`` with what only the workload's child processes compiled (``numba_seam.children``:
    module, qualname, signature, pid) and no entry or skipped specialization of the training
    process accounts for: left to the JIT, with what to do."""
    def args(signature: str) -> str:
        return signature.split(" -> ")[0]
    have = {(p.entry.module, p.entry.qualname, args(p.entry.signature)) for p in planned}
    have |= {(s.module, s.qualname, args(s.signature)) for s in skipped}
    out = list(skipped)
    for module, qualname, signature, _pid in children:
        if (module, qualname, args(signature)) not in have:
            have.add((module, qualname, args(signature)))
            out.append(Skipped(module, qualname, signature, K.child_reason()))
    out.sort(key=lambda s: (s.module, s.qualname, s.signature, s.reason, s.code))
    return out


def build_image(specs: list[Specialization], libraries: list, *, targets: list[CpuTarget],
                trained: CpuTarget, variants: VariantBuilder | None = None,
                build_info: dict | None = None, package: str | None = None,
                progress: Progress = lambda s: None, bases: list[str] = (),
                observed: Any = None, failed: list[tuple[str, str, str, str, str]] = (),
                children: list[tuple[str, str, str, int]] = ()) -> BuildResult:
    """The image of ``specs`` with one code variant per CPU target (lowest first); the
    training run compiled for ``trained``, the other variants are ``variants``' (replayed
    from the recorded IR). With ``bases`` (images that served the training run), an
    incremental image: what the bases served is not in it, and its code imports theirs.
    With ``package``, a library image: only that package's entries (the package recorded
    in the manifest's build info). ``observed``: the training run's observation of its
    compilations (``numba_seam.observe.Observer``: the settings read, the state code run
    while compiling changed itself)."""
    timings: dict[str, float] = {}
    notes: list[str] = []
    t0 = time.perf_counter()
    progress("collecting")
    base_info, external = read_bases(bases)
    build_info = {**(build_info or {}), **({"bases": base_info} if base_info else {}),
                  # `python -O` compiles other code from one source (asserts, __debug__): where it
                  # differs, a source file's digest no longer says its code is unchanged
                  "python_optimize": sys.flags.optimize}
    names = StableNames()
    planned, skipped, internal, files = plan(specs, libraries, names, package,
                                             getattr(observed, "settings", None),
                                             frozenset(getattr(observed, "volatile", ())))
    skipped = failed_skips(failed, planned, skipped)
    n_skipped = len(skipped)
    skipped = child_skips(children, planned, skipped)
    in_children = len(skipped) - n_skipped
    if in_children:
        pids = len({pid for *_, pid in children})
        notes.append(f"{in_children} specialization(s) compiled only in {pids} child process(es) of the "
                     "workload (multiprocessing workers, subprocesses): not stored, what they compile "
                     "ends with them; left to the JIT (call them in the workload's own process too to "
                     "have them served)")
    if not planned:
        where = f" in package {package}" if package else ""
        raise BuildError(f"the workload compiled nothing{where} the image can serve"
                         + (f" ({len(skipped)} specialization(s) left to the JIT)" if skipped else "")
                         + ("" if specs else ": Numba compiled nothing while it ran"
                            + (f" in the workload's own process ({in_children} specialization(s) were "
                               "compiled in its child processes -- multiprocessing workers, "
                               "subprocesses -- whose compilations end with them: call those "
                               "functions in the workload's own process)" if in_children else
                               " (the base images serve everything it called)" if bases else
                               " (does it import your code and call its jitted functions, with the "
                               "types your program uses?)")))
    if package:
        build_info["package"] = package
    # every warning the workload's compilations gave (served or not): the runtime holds them
    # against the program's warning filters (runtime/warning_filters.py)
    build_info["compile_warnings"] = compile_warnings.summary(specs, [p.spec for p in planned])
    sets: list[dict[str, str]] = []        # the distinct settings entries read (usually one)
    entries = [p.entry._replace(payload=i, settings=_intern(sets, p.settings)) for i, p in enumerate(planned)]
    fingerprint = process_fingerprint()
    # The prefix is a pure function of what the image holds: reproducible, yet unique per image.
    ident = hashlib.blake2b(digest_size=6)
    for e in entries:
        ident.update(repr((e.kind, e.module, e.qualname, e.options, e.closure, e.code, e.signature)).encode())
    for t in targets:
        ident.update(repr((t.option, t.name, t.features)).encode())
    prefix = f"_snap{ident.hexdigest()}_"
    prefixes = {t.option: prefix if len(targets) == 1 else f"{prefix}{tag(t.option)}_" for t in targets}
    entries = [e._replace(symbols={role: prefix + names(name) for role, name in e.symbols.items()},
                          envs=[prefix + names(n) for n in e.envs],
                          dynamic={prefix + names(n): t for n, t in e.dynamic.items()})
               for e in entries]
    sources = [Source(m, files[m], file_digest(files[m])) for m in sorted(files)]
    timings["collect"] = time.perf_counter() - t0

    progress("code generation")
    t = time.perf_counter()
    keys = variants.keys if variants is not None else LibraryKeys()
    recipe = CodeRecipe.of(planned, libraries, keys, names, external)
    others = [x for x in targets if x != trained]
    if others:
        if variants is None:
            raise BuildError("variants for other CPUs need the training run's IR records")
        variants.start(recipe, prefixes)
    objects: dict[str, bytes] = {}
    if trained in targets:
        objects[trained.option] = generate(recipe, lambda k: library_module(keys.libraries[k]), trained,
                                           prefixes[trained.option])
    if others:
        try:
            objects.update(variants.objects(recipe, prefixes, libraries))
        except ReplayError as e:
            raise BuildError(f"cannot generate a CPU variant: {e}") from None
        if variants.note:
            notes.append(f"CPU variants generated after the workload, in the build process ({variants.note})")
    timings["codegen"] = time.perf_counter() - t

    progress("linking")
    t = time.perf_counter()
    lowest = targets[0]
    cpu_info = {"target": lowest.option, "name": lowest.name, "features": sorted(lowest.required)}
    variant_docs = [] if len(targets) == 1 else [
        Variant(x.option, x.name, sorted(x.required), prefixes[x.option], allocated_size(objects[x.option]))._asdict()
        for x in targets]
    manifest = Manifest(fingerprint=fingerprint, cpu=cpu_info, prefix=prefix, entries=entries,
                        skipped=skipped, sources=sources, build=dict(build_info or {}), variants=variant_docs,
                        settings=sets)
    payload = pack_payloads([p.blob for p in planned])
    image = linker.link([objects[x.option] for x in targets],
                        sections={MANIFEST_SECTION: manifest.to_bytes(), PAYLOAD_SECTION: payload})
    timings["link"] = time.perf_counter() - t
    return BuildResult(image=image, manifest=manifest, internal=internal, timings=timings, notes=notes)


def _intern(sets: list[dict[str, str]], settings: dict[str, str]) -> int:
    """The index of ``settings`` in ``sets`` (added if new; -1 for none)."""
    if not settings:
        return -1
    if settings not in sets:
        sets.append(settings)
    return sets.index(settings)


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
