"""CPU variants: one image, its code generated once per CPU level, one variant chosen at load.

``snap create --cpu x86-64-v2,x86-64-v3,x86-64-v4`` (or ``--cpu portable``) puts
one copy of the code per CPU target in the image; everything else (manifest,
payload, entries, symbols' names) is shared. Variant ``k``'s copy of a symbol is
named with the variant's own prefix in place of the image's (``prefix`` ->
``Variant.prefix``); a single-target image has one variant whose prefix is the
image's, so its symbols are the manifest's names as they are.

Activation chooses once, for the whole image, the best variant whose required
features this CPU has (``choose``). ``SNAP_CPU=<x86-64 level>`` limits the
features snap takes this machine to have to that level's (never more than it
has): for tests, and for users who want a lower level than their CPU's.

``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES`` (``numba.config.CPU_NAME`` / ``CPU_FEATURES``)
make the JIT compile for another CPU than this one. With either set, the image's code
is used only where it is exactly what that JIT compiles (``compiles_as``): the variant
of that CPU name whose features are those the settings give, if this CPU runs it;
otherwise the image is not used (one warning; strict mode refuses it). Numba reads them
once, when it makes its codegen (the first dispatcher); the runtime checks them at
activation and again at the first install (runtime/opened.py, numba_seam/cpu.py).
"""
from __future__ import annotations

import os
from typing import Any

from .host import LEVELS

CPU_ENV = "SNAP_CPU"
PRESETS = {"portable": ("x86-64-v2", "x86-64-v3", "x86-64-v4")}
# ascending; "host" (this build machine's CPU) sorts last: it needs the most
_RANK = {"generic": 1, "x86-64": 1, "x86-64-v2": 2, "x86-64-v3": 3, "x86-64-v4": 4, "host": 5}


class Variant:
    """One CPU variant of an image's code. (A plain class, not a NamedTuple: this module is on
    the activation path, where making a NamedTuple class costs ~0.2 ms.)"""
    __slots__ = ("target", "name", "features", "prefix", "size")

    def __init__(self, target: str, name: str, features: list[str], prefix: str, size: int = 0) -> None:
        self.target = target         # what the build was asked for: an x86-64 level or "host"
        self.name = name             # the LLVM CPU name the code was generated for
        self.features = features     # features a machine must have to run it
        self.prefix = prefix         # its symbols' prefix
        self.size = size             # bytes of code and data of its own (snap info)

    def _asdict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}

    def __repr__(self) -> str:
        return f"Variant({self.target!r}, {self.name!r}, {len(self.features)} features, {self.prefix!r})"


def variants_of(manifest: Any) -> list[Variant]:
    """The image's variants, lowest first (a single-target image: one, with its prefix)."""
    docs = getattr(manifest, "variants", None) or []
    if docs:
        return [Variant(str(d["target"]), str(d["name"]), list(d["features"]), str(d["prefix"]),
                        int(d.get("size", 0))) for d in docs]
    cpu = manifest.cpu
    return [Variant(str(cpu.get("target", "")), str(cpu.get("name", "")), list(cpu.get("features", [])),
                    manifest.prefix)]


def rank(target: str) -> int:
    return _RANK.get(target, 0)


def tag(target: str) -> str:
    """The short name of a target in symbol prefixes: ``x86-64-v3`` -> ``v3``."""
    return {"generic": "v1", "x86-64": "v1"}.get(target) or target.rsplit("-", 1)[-1]


class Choice:
    """The variant this CPU runs (None: no variant fits) and why."""
    __slots__ = ("variant", "reason")

    def __init__(self, variant: Variant | None, reason: str) -> None:
        self.variant, self.reason = variant, reason


class JitTarget:
    """The CPU the JIT of this process compiles for when ``NUMBA_CPU_NAME`` /
    ``NUMBA_CPU_FEATURES`` (``numba.config.CPU_NAME`` / ``CPU_FEATURES``) chose it: the CPU
    name and feature string its target machine is made with (numba_seam/cpu.py).

    With either set, an image's variant is used only if it is exactly what that JIT
    compiles (``compiles_as``); the image's own choice (the best variant this CPU has)
    applies only when both are unset."""
    __slots__ = ("name", "features", "set_name", "set_features", "host_features")

    def __init__(self, name: str, features: str, set_name: str | None, set_features: str | None,
                 host_features: Any = None) -> None:
        self.name = name                     # the LLVM CPU name the JIT's target machine has
        self.features = features             # its feature string
        self.set_name = set_name             # the settings as they were (None: unset)
        self.set_features = set_features
        # enabled LLVM host features -> the string Numba makes of them by default, or None
        # (numba_seam.cpu.numba_host_features): a --cpu host variant's feature string
        self.host_features = host_features

    def key(self) -> tuple:
        return (self.name, self.features, self.set_name, self.set_features)

    def setting(self) -> str:
        """The settings, as the user sets them (``NUMBA_CPU_NAME='x86-64-v2', NUMBA_CPU_FEATURES=''``)."""
        return ", ".join(f"NUMBA_{n}={_short(v)!r}" for n, v in (("CPU_NAME", self.set_name),
                                                                   ("CPU_FEATURES", self.set_features))
                         if v is not None)

    def describe(self) -> str:
        """``CPU 'x86-64-v2' with features ''`` (the host's features, a long list: not spelled out)."""
        if self.set_features is None:
            return f"CPU {self.name!r} with this CPU's features"
        return f"CPU {self.name!r} with features {_short(self.features)!r}"

    def __repr__(self) -> str:
        return f"JitTarget({self.name!r}, {self.features!r})"


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


