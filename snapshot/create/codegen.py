"""Code generation: the planned entries' LLVM modules -> ONE module -> ONE PIC object.

``merge_modules`` links the code libraries into one module, each symbol defined
by the copy the JIT process runs (``jit_definitions``); ``finish_module``
resolves recursion placeholders and gives every definition the image-unique
prefix; ``make_target_machine`` is the backend for the image's CPU target.
"""
from __future__ import annotations

from typing import Any

import llvmlite.binding as ll

from ..errors import BuildError
from ..numba_seam import UNRESOLVED_PREFIX, addresses
from ..numba_seam.library import clear_dynamic_addresses, library_module
from .cpu import CpuTarget
from .plan import Planned, StableNames, _defined


def _defined_in(module, name: str) -> bool:
    for getter in (module.get_function, module.get_global_variable):
        try:
            return not getter(name).is_declaration
        except NameError:
            continue
    return False


def _module_order(libraries: list) -> dict[int, tuple[int, Any]]:
    """id(module) -> (finalization index, module) for every recorded code library."""
    order: dict[int, tuple[int, Any]] = {}
    for i, lib in enumerate(libraries):
        try:
            mod = library_module(lib)
        except Exception:  # noqa: BLE001 - a library without usable IR donates nothing
            continue
        order.setdefault(id(mod), (i, mod))
    return order


def _non_local_definitions(module) -> list:
    return [gv for gv in list(module.functions) + list(module.global_variables)
            if not gv.is_declaration and gv.linkage not in _LOCAL_OR_COMMON]


_LOCAL_OR_COMMON = (ll.Linkage.internal, ll.Linkage.private, ll.Linkage.common,
                    ll.Linkage.available_externally)


def jit_definitions(libraries: list, names: set[str], exclude: set[int]) -> dict[str, Any]:
    """Symbol -> the module whose copy of it the JIT process runs.

    A library's module carries ``linkonce_odr`` copies of everything it links,
    optimized again inside it (after inlining into it, and with the IR the JIT's
    backend already rewrote): copies of one symbol differ from module to module,
    and with fast-math they compute different bits. MCJIT keeps the first
    definition it loaded of a weak symbol and resolves every later reference to
    it, i.e. the copy of the first library finalized that defines it (usually
    the function's own library: callees are finalized before their callers).
    Modules in ``exclude`` (code with process addresses no entry names) donate nothing.
    """
    chosen: dict[str, Any] = {}
    for i, lib in enumerate(libraries):
        try:
            mod = library_module(lib)
        except Exception:  # noqa: BLE001
            continue
        if id(mod) in exclude:
            continue
        for gv in _non_local_definitions(mod):
            if gv.name in names and gv.name not in chosen:
                chosen[gv.name] = mod
    return chosen


def _link_in(big, mod, chosen: dict[str, Any], entry_names: set[str], slots: dict[str, str]) -> None:
    """Link a clone of ``mod``: its chosen definitions win, other copies only fill gaps."""
    clone = mod.clone()
    if addresses.dynamic_globals(clone):
        # named process addresses -> late-bound slots; jitclass box slots
        # keep their names and are nulled (both are filled at install)
        clone = clear_dynamic_addresses(addresses.rewrite_module(clone, slots))
    for gv in _non_local_definitions(clone):
        owner = chosen.get(gv.name)
        if (owner is not None and owner is not mod and gv.linkage == ll.Linkage.external
                and gv.name not in entry_names and _defined_differently(big, gv)):
            # A strong definition that another library defines with other content (Numba's
            # __excinfo_unwrap_args<hash of arg types> reads its own function's environment):
            # the JIT keeps one per object; here it stays local to its module.
            gv.linkage = "internal"
            continue
        if owner is mod:
            # weak_odr: linked even before anything references it, and it stays
            # the definition when later modules bring their linkonce_odr copies
            gv.linkage = "external" if gv.name in entry_names else "weak_odr"
        elif owner is not None or _defined_in(big, gv.name):
            gv.linkage = "linkonce_odr"
        elif gv.name in entry_names:
            gv.linkage = "external"
            chosen[gv.name] = mod
    big.link_in(clone)


