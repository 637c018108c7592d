"""Is an image entry still the code the user has now?

The unit of the fast path is the source file: if every file an entry's code
came from still has the digest recorded at build time, the entry is fresh and
no code object is fingerprinted. If a file changed, the functions involved are
compared one by one (the edited file is compiled, never executed), so editing
one function does not throw away its neighbours, and the warning can name it.
"""
from __future__ import annotations

import importlib.util
import sys
from functools import cached_property
from typing import Callable

from .fingerprint import file_digest, source_fingerprints
from .manifest import Manifest


def current_file(module: str) -> str | None:
    mod = sys.modules.get(module)
    path = getattr(mod, "__file__", None)
    if isinstance(path, str):
        return path
    if module == "__main__":
        return None
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None and spec.has_location else None


class Freshness:
    """Compares an image's recorded sources with the files ``locate`` finds for each module.

    The runtime locates modules as the running program sees them; ``snap check``
    (which must not import anything) passes a locator of its own.
    """

    def __init__(self, manifest: Manifest, locate: Callable[[str], str | None] = current_file) -> None:
        self._manifest = manifest
        self._locate = locate
        self._unchanged: dict[str, bool] = {}
        self._fps: dict[str, dict[str, frozenset[str]] | None] = {}

    @cached_property
    def _recorded(self) -> dict[str, str | None]:
        return {s.module: s.digest for s in self._manifest.sources}

    def module_unchanged(self, module: str) -> bool:
        ok = self._unchanged.get(module)
        if ok is None:
            path = self._locate(module)
            recorded = self._recorded.get(module)
            ok = bool(path and recorded and file_digest(path) == recorded)
            self._unchanged[module] = ok
        return ok

    def function_fps(self, module: str, qualname: str) -> frozenset[str]:
        """Fingerprints of the defs of a function in the module's current source (compiled,
        not executed); empty if the source or the function is gone."""
        path = self._locate(module)
        if path is None:
            return frozenset()
        if path not in self._fps:
            self._fps[path] = source_fingerprints(path)
        fps = self._fps[path]
        return fps.get(qualname, frozenset()) if fps else frozenset()

    def fresh(self, module: str, qualname: str, code: str) -> bool:
        return self.module_unchanged(module) or code in self.function_fps(module, qualname)
