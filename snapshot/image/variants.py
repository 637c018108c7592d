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


def choose(variants: list[Variant], features: frozenset[str], limited_to: str | None = None) -> Choice:
    """The best variant whose required features are all in ``features`` (the last that fits:
    variants are stored lowest first), and why; ``limited_to``: the SNAP_CPU level that
    limited ``features``, named in the reason."""
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
