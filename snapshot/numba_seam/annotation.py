"""The type annotation of a served entry: what the JIT's compile result carries, on demand.

``Dispatcher.get_annotation_info`` and ``inspect_types`` read ``cres.type_annotation``,
a ``TypeAnnotation`` the JIT builds from the typed IR of every compile. An image entry
has no typed IR; its stand-in answers the cheap parts (``func_id``, ``signature``: the
keys of ``get_annotation_info``) from the function and the entry's types, and anything
else from the annotation of a compile done at that moment, for the same function and
types, whose code is never installed nor run: nothing is paid unless something reads it.
"""
from __future__ import annotations

from functools import cached_property
from typing import Any


class ImageTypeAnnotation:
    """Stands in for the ``TypeAnnotation`` of a served entry (see module doc). Made at every
    install: nothing but the references is done until something reads it."""

    def __init__(self, owner, args: tuple, return_type, explicit: bool = False) -> None:
        self._owner = owner
        self._args = tuple(args)
        self._return_type = return_type
        self._explicit = explicit       # compiled for this return type (else inferred)

    @cached_property
    def signature(self) -> str:
        # as TypeAnnotation.__init__ writes it (made when read: types print slowly)
        return str(self._args) + " -> " + str(self._return_type)

    @cached_property
    def func_id(self) -> Any:
        from numba.core import bytecode
        return bytecode.FunctionIdentity.from_function(self._owner.py_func)

    @cached_property
    def _real(self) -> Any:
        """The JIT's annotation: a side compile of the same function and types (the
        dispatcher's own compiler, without adding an overload; callees it types are served
        from the image as for any compile)."""
        owner = self._owner
        # as inside Dispatcher.compile: the dispatcher is compiling (its own calls type as
        # recursive calls, as they did when the JIT compiled it)
        with owner._compiling_counter:
            cres = owner._compiler._compile_core(self._args, self._return_type if self._explicit else None)
        return cres.type_annotation

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_owner", "_args", "_return_type", "_explicit"):
            raise AttributeError(name)
        return getattr(self._real, name)

    def __str__(self) -> str:
        return str(self._real)
