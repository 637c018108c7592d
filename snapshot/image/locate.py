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
import sys
from typing import Sequence

from .packaged import PACKAGE_DIR


def module_name(name: object) -> bool:
    """Is ``name`` a module name (``identifier.identifier...``)? Names read from an image are
    checked first: nothing else (a path, an empty part) is looked up at all."""
    return isinstance(name, str) and 0 < len(name) <= 1000 and all(p.isidentifier() for p in name.split("."))


def find_spec(module: str, search: Sequence[str] = (), *, finders: bool = True
              ) -> "importlib.machinery.ModuleSpec | None":
    """The import spec of ``module`` WITHOUT importing it or its parents (None: not found).

    Only the top-level name goes through the import system: first the directories
    ``search``, then ``sys.path`` and, with ``finders``, the meta path finders;
    submodules are looked for in their parent's ``submodule_search_locations``.

    ``finders=False`` for a name an untrusted image gives (``snap check``): a meta path
    finder is code of whatever is installed, and asking it runs that code (setuptools'
    distutils hack answers for "distutils" by importing 81 modules). Then only PathFinder
    over ``search`` and sys.path, and the packages editable installs map (read from
    their finders' tables, not asked: ``_editable_spec``).
    """
    if not module_name(module) or module == "__main__":
        return None
    parts = module.split(".")
    try:
        spec = importlib.machinery.PathFinder.find_spec(parts[0], list(search)) if search else None
        if spec is None:
            if finders:
                spec = importlib.util.find_spec(parts[0])
            else:
                spec = importlib.machinery.PathFinder.find_spec(parts[0]) or _editable_spec(parts[0])
        for i in range(1, len(parts)):
            if spec is None or not spec.submodule_search_locations:
                return None
            spec = importlib.machinery.PathFinder.find_spec(".".join(parts[:i + 1]),
                                                            list(spec.submodule_search_locations))
    except (ImportError, ValueError, AttributeError, TypeError, OSError):
        return None
    return spec


def _editable_spec(name: str) -> "importlib.machinery.ModuleSpec | None":
    """The spec of a top-level package an editable install maps (setuptools' finders, loaded
    at start-up by their .pth file: their ``MAPPING`` and ``NAMESPACES`` tables are read,
    the finders are never called)."""
    for finder in sys.meta_path:
        owner = vars(finder if isinstance(finder, type) else type(finder)).get("__module__")
        if not (isinstance(owner, str) and owner.startswith("__editable___") and owner.endswith("_finder")):
            continue
        tables = vars(sys.modules[owner]) if owner in sys.modules else {}
        mapping, spaces = tables.get("MAPPING"), tables.get("NAMESPACES")
        path = mapping.get(name) if isinstance(mapping, dict) else None
        if isinstance(path, str):
            init = os.path.join(path, "__init__.py")
            if os.path.isfile(init):
                return importlib.util.spec_from_file_location(name, init, submodule_search_locations=[path])
            if os.path.isdir(path):
                return _namespace(name, [path])
            if os.path.isfile(path):
                return importlib.util.spec_from_file_location(name, path)
        where = spaces.get(name) if isinstance(spaces, dict) else None
        if isinstance(where, list) and all(isinstance(p, str) for p in where):
            return _namespace(name, where)
    return None


def _namespace(name: str, locations: list[str]) -> "importlib.machinery.ModuleSpec":
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = list(locations)
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
