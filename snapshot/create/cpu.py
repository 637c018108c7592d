"""CPU targets for images: what code is generated for, and what a machine needs to run it.

``host`` is the build machine (fastest code; runs only where every feature of
the build CPU is present). The x86-64 micro-architecture levels of the psABI
give portable images; the loader refuses an image whose required features the
machine lacks, so an image never dies of an illegal instruction. Several targets
(``--cpu x86-64-v2,x86-64-v3,x86-64-v4``, or the preset ``portable``) make one
image with one code variant per target (``image/variants.py``).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import SnapError
from ..image.host import LEVELS
from ..image.variants import PRESETS, parse_targets, rank

CHOICES = ("host", *LEVELS, *PRESETS)


@dataclass(frozen=True)
class CpuTarget:
    option: str                  # what the user asked for
    name: str                    # LLVM CPU name
    features: str                # LLVM feature string ("" = the CPU's defaults)
    required: frozenset[str]     # features a machine must have to run the code


def resolve(option: str) -> CpuTarget:
    """One target (``host`` or an x86-64 level)."""
    from ..image.host import host_cpu
    if option == "host":
        from numba.core.codegen import get_host_cpu_features
        name, feats = host_cpu()
        return CpuTarget("host", name, get_host_cpu_features(), feats)
    if option in LEVELS:
        name, feats = LEVELS[option]
        return CpuTarget(option, name, "", frozenset(feats))
    raise SnapError(f"unknown --cpu {option!r}; choose one of: {', '.join(CHOICES)}")


def resolve_all(option: str) -> list[CpuTarget]:
    """Every target ``--cpu`` names (a comma-separated list, presets expanded), lowest first."""
    try:
        return [resolve(t) for t in parse_targets(option)]
    except ValueError as e:
        raise SnapError(str(e)) from None


def training_target(targets: list[CpuTarget], host_features: frozenset[str]) -> CpuTarget:
    """What the training run compiles for: the best target this machine can run (its code
    is executed by the workload, and that variant is the one recorded, not generated again);
    the host when it can run none of them (every variant is then generated)."""
    runnable = [t for t in targets if t.required <= host_features]
    return max(runnable, key=lambda t: rank(t.option)) if runnable else resolve("host")


def configure_numba(target: CpuTarget) -> None:
    """Make Numba's JIT optimize and generate code for ``target`` (trace process only).

    Setting it before anything compiles means the optimizer's cost models and the
    backend both see the target CPU, not the build machine's. ``host`` is set too (to what
    Numba uses by default), so that ``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES`` in the
    build's environment cannot make the code differ from the CPU the image records.
    """
    from ..numba_seam import set_cpu_target
    set_cpu_target(target.name, target.features)
