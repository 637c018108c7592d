"""Code generation: the planned entries' LLVM modules -> ONE module -> ONE PIC object.

``generate`` makes one CPU variant's object from a ``CodeRecipe`` (plain data: the
same for every variant) and the variant's modules: ``merge_modules`` links the
code libraries into one module, each symbol defined by the copy the JIT process
runs (``jit_definitions``); ``finish_module`` resolves recursion placeholders and
gives every definition the variant's prefix; ``make_target_machine`` is the
backend for the variant's CPU target.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable

import llvmlite.binding as ll

from ..errors import BuildError
from ..numba_seam import UNRESOLVED_PREFIX, addresses
from ..numba_seam.library import clear_dynamic_addresses
from ..numba_seam.replay import LibraryKeys
from .cpu import CpuTarget
from .plan import Planned, StableNames, _defined


def _defined_in(module, name: str) -> bool:
    for getter in (module.get_function, module.get_global_variable):
        try:
            return not getter(name).is_declaration
        except NameError:
            continue
    return False


@dataclass
class CodeRecipe:
    """What generating the image's code needs besides the modules: plain data, the same for
    every CPU variant (and picklable: a helper process generates variants from it).

    Libraries are named by keys (``LibraryKeys``); ``module_of(key)`` gives the module
    whose code the variant being generated holds for that library."""
    order: list[int]               # recorded libraries, in the order the JIT finalized them
    planned: list[int]             # libraries that carry planned entries' code, in plan order
    entry_names: set[str]          # entry points (made external)
    slots: dict[str, str]          # process-address global -> its late-bound slot
    exported: set[str]             # symbols the runtime looks up
    names: StableNames             # as planning left it (copied for each variant)
    external: dict[str, str] = field(default_factory=dict)   # base images' symbols by original name

    @classmethod
    def of(cls, planned: list[Planned], libraries: list, keys: "LibraryKeys", names: StableNames,
           external: dict[str, str]) -> "CodeRecipe":
        entry_names: set[str] = set()
        for p in planned:
            entry_names.update(p.raw_symbols.values())
        exported = {n for p in planned for n in list(p.raw_symbols.values()) + p.raw_envs}
        exported.update(t.slot_name() for p in planned for t in p.spec.extra.get("dynamic", {}).values())
        return cls(order=list(dict.fromkeys(keys(lib) for lib in libraries)),
                   planned=list(dict.fromkeys(keys(lib) for p in planned for lib in p.libraries)),
                   entry_names=entry_names,
                   slots={g: t.slot_name() for p in planned for g, t in p.spec.extra.get("dynamic", {}).items()},
                   exported=exported, names=names, external=dict(external))


ModuleOf = Callable[[int], Any]


def generate(recipe: CodeRecipe, module_of: ModuleOf, cpu: CpuTarget, prefix: str) -> bytes:
    """One variant's code: the recipe's libraries as ``module_of`` gives them, merged into
    one module, its symbols given ``prefix``, compiled for ``cpu`` into one PIC object."""
    big = merge_modules(recipe, module_of)
    finish_module(big, prefix, recipe.exported, copy.deepcopy(recipe.names), recipe.external)
    big.verify()
    return make_target_machine(cpu).emit_object(big)


def _modules(keys: list[int], module_of: ModuleOf) -> dict[int, Any]:
    """key -> module, for the keys whose library has usable IR (the others donate nothing)."""
    out: dict[int, Any] = {}
    for k in keys:
        try:
            out[k] = module_of(k)
        except Exception:  # noqa: BLE001 - a library without usable IR donates nothing
            continue
    return out


def _non_local_definitions(module) -> list:
    return [gv for gv in list(module.functions) + list(module.global_variables)
            if not gv.is_declaration and gv.linkage not in _LOCAL_OR_COMMON]


_LOCAL_OR_COMMON = (ll.Linkage.internal, ll.Linkage.private, ll.Linkage.common,
                    ll.Linkage.available_externally)


def jit_definitions(recorded: dict[int, Any], names: set[str], exclude: set[int]) -> dict[str, int]:
    """Symbol -> the library (key) whose copy of it the JIT process runs.

    A library's module carries ``linkonce_odr`` copies of everything it links,
    optimized again inside it (after inlining into it, and with the IR the JIT's
    backend already rewrote): copies of one symbol differ from module to module,
    and with fast-math they compute different bits. MCJIT keeps the first
    definition it loaded of a weak symbol and resolves every later reference to
    it, i.e. the copy of the first library finalized that defines it (usually
    the function's own library: callees are finalized before their callers).
    ``recorded`` is in finalization order; libraries in ``exclude`` (code with
    process addresses no entry names) donate nothing.
    """
    chosen: dict[str, int] = {}
    for k, mod in recorded.items():
        if k in exclude:
            continue
        for gv in _non_local_definitions(mod):
            if gv.name in names and gv.name not in chosen:
                chosen[gv.name] = k
    return chosen


def _link_in(big, key: int, mod, chosen: dict[str, int], entry_names: set[str], slots: dict[str, str]) -> None:
    """Link a clone of ``mod`` (library ``key``'s): its chosen definitions win, other copies
    only fill gaps."""
    clone = mod.clone()
    if addresses.dynamic_globals(clone):
        # named process addresses -> late-bound slots; jitclass box slots
        # keep their names and are nulled (both are filled at install)
        clone = clear_dynamic_addresses(addresses.rewrite_module(clone, slots))
    for gv in _non_local_definitions(clone):
        owner = chosen.get(gv.name)
        if (owner is not None and owner != key and gv.linkage == ll.Linkage.external
                and gv.name not in entry_names and _defined_differently(big, gv)):
            # A strong definition that another library defines with other content (Numba's
            # __excinfo_unwrap_args<hash of arg types> reads its own function's environment):
            # the JIT keeps one per object; here it stays local to its module.
            gv.linkage = "internal"
            continue
        if owner == key:
            # weak_odr: linked even before anything references it, and it stays
            # the definition when later modules bring their linkonce_odr copies
            gv.linkage = "external" if gv.name in entry_names else "weak_odr"
        elif owner is not None or _defined_in(big, gv.name):
            gv.linkage = "linkonce_odr"
        elif gv.name in entry_names:
            gv.linkage = "external"
            chosen[gv.name] = key
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


def merge_modules(recipe: CodeRecipe, module_of: ModuleOf):
    """Link the planned libraries' modules into one, each symbol defined by the copy the JIT runs.

    The modules to link are the planned entries' and those holding the JIT's copy
    of a symbol they define (see ``jit_definitions``), in the order the JIT
    finalized them. Entry points are made ``external`` (cache-loaded libraries
    mark everything ``linkonce_odr``, and the IR linker drops unreferenced
    linkonce definitions). A symbol pulled in only as a callee of a chosen copy
    gets its own JIT copy in a second round.
    """
    recorded = _modules(recipe.order, module_of)
    position = {k: i for i, k in enumerate(recorded)}
    planned_mods = {k: module_of(k) for k in recipe.planned}
    # donors with process addresses that no planned entry names cannot be relocated
    exclude = {k for k, mod in recorded.items() if k not in planned_mods and addresses.dynamic_globals(mod)}
    needed = {gv.name for mod in planned_mods.values() for gv in _non_local_definitions(mod)}
    while True:
        chosen = jit_definitions(recorded, needed, exclude)
        mods = {k: recorded[k] for k in chosen.values()}
        mods.update(planned_mods)
        late = len(position)        # planned libraries the recorder never saw go last, in plan order
        sequence = sorted(mods, key=lambda k: position.get(k, late))
        first = mods[sequence[0]]
        big = ll.parse_assembly("")
        big.triple = first.triple
        big.data_layout = first.data_layout
        owners = dict(chosen)       # + entry points no recorded library defines
        for k in sequence:
            _link_in(big, k, mods[k], owners, recipe.entry_names, recipe.slots)
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


