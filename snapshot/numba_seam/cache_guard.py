"""Keep Numba's on-disk cache (``cache=True``) loadable by every later process.

Image process: new JIT code that calls image code links an ``ImageLibrary``,
whose forwarders call prefixed image symbols at addresses registered with
``ll.add_symbol`` in *this* process. Numba would write that object code to its
cache, and any later process loading it (with or without the image) jumps to
an unresolved symbol and crashes. So whatever links image code, directly or
through the libraries it links, is not saved; code that does not may still be
cached.

Training run (``snap create``): the user's caches must be left exactly as they
were, so nothing is loaded, saved, or even created (no cache directories).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from . import UNRESOLVED_PREFIX, Patches


def _library_of(data: Any) -> Any:
    """The code library behind what Numba saves: a compile result's, or the library itself."""
    return getattr(data, "library", data)


def links_image_code(library: Any, image_functions: "dict[str, int] | Iterable[str]" = ()) -> bool:
    """True when ``library`` or anything it links (transitively) is image code.

    Also true when its code keeps a recursion placeholder for a function the
    image serves: a later process would resolve it to nothing.
    """
    from .standins import ImageLibrary
    seen: set[int] = set()
    todo = [library]
    while todo:
        lib = todo.pop()
        if lib is None or id(lib) in seen:
            continue
        seen.add(id(lib))
        if isinstance(lib, ImageLibrary):
            return True
        todo.extend(getattr(lib, "_linking_libraries", ()))
    return bool(image_functions) and _recurses_into(library, image_functions)


def _recurses_into(library: Any, image_functions: "dict[str, int] | Iterable[str]") -> bool:
    """A ``.numba.unresolved$X`` placeholder whose X is served by the image."""
    module = getattr(library, "_final_module", None)
    if module is None:
        return False
    for gv in module.global_variables:
        if gv.name.startswith(UNRESOLVED_PREFIX) and gv.name[len(UNRESOLVED_PREFIX):] in image_functions:
            return True
    return False


def guard_saves(patches: Patches, image_functions: "dict[str, int]") -> None:
    """Image process: do not let Numba cache code that links image code (see module doc)."""
    from numba.core import caching

    def save_overload(orig: Callable, self, sig, data):
        if links_image_code(_library_of(data), image_functions):
            return None
        return orig(self, sig, data)

    patches.wrap(caching.Cache, "save_overload", save_overload)


def leave_caches_alone(patches: Patches) -> None:
    """Training run: no cache loads, saves or directory creation (see module doc).

    Loading is disabled because cache-loaded libraries carry no callee graph;
    saving and creating directories because the training run must not change
    what the user's later processes find.
    """
    from numba.core import caching

    patches.wrap(caching.Cache, "load_overload", lambda orig, self, sig, ctx: None)
    patches.wrap(caching.Cache, "save_overload", lambda orig, self, sig, data: None)
    # Locators create the cache directory (and probe it with a temporary file)
    # when a cache=True function is decorated.
    patches.wrap(caching._CacheLocator, "ensure_cache_path", lambda orig, self: None)
