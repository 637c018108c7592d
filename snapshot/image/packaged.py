"""Images a library ships inside its package: where they are and which one fits here.

``snap create --package mylib`` writes ``mylib/_snap/<name>.so``; the library's
``__init__`` calls ``snapshot.activate_package(__name__)``, which picks, by file
name alone (no file is opened for the choice), the image built for this Python,
this Numba minor version and the best CPU level this machine has. The name is
the contract between the two sides:

    mylib-cp311-numba0.68-x86_64_v3.so

(package, CPython tag, Numba major.minor, CPU target: ``host`` or an x86-64
level, ``-`` written ``_``). The chosen image is then checked like any other
(exact versions, CPU features, entries): a near miss is refused quietly.
"""
from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, NamedTuple, Sequence

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec

from .host import LEVELS

PACKAGE_DIR = "_snap"           # inside the package: the images it ships
_ORDER = ("x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4")    # ascending: the best fitting wins


class PackagedName(NamedTuple):
    package: str
    python: str          # "cp311"
    numba: str           # "0.68"
    cpu: str             # "host" or an x86-64 level ("x86-64-v3")

    @property
    def filename(self) -> str:
        return f"{self.package}-{self.python}-numba{self.numba}-{self.cpu.replace('-', '_')}.so"


def python_tag() -> str:
    return f"{sys.implementation.name[:2]}{sys.version_info[0]}{sys.version_info[1]}"


def numba_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def image_name(package: str, cpu: str, numba_version: str) -> PackagedName:
    """The name ``snap create --package`` gives the image of ``package`` built here."""
    return PackagedName(package, python_tag(), numba_minor(numba_version), "x86-64" if cpu == "generic" else cpu)


def parse(filename: str) -> PackagedName | None:
    """The parts of a packaged image's file name (None: not one)."""
    if not filename.endswith(".so"):
        return None
    parts = filename[:-3].rsplit("-", 3)
    if len(parts) != 4 or not parts[2].startswith("numba"):
        return None
    cpu = parts[3].replace("_", "-")
    if cpu != "host" and cpu not in LEVELS:
        return None
    return PackagedName(parts[0], parts[1], parts[2][len("numba"):], cpu)


def choose(directory: str, package: str, numba_version: str, features: frozenset[str]
           ) -> tuple[str | None, str]:
    """(path of the image to activate, or None; why) among the images in ``directory``."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return None, f"no {PACKAGE_DIR} directory in the package"
    here = (package, python_tag(), numba_minor(numba_version))
    fitting: list[tuple[int, str]] = []
    shipped = []
    for n in names:
        p = parse(n)
        if p is None or p.package != package:
            continue
        shipped.append(n)
        if (p.package, p.python, p.numba) != here:
            continue
        if p.cpu == "host":
            fitting.append((len(_ORDER), n))      # built for one machine: checked exactly later
        elif set(LEVELS[p.cpu][1]) <= features:
            fitting.append((_ORDER.index(LEVELS[p.cpu][0]), n))
    if not fitting:
        why = (f"none of {', '.join(shipped)} is for {here[1]} with numba {here[2]} on this CPU"
               if shipped else f"no image of {package} in its {PACKAGE_DIR} directory")
        return None, why
    best = max(fitting)[1]
    return os.path.join(directory, best), f"{best} fits this interpreter, numba and CPU"


def find_spec(module: str, search: Sequence[str] = ()) -> "ModuleSpec | None":
    """The import spec of ``module`` WITHOUT importing it or its parents (None: not found).

    ``importlib.util.find_spec("a.b")`` imports ``a`` (runs its ``__init__``), and
    neither ``snap create`` (which must not run a library before its workload does)
    nor ``snap check`` (which runs nothing) may do that. Only the top-level name goes
    through the import system: first the directories ``search``, then ``sys.path``
    and the meta path finders (editable installs); submodules are looked for in
    their parent's ``submodule_search_locations``.
    """
    import importlib.machinery
    import importlib.util
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