def _defined_differently(big, gv) -> bool:
    """``gv`` (a definition about to be linked) has a same-named definition in ``big`` whose
    text differs."""
    for getter in (big.get_function, big.get_global_variable):
        try:
            existing = getter(gv.name)
        except NameError:
            continue
        return not existing.is_declaration and str(existing) != str(gv)
    return False


def merge_modules(planned: list[Planned], libraries: list = ()):
    """Link the planned modules into one, each symbol defined by the copy the JIT runs.

    The modules to link are the planned entries' and those holding the JIT's copy
    of a symbol they define (see ``jit_definitions``), in the order the JIT
    finalized them. Entry points are made ``external`` (cache-loaded libraries
    mark everything ``linkonce_odr``, and the IR linker drops unreferenced
    linkonce definitions). A symbol pulled in only as a callee of a chosen copy
    gets its own JIT copy in a second round.
    """
    entry_names: set[str] = set()
    for p in planned:
        entry_names.update(p.raw_symbols.values())
    slots = {g: t.slot_name() for p in planned for g, t in p.spec.extra.get("dynamic", {}).items()}
    order = _module_order(libraries)
    planned_mods: dict[int, Any] = {}
    for p in planned:
        for mod in p.modules:
            planned_mods.setdefault(id(mod), mod)
    # donors with process addresses that no planned entry names cannot be relocated
    exclude = {key for key, (_, mod) in order.items()
               if key not in planned_mods and addresses.dynamic_globals(mod)}
    needed = {gv.name for mod in planned_mods.values() for gv in _non_local_definitions(mod)}
    while True:
        chosen = jit_definitions(libraries, needed, exclude)
        mods = {id(m): m for m in chosen.values()}
        mods.update(planned_mods)
        late = len(order)           # planned modules the recorder never saw go last, in plan order
        sequence = sorted(mods.values(), key=lambda m: order.get(id(m), (late,))[0])
        big = ll.parse_assembly("")
        big.triple = sequence[0].triple
        big.data_layout = sequence[0].data_layout
        owners = dict(chosen)       # + entry points no recorded library defines
        for mod in sequence:
            _link_in(big, mod, owners, entry_names, slots)
        pulled = {gv.name for gv in _non_local_definitions(big)} - needed
        if not pulled:
            return big
        needed |= pulled


def _resolve_recursion_placeholders(big, external: dict[str, str]) -> None:
    """Numba's `.numba.unresolved$X` pointer globals become `@X` (they are filled at run time
    in the JIT); an X that a base image serves (``external``) becomes an import of its symbol."""
    defined = _defined(big)
    lines = []
    for gv in big.global_variables:
        if gv.name.startswith(UNRESOLVED_PREFIX) and gv.is_declaration:
            target = gv.name[len(UNRESOLVED_PREFIX):]
            if target not in defined:
                if target not in external:
                    raise BuildError(f"recursive call target {target!r} is not in the image")
                target = external[target]
            lines.append(f'declare void @"{target}"()')
            lines.append(f'@"{gv.name}" = global ptr @"{target}"')
    if lines:
        patch = ll.parse_assembly("\n".join(lines))
        patch.triple = big.triple
        patch.data_layout = big.data_layout
        big.link_in(patch)


def finish_module(big, prefix: str, exported: set[str], names: StableNames,
                  external: dict[str, str] | None = None) -> None:
    """Prefix every global definition, make it strong, and hide what need not be exported.

    The prefix keeps image symbols distinct from same-named code the JIT may
    compile later in the process (Numba's mangled names repeat across processes).
    """
    _resolve_recursion_placeholders(big, external or {})
    for gv in list(big.functions) + list(big.global_variables):
        if gv.is_declaration:
            continue
        if gv.linkage in (ll.Linkage.internal, ll.Linkage.private):
            if gv.name.startswith(".bytes."):
                gv.name = names.local(gv.name)
            continue
        name = gv.name
        gv.linkage = "external"
        gv.name = prefix + names(name)
        gv.visibility = "default" if name in exported else "hidden"


def make_target_machine(cpu: CpuTarget):
    """The backend for image code: PIC, default code model, the CPU the JIT optimized for."""
    from numba.core import config
    ll.initialize_native_target()
    ll.initialize_native_asmprinter()
    target = ll.Target.from_triple(ll.get_process_triple())
    return target.create_target_machine(cpu=cpu.name, features=cpu.features,
                                        opt=config.OPT, reloc="pic", codemodel="default")


