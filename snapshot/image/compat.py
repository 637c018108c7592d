"""Can this process run an image's code? The one verdict ``snap run`` and ``snap check`` give.

An image's code depends on the machine, the versions of Python, Numba,
llvmlite and NumPy, the Numba settings that change generated code (its
fingerprint) and the CPU features it was compiled for (the best of its CPU variants
this machine has is the one run: image/variants.py; with ``NUMBA_CPU_NAME`` /
``NUMBA_CPU_FEATURES`` set, only the variant that is exactly what the JIT compiles for
them). The runtime refuses an image with any difference, or without a variant for this
CPU; ``snap check`` shows every row of the same comparison.
"""
from __future__ import annotations

from typing import Any, Iterator, NamedTuple

# at import, not at activation: importing host (and `platform`) costs ~0.7 ms
from .host import host_facts, process_fingerprint
from .variants import Choice, choose, usable_features, variants_of


class Row(NamedTuple):
    """One fact of the fingerprint: what the image recorded and what this process has."""
    key: str              # top-level fingerprint key ("numba", "numba_config", ...)
    sub: str | None       # a setting inside a nested fingerprint (numba_config's "OPT"), or None
    image: Any
    here: Any

    @property
    def ok(self) -> bool:
        return self.image == self.here


def rows(recorded: dict, here: dict) -> Iterator[Row]:
    """Every fact of both fingerprints, nested ones (Numba's config) setting by setting."""
    for key in sorted(set(recorded) | set(here)):
        want, have = recorded.get(key), here.get(key)
        if isinstance(want, dict) or isinstance(have, dict):
            w = want if isinstance(want, dict) else {}
            h = have if isinstance(have, dict) else {}
            for k in sorted(set(w) | set(h)):
                yield Row(key, k, w.get(k), h.get(k))
            if not isinstance(want, dict) or not isinstance(have, dict):
                yield Row(key, None, want, have)
        else:
            yield Row(key, None, want, have)


def verdict(manifest: Any, here: dict | None = None, features: frozenset[str] | None = None,
            jit: Any = None) -> tuple[list[str], Choice]:
    """(why this process cannot run the image's code, empty if it can; the CPU variant it
    would run and why).

    ``here`` and ``features`` default to this process's fingerprint and CPU features
    (from the per-boot host cache: activation must stay cheap), the features limited by
    ``SNAP_CPU`` (image/variants.py). ``jit``: the CPU ``NUMBA_CPU_NAME`` /
    ``NUMBA_CPU_FEATURES`` make the JIT compile for (``variants.JitTarget``, as
    ``numba_seam.cpu.jit_target`` finds it in a process; None: unset): a variant is then
    used only if it is exactly that code.
    """
    if here is None or features is None:
        triple, host_features = host_facts()
        here = process_fingerprint(triple) if here is None else here
        features = host_features if features is None else features
    features, limited_to = usable_features(features)
    problems = []
    if manifest.fingerprint != here:
        by_key: dict[str, list[Row]] = {}
        for r in rows(manifest.fingerprint, here):
            if not r.ok:
                by_key.setdefault(r.key, []).append(r)
        for key, diff in by_key.items():
            if all(r.sub is not None for r in diff):
                problems.append(f"{key.replace('_', ' ')} differs: " + ", ".join(
                    f"{r.sub}={_absent(r.image)} (image) vs {_absent(r.here)} (here)" for r in diff))
            else:
                problems.append(f"{key} {diff[-1].image} (image) vs {diff[-1].here} (here)")
    choice = choose(variants_of(manifest), features, limited_to, jit)
    if choice.variant is None:
        problems.append(choice.reason)
    return problems, choice


def what_next(problems: list[str], choice: Choice) -> str:
    """What to do about an image refused for ``problems`` (``verdict``'s), as the end of its
    message: another environment is rebuilt in, a CPU that lacks features is built for with a
    portable target."""
    if not problems:
        return ""
    cpu = choice.variant is None
    steps = []
    if len(problems) > (1 if cpu else 0):
        steps.append("rebuild the image with this Python, Numba and NumPy (snap create here)")
    if cpu:
        steps.append("build it for several machines with snap create --cpu portable (or a level "
                     "this CPU has, such as --cpu x86-64-v2)")
    return " (what to do: " + "; ".join(steps) + ")"


def _absent(v: Any) -> Any:
    return "(absent)" if v is None else v
