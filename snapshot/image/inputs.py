"""What a compilation consulted, named so another process can look at it again.

The training run observes every compilation (``numba_seam.observe``) and records,
per entry, its *inputs*: the code it compiled or ran (``manifest.Dep``: module,
qualname, code fingerprint) and the values it read, each under a *locator* that
says where the value lives, with a structural fingerprint of the value
(``fingerprint.value_key``). At every install the runtime locates each value again
and compares (``validity``); ``snap check``, which runs nothing, compares the code.

Locators are plain text (manifest JSON), one of:

* ``g|MODULE|NAME`` -- the global ``NAME`` as the functions of ``MODULE`` see it
  (the module's namespace, then the builtins): what Numba's bytecode translation
  reads for a global (``LOAD_GLOBAL``);
* ``a|MODULE|ATTR`` -- ``getattr(MODULE, ATTR)``: a module attribute resolved while
  typing (``cfg.params.SCALE`` is ``a|cfg|params`` then ``a|cfg.params|SCALE``);
* ``s|NAME`` -- the global ``NAME`` of the entry's own function, when its globals
  are no module's namespace (code made by ``exec`` with a dict of its own);
* ``e|NAME`` -- the environment variable ``NAME``, read by code Numba ran while
  compiling (a typing function's ``os.environ.get``);
* ``f|PATH`` -- a file that code read (``open(PATH)``, as it named it: a relative path is
  the working directory's, as for that code), by the digest of its bytes;
* other kinds name what only Numba knows how to find (``RESOLVERS``, filled by the
  Numba seam): ``t|MODULE|QUALNAME``, the options an ``@overload`` or ``@intrinsic``
  of that typing function was declared with (``jit_options``, ``inline``, ...).
"""
from __future__ import annotations

import builtins
import os
import sys
from typing import Any, Callable

from ..errors import Unfingerprintable
from .fingerprint import value_key

GLOBAL, ATTR, OWN, ENV, TEMPLATE, FILE = "g", "a", "s", "e", "t", "f"
MISSING = object()                 # a value that does not exist (here, or when recorded)
ABSENT = "<absent>"                # the fingerprint recorded for MISSING
CONFLICT = "!conflict"             # one compilation read two values under one locator
# a fingerprint that starts with this could not be taken (the entry is not servable)
UNFINGERPRINTABLE = "?"


def global_of(module: str, name: str) -> str:
    return f"{GLOBAL}|{module}|{name}"


def attr_of(module: str, attr: str) -> str:
    return f"{ATTR}|{module}|{attr}"


def own(name: str) -> str:
    return f"{OWN}|{name}"


# kind -> what finds the value of the rest of a locator of that kind (MISSING if nothing)
RESOLVERS: dict[str, Callable[[str], Any]] = {}


def env(name: str) -> str:
    return f"{ENV}|{name}"


def file(path: str) -> str:
    return f"{FILE}|{path}"


def locate(locator: str, own_globals: dict | None = None) -> Any:
    """The value a locator names in this process, or ``MISSING``. Reads namespaces only
    (a module's ``__dict__``, the builtins); a module attribute that is not in its
    namespace is asked of the module (``__getattr__``), as the compiler did."""
    kind, _, rest = locator.partition("|")
    if kind == ENV:
        return os.environ.get(rest, MISSING)
    if kind == FILE:
        from .fingerprint import file_digest
        digest = file_digest(rest)
        return MISSING if digest is None else digest
    if kind in RESOLVERS:
        return RESOLVERS[kind](rest)
    if kind == OWN:
        if own_globals is None:
            return MISSING
        v = own_globals.get(rest, MISSING)
        return v if v is not MISSING else builtins.__dict__.get(rest, MISSING)
    module, _, name = rest.partition("|")
    if kind == GLOBAL and own_globals is not None and own_globals.get("__name__") == module:
        ns: Any = own_globals      # the entry's own module: as its function sees it (a copy of a
    else:                          # function with other globals, a module loaded from a spec)
        mod = sys.modules.get(module)
        if mod is None:
            return MISSING
        ns = getattr(mod, "__dict__", None)
    if not isinstance(ns, dict):
        return MISSING
    v = ns.get(name, MISSING)
    if v is not MISSING:
        return v
    if kind == GLOBAL:
        return builtins.__dict__.get(name, MISSING)
    mod = sys.modules.get(module)
    try:
        return getattr(mod, name)
    except Exception:  # noqa: BLE001 - an attribute that does not exist (any more)
        return MISSING


def _package_root(locator: str) -> str | None:
    """The directory of the top-level package (or module) of a locator's module."""
    kind, _, rest = locator.partition("|")
    if kind not in (GLOBAL, ATTR):
        return None
    top = sys.modules.get(rest.partition("|")[0].partition(".")[0])
    path = getattr(top, "__file__", None)
    return os.path.dirname(path) + os.sep if isinstance(path, str) else None


def describe(locator: str) -> str:
    """Readable name of what a locator names: ``global app.TABLE``, ``cfg.params.SCALE``."""
    kind, _, rest = locator.partition("|")
    if kind == ENV:
        return f"environment variable {rest}"
    if kind == FILE:
        return f"file {rest}"
    if kind == TEMPLATE:
        return "the options of @overload/@intrinsic " + rest.replace("|", ".")
    if kind == OWN:
        return f"global {rest}"
    module, _, name = rest.partition("|")
    return f"global {module}.{name}" if kind == GLOBAL else f"{module}.{name}"


def fingerprint(v: Any, locator: str | None = None) -> str:
    """The recorded form of a value read (``ABSENT`` for ``MISSING``; a text starting with
    ``UNFINGERPRINTABLE`` and saying why, for a value that cannot be fingerprinted): the same
    function at record and at check. A string naming a path inside the package of the
    locator's module (``os.path.dirname(__file__) + "/data"``) is taken relative to it: the
    package may be installed elsewhere."""
    if v is MISSING:
        return ABSENT
    if type(v) is str and locator is not None:
        if locator.startswith(FILE + "|"):
            return f"file:{v}"              # v: the file's digest (locate)
        if os.sep in v:
            root = _package_root(locator)
            if root and v.startswith(root):
                v = "<package>" + v[len(root):]
    try:
        return value_key(v)
    except Unfingerprintable as e:
        return f"{UNFINGERPRINTABLE}{e}"
    except Exception as e:  # noqa: BLE001 - a value whose walk fails: never served on it
        return f"{UNFINGERPRINTABLE}{type(e).__name__}: {e}"
