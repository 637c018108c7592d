"""Finding a module or package WITHOUT importing it (``snap create --package``, ``snap check``).

``importlib.util.find_spec("a.b")`` imports ``a`` (runs its ``__init__``), and
neither ``snap create`` (which must not run a library before its workload does)
nor ``snap check`` (which runs nothing) may do that. Kept apart from
``packaged.py``, which is on the import path of every self-activating library.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import os
from typing import Sequence

from .packaged import PACKAGE_DIR


def find_spec(module: str, search: Sequence[str] = ()) -> "importlib.machinery.ModuleSpec | None":
    """The import spec of ``module`` WITHOUT importing it or its parents (None: not found).

    Only the top-level name goes
    through the import system: first the directories ``search``, then ``sys.path``
    and the meta path finders (editable installs); submodules are looked for in
    their parent's ``submodule_search_locations``.
    """
    if not module or module == "__main__":
        return None
    parts = module.split(".")
    try:
        spec = importlib.machinery.PathFinder.find_spec(parts[0], list(search)) if search else None
        if spec is None:
            spec = importlib.util.find_spec(parts[0])
        for i in range(1, len(parts)):
            if spec is None or not spec.submodule_search_locations:
                return None
            spec = importlib.machinery.PathFinder.find_spec(".".join(parts[:i + 1]),
                                                            list(spec.submodule_search_locations))
    except (ImportError, ValueError, AttributeError, TypeError):
        return None
    return spec


def package_directory(package: str, search: Sequence[str] = ()) -> str:
    """The directory of ``package`` (found without importing it), where its ``_snap``
    images go; ValueError saying why when there is none (not found, a plain module,
    a namespace package spread over several directories)."""
    spec = find_spec(package, search)
    if spec is None:
        where = f"in {', '.join(search)} and " if search else ""
        raise ValueError(f"cannot find package {package!r} (looked {where}on sys.path, without importing it)")
    locations = list(spec.submodule_search_locations or [])
    if not locations:
        raise ValueError(f"{package!r} is a module ({spec.origin}), not a package: a library's image "
                         f"lives in its package directory ({PACKAGE_DIR}/)")
    if len(locations) != 1:
        raise ValueError(f"{package!r} is a namespace package spread over {len(locations)} directories "
                         f"({', '.join(locations)}): give --output")
    return os.path.abspath(locations[0])
