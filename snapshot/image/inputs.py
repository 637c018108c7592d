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
* other kinds name what only Numba knows how to find (``RESOLVERS``, filled by the
  Numba seam): ``t|MODULE|QUALNAME``, the options an ``@overload`` or ``@intrinsic``
  of that typing function was declared with (``jit_options``, ``inline``, ...).
"""
from __future__ import annotations

import builtins
import os
import sys
from typing import Any, Callable

GLOBAL, ATTR, OWN, ENV, TEMPLATE = "g", "a", "s", "e", "t"
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


def locate(locator: str, own_globals: dict | None = None) -> Any:
    """The value a locator names in this process, or ``MISSING``. Reads namespaces only
    (a module's ``__dict__``, the builtins); a module attribute that is not in its
    namespace is asked of the module (``__getattr__``), as the compiler did."""
    kind, _, rest = locator.partition("|")
    if kind == ENV:
        return os.environ.get(rest, MISSING)
    if kind in RESOLVERS:
        return RESOLVERS[kind](rest)
    if kind == OWN:
        if own_globals is None:
            return MISSING
        v = own_globals.get(rest, MISSING)
        return v if v is not MISSING else builtins.__dict__.get(rest, MISSING)
    module, _, name = rest.partition("|")
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
    try:
        return getattr(mod, name)
    except Exception:  # noqa: BLE001 - an attribute that does not exist (any more)
        return MISSING


def describe(locator: str) -> str:
    """Readable name of what a locator names: ``global app.TABLE``, ``cfg.params.SCALE``."""
    kind, _, rest = locator.partition("|")
    if kind == ENV:
        return f"environment variable {rest}"
    if kind == TEMPLATE:
        return "the options of @overload/@intrinsic " + rest.replace("|", ".")
    if kind == OWN:
        return f"global {rest}"
    module, _, name = rest.partition("|")
    return f"global {module}.{name}" if kind == GLOBAL else f"{module}.{name}"
