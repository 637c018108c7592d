"""The program's warning filters, held against the warnings compiling an image's code gave.

An entry installed from the image gives again the warnings its compilation gave in the
training run (``numba_seam.kinds.emit_warnings``): the program's filters print or
ignore them as they would the JIT's own. A filter that makes one an exception
(``python -W error``, ``warnings.simplefilter("error")``) is another matter: the JIT
raises it from the call that compiles and compiles nothing, and a typing warning is
given only by the first compilation in the process that needs it, whichever function
that is (numba_seam/compile_warnings.py) -- an order the image cannot know. Compiling
an entry in a process that compiled nothing before gives the warnings the training run
observed in its compilation, Numba's cached typing included (build info
``compile_warnings``), and those of the images it was built on: the most it can give
here, whatever ran before. While the filters could turn any of those into an
exception, the entry is not served: the compilation goes to the JIT, which then does
exactly what it does without the image (the same exception from the same call, the same
success at a later one). An entry compiled before anything warned is served under any
filters. Such a miss is reported (kind ``not servable``, naming the warning) and is an error in
strict mode, but it is not warned about: under those filters a ``SnapWarning`` would
itself be an exception the plain JIT never raises. Filters that only print or ignore
change nothing.

Which filter applies is decided as ``warnings.warn_explicit`` decides it (category,
message, line, module; the first that matches, else ``warnings.defaultaction``). The
module a warning is attributed to depends on how Numba gave it (its own module, or the
file name): a filter whose module pattern matches only one of them counts as possibly
applying, and a warning whose text is not known (performance warnings the training run
had disabled) as matching any message pattern.
"""
from __future__ import annotations

import sys
import warnings
from typing import Any, Iterator

from ..image import kinds as K
from ..numba_seam import compile_warnings as given_warnings

# actions that print or drop a warning (anything else raises: "error", or an unknown one,
# which warn_explicit rejects with a RuntimeError)
_SHOWN = frozenset(("ignore", "always", "default", "module", "once"))

Warned = tuple  # (category and base names, text or None, filename, lineno, modules of the file)


def refuse(rt, e) -> bool:
    """Must entry ``e`` of ``rt`` be left to the JIT under the filters as they are now? (Then
    the reason is kept for the miss report: ``reason``.)"""
    why = _why(rt, e)
    filtered = rt.image.filtered
    if why is None:
        if filtered:
            filtered.pop(e.key(), None)
        return False
    filtered[e.key()] = why
    return True


def reason(rt, key: tuple[str, str]) -> tuple[str, str] | None:
    """(miss kind, reason) for a function ``refuse`` left to the JIT, or None."""
    why = rt.image.filtered.get(key)
    return None if why is None else (K.MISS_NOT_SERVABLE, why)


def _why(rt, e) -> str | None:
    recorded = rt.image.compile_warnings
    limit = _limit(recorded, e)
    if limit == () and not rt.bases and not given_warnings.unrecorded_performance(recorded["raw"]):
        return None       # compiling it gives no warning (the usual case)
    state = (tuple(warnings.filters), warnings.defaultaction, _performance_silenced(), len(sys.modules))
    cache = rt.image.__dict__.setdefault("_filters_verdicts", [None, {}])
    if cache[0] != state:
        cache[0], cache[1] = state, {}
    if limit is not None and limit in cache[1]:
        return cache[1][limit]
    why = None
    for names, text, filename, lineno, modules in _given(rt, e):
        action = could_raise(names, text, filename, lineno, modules)
        if action is not None:
            category = names[0].rpartition(":")[2] if names else "Warning"
            first = next((line.strip() for line in (text or "").splitlines() if line.strip()), "")
            first = first if len(first) <= 100 else first[:97] + "..."
            shown = f"{category}: {first}" if first else category
            why = (f"the warning filters here make an exception ({action!r}) of a warning compiling "
                   f"it may give ({shown}): compiled by the JIT, as without the image")
            break
    if limit is not None:
        cache[1][limit] = why
    return why


