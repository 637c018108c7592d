"""Numba code libraries as the build reads them: their LLVM module, what they link,
which environments their code refers to."""
from __future__ import annotations

import re
from typing import Any

from . import ENV_PREFIX
from .replay import JIT_IR


def library_module(library) -> Any:
    """The LLVM module holding a library's code (handles cache-loaded libraries).

    Libraries loaded from Numba's disk cache have an empty ``_final_module``;
    their IR is in ``_shared_module`` with every definition ``linkonce_odr``.
    """
    jit_ir = getattr(library, JIT_IR, None)      # recorded before the JIT's backend ran
    if jit_ir is not None:
        return jit_ir
    mod = library._final_module
    if library._shared_module is not None and not any(not f.is_declaration for f in mod.functions):
        mod = library._shared_module
    return mod


def linked_libraries(library) -> list:
    """Every library whose code was linked into ``library`` (transitively).

    This is the callee graph as Numba saw it before inlining, so a callee that
    was inlined away still counts as a dependency of its callers.
    """
    seen: dict[int, Any] = {}
    stack = list(getattr(library, "_linking_libraries", ()))
    while stack:
        lib = stack.pop()
        if id(lib) not in seen:
            seen[id(lib)] = lib
            stack.extend(getattr(lib, "_linking_libraries", ()))
    return list(seen.values())


def referenced_envs(module) -> list[str]:
    return sorted(g.name for g in module.global_variables if g.name.startswith(ENV_PREFIX))


_DYNAMIC_INIT = re.compile(r'^(@"?numba\.dynamic\.globals\.[0-9a-f]+(?:\.[0-9]+)*"? = .*?global ptr )'
                           r'inttoptr \(i64 -?\d+ to ptr\)',
                           re.MULTILINE)


def clear_dynamic_addresses(module):
    """``module`` with the training process's addresses in box slots replaced by null.

    They are filled at install time; left in, they would make images differ between builds.
    """
    if not any(g.name.startswith("numba.dynamic.globals.") for g in module.global_variables):
        return module
    import llvmlite.binding as ll
    text, n = _DYNAMIC_INIT.subn(r"\1null", str(module))
    return ll.parse_assembly(text) if n else module


def base_entry(library) -> tuple[str, str, str] | None:
    """(module, qualname, code) of an active image's entry that ``library`` stands for, or
    None (a JIT library): the code a JIT caller links from a base image."""
    from .standins import ImageLibrary
    return library.entry if isinstance(library, ImageLibrary) else None
