"""CPU targets for images: what code is generated for, and what a machine needs to run it.

``host`` is the build machine (fastest code; runs only where every feature of
the build CPU is present). The x86-64 micro-architecture levels of the psABI
give portable images; the loader refuses an image whose required features the
machine lacks, so an image never dies of an illegal instruction.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import SnapError
from ..image.host import LEVELS

CHOICES = ("host", *LEVELS)


@dataclass(frozen=True)
class CpuTarget:
    option: str                  # what the user asked for
    name: str                    # LLVM CPU name
    features: str                # LLVM feature string ("" = the CPU's defaults)
    required: frozenset[str]     # features a machine must have to run the code


def resolve(option: str) -> CpuTarget:
    from ..image.host import host_cpu
    if option == "host":
        from numba.core.codegen import get_host_cpu_features
        name, feats = host_cpu()
        return CpuTarget("host", name, get_host_cpu_features(), feats)
    if option in LEVELS:
        name, feats = LEVELS[option]
        return CpuTarget(option, name, "", frozenset(feats))
    raise SnapError(f"unknown --cpu {option!r}; choose one of: {', '.join(CHOICES)}")


def configure_numba(target: CpuTarget) -> None:
    """Make Numba's JIT optimize and generate code for ``target`` (trace process only).

    Setting it before anything compiles means the optimizer's cost models and the
    backend both see the target CPU, not the build machine's.
    """
    if target.option == "host":
        return
    from ..numba_seam import set_cpu_target
    set_cpu_target(target.name, target.features)
