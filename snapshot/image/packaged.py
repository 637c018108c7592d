"""Images a library ships inside its package: where they are and which one fits here.

``snap create --package mylib`` writes ``mylib/_snap/<name>.so``; the library's
``__init__`` calls ``snapshot.activate_package(__name__)``, which picks, by file
name alone (no file is opened for the choice), the image built for this Python,
this Numba minor version and the best CPU level this machine has. The name is
the contract between the two sides:

    mylib-cp311-numba0.68-x86_64_v3.so

(package, CPython tag, Numba major.minor, CPU target: ``host`` or an x86-64
level, ``-`` written ``_``; an image with CPU variants names them all, joined by
``+``: ``mylib-cp311-numba0.68-x86_64_v2+x86_64_v3+x86_64_v4.so``). The chosen
image is then checked like any other (exact versions, CPU features, entries): a
near miss is refused quietly.
"""
from __future__ import annotations

import os
import sys
from typing import Any

from .host import LEVELS
from .variants import parse_targets, rank, usable_features

PACKAGE_DIR = "_snap"           # inside the package: the images it ships
# Set by snap create in its training child: nothing is activated there, so the workload
# compiles (and the recorder sees) everything it uses, libraries' own images included.
TRAINING_ENV = "_SNAP_TRAINING"


class PackagedName:
    """The parts of a packaged image's name. (A plain class: this module is on the import
    path of every library that activates its image, and a NamedTuple costs ~0.3 ms to make.)"""
    __slots__ = ("package", "python", "numba", "cpu")

    def __init__(self, package: str, python: str, numba: str, cpu: str) -> None:
        self.package = package
        self.python = python      # "cp311"
        self.numba = numba        # "0.68"
        self.cpu = cpu            # "host" or x86-64 levels ("x86-64-v3"), "+"-joined for variants

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PackagedName) and self._key() == other._key()

    def __repr__(self) -> str:
        return f"PackagedName{self._key()!r}"

    def _key(self) -> tuple[str, str, str, str]:
        return (self.package, self.python, self.numba, self.cpu)

    @property
    def filename(self) -> str:
        return f"{self.package}-{self.python}-numba{self.numba}-{self.cpu.replace('-', '_')}.so"


def python_tag() -> str:
    return f"{sys.implementation.name[:2]}{sys.version_info[0]}{sys.version_info[1]}"


def numba_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def image_name(package: str, cpu: str, numba_version: str) -> PackagedName:
    """The name ``snap create --package`` gives the image of ``package`` built here
    (``cpu``: the ``--cpu`` text, a comma-separated list or a preset allowed)."""
    targets = ["x86-64" if t == "generic" else t for t in parse_targets(cpu)]
    return PackagedName(package, python_tag(), numba_minor(numba_version), "+".join(targets))


def parse(filename: str) -> PackagedName | None:
    """The parts of a packaged image's file name (None: not one)."""
    if not filename.endswith(".so"):
        return None
    parts = filename[:-3].rsplit("-", 3)
    if len(parts) != 4 or not parts[2].startswith("numba"):
        return None
    cpu = parts[3].replace("_", "-")
    if not all(t == "host" or t in LEVELS for t in cpu.split("+")):
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
        # the best target of the image that this CPU has (its variants: the best that fits)
        ranks = [rank(t) for t in p.cpu.split("+") if t == "host" or set(LEVELS[t][1]) <= features]
        if ranks:       # a host target is built for one machine: checked exactly later
            fitting.append((max(ranks), n))
    if not fitting:
        why = (f"none of {', '.join(shipped)} is for {here[1]} with numba {here[2]} on this CPU"
               if shipped else f"no image of {package} in its {PACKAGE_DIR} directory")
        return None, why
    best = max(fitting)[1]
    return os.path.join(directory, best), f"{best} fits this interpreter, numba and CPU"


def find(package: str, jit: Any = None) -> tuple[str | None, str]:
    """(the image ``package`` ships that fits this process, or None; why not). Cheap: a
    directory listing and the host's features (per-boot cache); no file is opened. In the
    training run of ``snap create`` there is none (it compiles and records everything).
    ``jit``: the CPU ``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES`` chose for the JIT
    (``numba_seam.cpu.jit_target``): the image of that level, if they name one."""
    if os.environ.get(TRAINING_ENV):
        return None, ""
    mod = sys.modules.get(package)
    where = list(getattr(mod, "__path__", None) or ())
    if not where:
        return None, (f"activate_package({package!r}): not an imported package (call it from "
                      "the package's __init__ with __name__)")
    numba = sys.modules.get("numba")
    if numba is None:
        import numba
    from .host import host_facts
    from .variants import jit_level
    features = usable_features(host_facts()[1])[0]
    level = jit_level(jit)               # NUMBA_CPU_NAME / NUMBA_CPU_FEATURES name a level: its image
    if level is not None:
        features &= frozenset(LEVELS[level][1])
    path, why = choose(os.path.join(where[0], PACKAGE_DIR), package, numba.__version__, features)
    return path, (why if path is not None else f"no image of {package} fits here: {why}")
