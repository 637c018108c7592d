"""Runs the items of an adversarial app (tests/test_adversarial.py) and prints each result
exactly: one line per item, ``name = value`` or ``name raised Type: message``.

An item is a zero-argument callable. Floats are printed with repr (exact), arrays as
dtype, shape and the hex of their bytes, so two runs print the same text only if they
computed the same bits. An exception an item raises is part of its result (printed,
the run goes on), except snap's errors (strict mode) and the test's
compilation-forbidden guard: those end the program.
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def fmt(v):
    if isinstance(v, np.ndarray):
        dt = v.dtype.descr if v.dtype.fields else v.dtype.str
        return f"ndarray[{dt} {v.shape}]{v.tobytes().hex()}"
    if isinstance(v, tuple) and not hasattr(v, "_fields"):
        return "(" + ", ".join(fmt(x) for x in v) + ")"
    if isinstance(v, list):
        return "[" + ", ".join(fmt(x) for x in v) + "]"
    if isinstance(v, np.generic):
        return f"{type(v).__name__}({v.item()!r}, {v.tobytes().hex()})"
    return f"{type(v).__name__}({v!r})"


def _ends_program(e: BaseException) -> bool:
    """snap's own errors (strict mode: a ``SnapError``) and the compilation-forbidden guard
    are not results: they end the program. A warning a filter turned into an error (snap's
    ``SnapWarning`` included) is an exception like any other: a result."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        names = {cls.__name__ for cls in type(e).__mro__}
        if names & {"SnapError", "CompilationForbidden"}:
            return True
        if "SnapStrictError" in str(e) or "CompilationForbidden" in str(e):
            return True
        e = e.__cause__ or e.__context__
    return False


def describe_exception(e: BaseException) -> str:
    msg = " ".join(str(e).replace(HERE, "<dir>").split())
    return f"{type(e).__module__}.{type(e).__qualname__}: {msg}"


def main(items: dict, before=lambda name: None, not_servable: frozenset = frozenset()) -> None:
    """Run the items named on the command line, else all but ``not_servable`` (entries snap does
    not serve by design: they run only when named)."""
    names = sys.argv[1:] or [n for n in items if n not in not_servable]
    unknown = [n for n in names if n not in items]
    if unknown:
        raise SystemExit(f"unknown items {unknown}")
    for name in names:
        before(name)
        try:
            value = items[name]()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:  # noqa: BLE001 - an exception is a result too
            if _ends_program(e):
                raise
            print(f"{name} raised {describe_exception(e)}", flush=True)
        else:
            print(f"{name} = {fmt(value)}", flush=True)