def _tokens(features: str) -> list[str]:
    """A feature string as LLVM reads it: split at commas, empty items skipped
    (``SubtargetFeatures::Split``), then applied in order."""
    return [t for t in features.split(",") if t]


def compiles_as(v: Variant, jit: JitTarget) -> bool:
    """Is variant ``v``'s code what the JIT compiles for ``jit``'s CPU name and features?

    The same CPU name, and a feature string that makes the same target: a level variant
    was generated with no features (the level's own, as LLVM defines the CPU), so a string
    whose every item changes nothing there (``+f`` for a feature of the level, ``-f`` for a
    feature of a higher level) is the same; a ``--cpu host`` variant was generated with the
    build machine's features as Numba spells them, compared item by item. Anything else
    (another order, a feature LLVM implies, an unknown name) counts as different: then the
    JIT compiles, never code that might differ."""
    if v.name != jit.name:
        return False
    items = _tokens(jit.features)
    if v.target in LEVELS:
        own = set(LEVELS[v.target][1])
        higher = set(LEVELS["x86-64-v4"][1]) - own
        return all((t[0] == "+" and t[1:] in own) or (t[0] == "-" and t[1:] in higher) for t in items)
    if v.target == "host" and jit.host_features is not None:
        built = jit.host_features(v.features)
        return built is not None and items == _tokens(built)
    return False


def jit_level(jit: JitTarget | None) -> str | None:
    """The x86-64 level whose variant is exactly what the JIT compiles for ``jit``, if one is
    (a library's shipped images are then chosen for that level: image/packaged.py)."""
    if jit is None:
        return None
    for level in ("x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4"):
        name, features = LEVELS[level]
        if compiles_as(Variant(level, name, list(features), ""), jit):
            return level
    return None


def choose(variants: list[Variant], features: frozenset[str], limited_to: str | None = None,
           jit: JitTarget | None = None) -> Choice:
    """The best variant whose required features are all in ``features`` (the last that fits:
    variants are stored lowest first), and why; ``limited_to``: the SNAP_CPU level that
    limited ``features``, named in the reason. With ``jit`` (NUMBA_CPU_NAME / NUMBA_CPU_FEATURES
    set), only the variant that is exactly what the JIT compiles for them, if this CPU runs it."""
    if jit is not None:
        return _choose_as_jit(variants, features, limited_to, jit)
    fitting = [v for v in variants if set(v.features) <= features]
    limit = f" (as limited by {CPU_ENV}={limited_to})" if limited_to else ""
    if not fitting:
        low = variants[0]
        missing = sorted(set(low.features) - features)
        what = "the image needs" if len(variants) == 1 else f"its lowest variant ({low.target}) needs"
        return Choice(None, f"this CPU lacks features {what}: {', '.join(missing)}{limit}")
    best = fitting[-1]
    if len(variants) == 1:
        return Choice(best, f"built for {best.target}; this CPU has its features{limit}")
    names = ", ".join(v.target for v in variants)
    return Choice(best, f"{best.target}: the best of {names} this CPU has{limit}")


def _choose_as_jit(variants: list[Variant], features: frozenset[str], limited_to: str | None,
                   jit: JitTarget) -> Choice:
    what = f"the JIT here compiles for {jit.describe()} ({jit.setting()})"
    same = [v for v in variants if compiles_as(v, jit)]
    if not same:
        names = ", ".join(v.target for v in variants)
        return Choice(None, f"{what}, and no variant of the image ({names}) is that code")
    v = same[-1]
    missing = sorted(set(v.features) - features)
    if missing:
        limit = f" (as limited by {CPU_ENV}={limited_to})" if limited_to else ""
        return Choice(None, f"{what}: the variant {v.target} is that code, but this CPU lacks features "
                            f"it needs: {', '.join(missing)}{limit}")
    return Choice(v, f"{v.target}: exactly what {what}")


def symbol(sym: str, prefix: str, variant: Variant) -> str:
    """The name of variant ``variant``'s copy of the image symbol ``sym``."""
    if variant.prefix == prefix or not sym.startswith(prefix):
        return sym
    return variant.prefix + sym[len(prefix):]


def usable_features(features: frozenset[str]) -> tuple[frozenset[str], str | None]:
    """``features`` limited by ``SNAP_CPU`` (and the level named, or None when unset)."""
    level = os.environ.get(CPU_ENV, "").strip()
    if not level:
        return features, None
    if level not in LEVELS:
        from ..errors import warn_image     # once per process (the warning registry)
        warn_image(f"snap: {CPU_ENV}={level!r} is not an x86-64 level ({', '.join(LEVELS)}); ignored")
        return features, None
    return features & frozenset(LEVELS[level][1]), level


def parse_targets(option: str) -> list[str]:
    """``--cpu`` text -> the targets it names, lowest first (ValueError: what is wrong)."""
    names: list[str] = []
    for part in option.split(","):
        part = part.strip()
        names.extend(PRESETS.get(part, (part,)))
    for n in names:
        if n not in _RANK:
            choices = ", ".join(["host", *LEVELS, *PRESETS])
            raise ValueError(f"unknown --cpu {n!r}; choose one of: {choices} (or several, comma-separated)")
    seen: dict[str, str] = {}
    for n in names:
        seen.setdefault("x86-64" if n == "generic" else n, n)
    return sorted(seen.values(), key=rank)