def _limit(recorded: dict | None, e) -> tuple[int, ...] | None:
    """Which of the image's recorded warnings compiling ``e`` gives (indices into ``given``;
    None: the image does not say)."""
    if recorded is None:
        return None
    of = recorded["of"]
    i = getattr(e, "payload", -1)
    return of[i] if isinstance(i, int) and 0 <= i < len(of) else tuple(range(len(recorded["given"])))


def _given(rt, e) -> Iterator[Warned]:
    """The warnings compiling ``e`` here may give: those its image's training run had given
    when ``e``'s compilation ended (``e``'s own, for an image that does not say), all those
    of the images it was built on (its callees' compilations there), less those Numba would
    not give now, plus performance warnings of unknown text when a training run had them
    disabled."""
    seen: set[int] = set()
    todo = [rt]
    silenced = _performance_silenced()
    while todo:
        r = todo.pop()
        if id(r) in seen:
            continue
        seen.add(id(r))
        todo.extend(getattr(r, "bases", ()))
        recorded = r.image.compile_warnings
        if recorded is None:
            if r is not rt:
                continue
            data = rt.image.payload(e)
            items = [(tuple(given_warnings.category_names(c)), str(m), str(f), int(n), ())
                     for c, m, f, n in (getattr(data, "extra", None) or {}).get("warnings", ())]
        else:
            items = recorded["given"]
            if r is rt:
                items = [items[i] for i in _limit(recorded, e) if 0 <= i < len(items)]
            if given_warnings.unrecorded_performance(recorded["raw"]):
                items = [*items, (tuple(given_warnings.performance_names()), None, "", 0, ())]
        for item in items:
            if silenced and given_warnings.silenced(item[0]):
                continue
            yield item


def _performance_silenced() -> bool:
    from numba.core import config
    return bool(config.DISABLE_PERFORMANCE_WARNINGS)


def parse(recorded: Any) -> dict | None:
    """The build info's ``compile_warnings`` as ``_given`` uses it (None: the image does not say)."""
    if not isinstance(recorded, dict) or not isinstance(recorded.get("given"), list):
        return None
    items = []
    try:
        for names, text, filename, lineno, *modules in recorded["given"]:
            items.append((tuple(str(n) for n in names), str(text), str(filename), int(lineno),
                          tuple(str(m) for m in (modules[0] if modules else ()))))
        of = [tuple(int(k) for k in ks) for ks in recorded.get("of") or ()]
    except (TypeError, ValueError):
        return None
    return {"given": items, "of": of, "raw": recorded}


def could_raise(names: tuple[str, ...], text: str | None, filename: str, lineno: int,
                modules: tuple[str, ...] = ()) -> str | None:
    """The action that would make this warning an exception if the current filters could
    apply one to it (``"error"``, or one ``warn_explicit`` does not know), else None.
    ``modules``: the modules of ``filename`` where the warning was recorded."""
    for action, msg, cat, mod, ln in warnings.filters:
        if f"{getattr(cat, '__module__', '')}:{getattr(cat, '__qualname__', '')}" not in names:
            continue
        if ln and ln != lineno:
            continue
        sure = True
        if msg is not None:
            if text is None:
                sure = False
            elif not msg.match(text):
                continue
        if mod is not None:
            candidates = _modules(filename, modules)
            hits = sum(1 for m in candidates if mod.match(m))
            if not hits:
                continue
            sure = sure and hits == len(candidates)
        if action not in _SHOWN:
            return str(action)
        if sure:
            return None
    action = warnings.defaultaction
    return None if action in _SHOWN else str(action)


def _modules(filename: str, recorded: tuple[str, ...] = ()) -> list[str]:
    """The module names a warning of ``filename`` may be attributed to: the file's name
    without ``.py`` (``warn_explicit`` without a module: Numba's re-dated typing warnings),
    and the module whose file it is (``warnings.warn`` from that module's code), here or
    (``recorded``) where the training run ran."""
    names = [filename[:-3] if filename[-3:].lower() == ".py" else filename or "<unknown>"]
    names += [m for m in recorded if m not in names]
    for name, mod in list(sys.modules.items()):
        if getattr(mod, "__file__", None) == filename and name not in names:
            names.append(name)
    return names
