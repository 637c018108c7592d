"""Serving @guvectorize gufuncs (and parallel @vectorize ufuncs) from an activated image.

A builder asks for each eager (or, for a dynamic gufunc, call-time) signature
with ``add``; when the image holds a fresh entry for that function, builder
identity and argument types, the builder gets the image's kernel and loop
instead of compiling. Anything else (no entry, stale code, a broken entry) goes
to the JIT, with the same warnings and miss reports as dispatchers.
"""
from __future__ import annotations

from typing import Any

from .fingerprint import canonical_options, code_fingerprint
from .manifest import Entry
from . import validity
from .numba_seam import GUFUNC_KINDS, type_key
from .numba_seam.gufunc import builder_identity, builder_kind, make_image_cres, signature_args


def builder_options_text(options: dict, facts: dict) -> str:
    """The ``options`` text of a builder entry: target options + what the builder adds."""
    facts = dict(facts)
    code = facts.pop("exec_code", None)
    if code is not None:
        facts["code"] = code_fingerprint(code)
    return canonical_options(options) + ";builder=" + canonical_options(facts)


class GufuncServer:
    """Matches a builder's ``add`` to an image entry and builds its stand-in (made at the
    first ``add``: programs without gufuncs never import this module)."""

    def __init__(self, runtime) -> None:
        self.rt = runtime
        self.has_entries = bool(set(runtime.manifest.kinds) & set(GUFUNC_KINDS))

    def on_add(self, builder, sig) -> Any:
        cres = None
        if self.has_entries:
            try:
                cres = self._serve(builder, sig)
            except Exception as exc:  # noqa: BLE001 - never break the program: the JIT takes over
                if self.rt.strict:
                    raise
                if "internal" not in self.rt._warned:       # once, like the dispatcher hooks
                    self.rt._warned.add("internal")
                    from .runtime import warn
                    warn(f"snap: internal error serving a gufunc ({type(exc).__name__}: {exc}); "
                         "the JIT takes over")
                cres = None
        if cres is None:
            self.rt.on_compile(builder, sig)      # miss report / strict mode
        return cres

    def _serve(self, builder, sig) -> Any:
        rt = self.rt
        py_func = builder.py_func
        entries = rt.manifest.entries_of(py_func.__module__, py_func.__qualname__)
        if not entries or not rt.load():
            return None
        with rt._lock:
            keys = [type_key(t) for t in signature_args(sig)]
            key = validity.key_of(builder_kind(builder), builder_options_text(*builder_identity(builder)),
                                  py_func)
            for e in rt.fresh_entries(py_func, entries, key, lambda e: e.argkeys == keys):
                try:
                    return self._install(builder, e)
                except Exception as exc:  # noqa: BLE001 - a broken entry must not break the program
                    rt._unusable(e, exc)
                    return None
        return None

    def _install(self, builder, e: Entry) -> Any:
        rt = self.rt
        code = rt.image_code(e, builder.nb_func.targetdescr.target_context)
        data, env, fndesc, library = code.data, code.env, code.fndesc, code.library
        cres = make_image_cres(builder, fndesc=fndesc, library=library, env=env, args=data.args,
                               return_type=data.return_type, loop_address=rt.loaded.address(e.symbols["loop"]))
        rt.installed += 1
        return cres
