"""The CPU the JIT of this process compiles for, as Numba chooses it (numba/core/codegen.py).

Numba makes ONE target machine per codegen, in ``CPUCodegen._init``: its CPU name is
``config.CPU_NAME`` or, when that is None, LLVM's name of the host CPU
(``_get_host_cpu_name``), and its feature string is ``config.CPU_FEATURES`` or, when
that is None, the host's features as Numba spells them (``get_host_cpu_features``:
LLVM's feature map with every ``avx*`` feature off unless ``config.ENABLE_AVX``,
flattened as ``+name``/``-name``, sorted). The JIT's codegen is made with the CPU
target context (``CPUContext.init``), i.e. at the process's first dispatcher
(decorating the first ``@njit`` function) or first compilation, whichever comes first:
from then on what ``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES`` (``numba.config.CPU_NAME``
/ ``CPU_FEATURES``) say no longer changes the code it generates.

``watch_codegen`` (at activation) notes on each new JIT codegen the name and features
its target machine was made with; ``jit_target`` says what the JIT compiles (or, before
its codegen exists, will compile) for when those settings choose it, and None when
they are unset (Numba's default: this host).
"""
from __future__ import annotations

from typing import Iterable

from ..image.variants import JitTarget

_NOTED = "_snap_cpu"        # on a JITCPUCodegen: (cpu name, features, CPU_NAME, CPU_FEATURES)


def watch_codegen() -> None:
    """Note, on every JIT codegen made from now on, what its target machine was made with."""
    from numba.core import codegen, config
    cls = codegen.JITCPUCodegen
    if cls.__dict__.get("_snap_watched"):
        return
    orig = cls._customize_tm_options

    def _customize_tm_options(self, options):
        orig(self, options)
        setattr(self, _NOTED, (options.get("cpu"), options.get("features"), config.CPU_NAME, config.CPU_FEATURES))

    _customize_tm_options.__wrapped__ = orig
    cls._customize_tm_options = _customize_tm_options
    cls._snap_watched = True


def _jit_codegen(create: bool):
    """The CPU target's codegen (made now if ``create``: as the JIT's first compilation
    would), or None when it does not exist yet."""
    from numba.core.registry import cpu_target
    if not create and "_toplevel_target_context" not in cpu_target.__dict__:
        return None
    return cpu_target.target_context.codegen()


def jit_target(create: bool = False) -> JitTarget | None:
    """What the JIT of this process compiles for when ``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES``
    chose it (None: they did not; Numba compiles for this host).

    Once the JIT's codegen exists, what its target machine was made with (``create``: make
    it now, as the first compilation would); before, what the settings say now."""
    from numba.core import config
    cg = _jit_codegen(create)
    if cg is not None:
        noted = getattr(cg, _NOTED, None)
        if noted is not None:
            name, features, set_name, set_features = noted
        else:             # made before snap watched (a late activation): its features are known
            set_name, set_features = config.CPU_NAME, config.CPU_FEATURES
            name, features = set_name, cg._tm_features
            if set_name is None and set_features is None:
                return None
            if name is None:
                name = _host_name()
    else:
        set_name, set_features = config.CPU_NAME, config.CPU_FEATURES
        if set_name is None and set_features is None:
            return None
        name = set_name if set_name is not None else _host_name()
        features = set_features if set_features is not None else _host_features()
    if set_name is None and set_features is None:
        return None
    return JitTarget(str(name), str(features), set_name, set_features, numba_host_features)


def _host_name() -> str:
    import llvmlite.binding as ll
    return ll.get_host_cpu_name()


def _host_features() -> str:
    from numba.core.codegen import get_host_cpu_features
    return get_host_cpu_features()


def numba_host_features(enabled: Iterable[str]) -> str | None:
    """The feature string Numba gives its target machine by default on a machine with
    these LLVM host features enabled (a ``--cpu host`` image's: its recorded features), as
    it would spell it here (LLVM's host feature names, ``config.ENABLE_AVX``); None if
    LLVM here does not know them all."""
    import llvmlite.binding as ll
    from numba.core import config
    try:
        keys = ll.get_host_cpu_features()
    except RuntimeError:
        return None
    enabled = set(enabled)
    if not enabled <= set(keys):
        return None
    on = {k: k in enabled and (config.ENABLE_AVX or not k.startswith("avx")) for k in keys}
    return ",".join(("+" if on[k] else "-") + k for k in sorted(on))
