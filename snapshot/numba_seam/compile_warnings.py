"""The warnings Numba gives while it compiles, as an image keeps them.

What the plain JIT does with them (numba 0.68): a warning given by a compiler pass
(``parallel=True`` with nothing to parallelize: ``NumbaPerformanceWarning`` from
``ParforPass.run_pass`` in numba/core/typed_passes.py; a reflected list or set argument:
``NumbaPendingDeprecationWarning`` from ``ir_utils.warn_deprecated``, called by the
``NoPythonSupportedFeatureValidation`` pass) goes through ``warnings.warn`` from Numba's
own module; warnings given while typing (``np.dot`` on non-contiguous arrays:
``MatMulTyperMixin`` in numba/core/typing/npydecl.py, reached from ``@overload(np.dot)``
in numba/np/linalg.py; unsafe casts of typed containers' keys and values:
``NumbaTypeSafetyWarning`` in numba/typed/typedobjectutils.py; anything an ``@overload``
says) are collected by ``WarningsFixer`` (numba/core/errors.py), re-dated to the jitted
function's line and given with ``warnings.warn_explicit`` when typing ends
(``type_inference_stage``, typed_passes.py). Under filters that make them errors
the exception escapes the compiler unchanged, from the first call (``_compile_for_args``
-> ... -> the pass, or ``WarningsFixer.flush``), and nothing is compiled. A second call
compiles again: a pass warning is given (and raised) again, but a typing warning
usually is not, because Numba keeps what typing resolved (an ``@overload``'s
implementation per argument types, ``_OverloadFunctionTemplate._impl_cache``) for the
whole process, so the second compile succeeds; likewise a callee compiled while its
caller was typed (warnings collected, then raised at the caller's flush) keeps its
code. A warning is therefore given by the first compilation in the process that
needs it, whichever function that is.

The training run records every warning each compilation gives, whatever its filters
(numba_seam/record.py); the image keeps, per entry, those its compilation gave
(re-given when it is installed, ``kinds.emit_warnings``) and, image-wide, all of them in
the order they were first given, with those compiling each entry gives in a fresh
process (``summary``, in the manifest's build info): the runtime holds those against the
program's filters (runtime/warning_filters.py).
"""
from __future__ import annotations

from typing import Any, Iterable

_PERFORMANCE = "numba.core.errors:NumbaPerformanceWarning"
# Where a warning's text names the function being compiled (``repr(py_func)``, with its
# address in the training process: debug info's "Could not find source for function:
# <function foo at 0x7f...>"), the image keeps this in its place and gives the text with
# the function's repr in the process the warning is given in, as the JIT would.
FUNCTION_PLACEHOLDER = "<snap:compiled function>"


def portable_text(message: Any, py_func: Any) -> str:
    """The text of a warning given while compiling ``py_func``, as an image keeps it."""
    text = str(message)
    if py_func is None:
        return text
    try:
        own = repr(py_func)
    except Exception:  # noqa: BLE001 - a repr that fails: the text as it is
        return text
    return text.replace(own, FUNCTION_PLACEHOLDER) if own else text


def local_text(text: str, py_func: Any) -> str:
    """The kept text with this process's repr of the compiled function (``portable_text``)."""
    if FUNCTION_PLACEHOLDER not in text or py_func is None:
        return text
    return text.replace(FUNCTION_PLACEHOLDER, repr(py_func))


def category_names(category: Any) -> list[str]:
    """``module:qualname`` of the category and of every class it derives from (a filter
    for a base category applies to it)."""
    return [f"{c.__module__}:{c.__qualname__}" for c in getattr(category, "__mro__", ())]


def summary(specs: list[Any], entries: list[Any]) -> dict[str, Any]:
    """What the training run's compilations warned (build info ``compile_warnings``):
    ``given``, every warning, in the order they were first given; ``of``, for each of
    ``entries`` (the image's entries' specializations, by payload index), the warnings
    compiling it gives in a process where nothing was compiled before (indices into
    ``given``); ``performance``, whether Numba gave performance warnings then.

    A typing warning is given by the first compilation that needs what it typed (Numba
    keeps the result), so an entry compiled later may not have given it in the training
    run although compiling it first would: what each compilation consulted, observed
    with Numba's caches (numba_seam/observe.py: warnings inside the template, the data
    model, the callee it reused), says which it needs."""
    import sys

    from numba.core import config
    given: dict[tuple, int] = {}
    for s in specs:
        for category, message, filename, lineno in (getattr(s, "extra", None) or {}).get("warnings", ()):
            given.setdefault((tuple(category_names(category)), str(message), str(filename), int(lineno)), len(given))
    by_text: dict[tuple[str, str], list[int]] = {}
    for g, i in given.items():
        by_text.setdefault((g[0][0] if g[0] else "", g[1]), []).append(i)
    of: list[list[int]] = []
    for s in entries:
        extra = getattr(s, "extra", None) or {}
        mine = {given[(tuple(category_names(c)), str(m), str(f), int(n))] for c, m, f, n in extra.get("warnings", ())}
        observed = getattr(extra.get("inputs"), "warned", None)
        for name, text in sorted(observed or ()):
            got = by_text.get((name, text))
            if got is None:            # given where the recorder's own hook does not look
                g = ((name,), text, "", 0)
                got = by_text[(name, text)] = [given.setdefault(g, len(given))]
            mine.update(got)
        of.append(sorted(mine) if observed is not None else list(range(len(given))))
    # the modules whose code a warning may come from (``warnings.warn`` attributes it to the
    # module of the file; its path may differ where the image runs): for module filters
    files = {g[2] for g in given}
    modules: dict[str, list[str]] = {}
    for name, mod in list(sys.modules.items()):
        f = getattr(mod, "__file__", None)
        if f in files:
            modules.setdefault(f, []).append(name)
    return {"given": [[*g, sorted(modules.get(g[2], ()))] for g in given],
            "of": of, "performance": not config.DISABLE_PERFORMANCE_WARNINGS}


def silenced(names: Iterable[str]) -> bool:
    """Would Numba not give a warning of this category now? (``NUMBA_DISABLE_PERFORMANCE_WARNINGS``:
    every place Numba gives a performance warning while compiling for the CPU asks it first.)"""
    if _PERFORMANCE not in names:
        return False
    from numba.core import config
    return bool(config.DISABLE_PERFORMANCE_WARNINGS)


def unrecorded_performance(recorded: dict) -> bool:
    """Might compiling give performance warnings here that the training run did not record
    (they were disabled there, they are not here)?"""
    if recorded.get("performance", True):
        return False
    from numba.core import config
    return not config.DISABLE_PERFORMANCE_WARNINGS



def performance_names() -> list[str]:
    from numba.core.errors import NumbaPerformanceWarning
    return category_names(NumbaPerformanceWarning)


def describe(recorded: Any) -> str:
    """The build info's ``compile_warnings`` in one line (``snap info``)."""
    if not isinstance(recorded, dict):
        return str(recorded)
    counts: dict[str, int] = {}
    for g in recorded.get("given") or ():
        try:
            name = str(g[0][0]).rpartition(":")[2]
        except (TypeError, IndexError):
            name = "?"
        counts[name] = counts.get(name, 0) + 1
    text = ", ".join(f"{n} ({c})" for n, c in sorted(counts.items())) or "none"
    return text if recorded.get("performance", True) else text + "; performance warnings were disabled"
