"""Ray tasks and actors started from an image.

    import ray, snapshot.ray
    ray.init(runtime_env=snapshot.ray.runtime_env("my.so"))
    # or per task/actor: f.options(runtime_env=snapshot.ray.runtime_env("my.so"))

Ray starts worker processes itself; the driver's ``os.environ`` after
``ray.init`` never reaches them, but a runtime_env's ``env_vars`` are set before
the worker's interpreter starts, which is when snap's start-up hook reads
``SNAP_SYSIMAGE``. So the runtime_env returned here serves every task and actor
that uses it (Ray starts separate workers per runtime_env).

With ``ship=True`` (the default) the image travels in the runtime_env's
``py_modules``: snap stages it in a directory named after its SHA-256
(``snap_image_<sha256[:16]>/``, under snap's cache directory), Ray uploads it once
(content-addressed) and unpacks it on each node onto the workers' ``sys.path``;
``SNAP_SYSIMAGE`` is then the relative path ``snap_image_<...>/<name>``, which the
start-up hook looks up along ``sys.path``. The image checksum is verified at
activation, as always. ``ship=False``: ``SNAP_SYSIMAGE`` is the absolute path
(every node must have the file there, e.g. a shared file system).

``strict`` and ``report`` are SNAP_STRICT/SNAP_REPORT in the workers; a report
path is on each node's machine and all workers of a node append to it (one JSON
line per miss, with its pid).
"""
from __future__ import annotations

import os
from typing import Any

from .runtime import ship as _ship

__all__ = ["runtime_env"]


def _stage_root() -> str:
    from .image.host import cache_dir
    root = cache_dir()
    if root is None:                          # SNAP_CACHE_DIR=0: no cache, a temp dir
        import tempfile
        root = os.path.join(tempfile.gettempdir(), f"snap-{os.getuid()}")
    return os.path.join(root, "ray")


def stage(image: str) -> tuple[str, str]:
    """(directory for ``py_modules``, SNAP_SYSIMAGE relative to its parent)."""
    blob = _ship.pack(image)
    pkg = f"snap_image_{blob.digest[:16]}"
    directory = os.path.join(_stage_root(), pkg)
    # the package directory must hold nothing else: Ray uploads all of it
    dest = os.path.join(directory, blob.name)
    if not _ship.matches(dest, blob.digest):
        _ship.store(blob, directory)          # atomic, checked
        os.replace(os.path.join(directory, _ship.file_name(blob)), dest)
    init = os.path.join(directory, "__init__.py")
    if not os.path.exists(init):
        with open(init, "w") as f:
            f.write('"""A snap image shipped to Ray workers (snapshot.ray)."""\n')
    return directory, f"{pkg}/{blob.name}"


def runtime_env(image: str, strict: bool = False, *, report: str | None = None,
                ship: bool = True, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Ray runtime_env (a dict) whose workers start from ``image``; merged into
    ``base`` (another runtime_env dict) when given."""
    env: dict[str, Any] = dict(base or {})
    env_vars = dict(env.get("env_vars") or {})
    if ship:
        directory, rel = stage(image)
        env["py_modules"] = [*(env.get("py_modules") or []), directory]
        env_vars["SNAP_SYSIMAGE"] = rel
    else:
        path = os.path.abspath(image)
        _ship.check_image(path)
        env_vars["SNAP_SYSIMAGE"] = path
    env_vars["SNAP_STRICT"] = "1" if strict else "0"
    if report:
        env_vars["SNAP_REPORT"] = os.path.abspath(report)
    env["env_vars"] = env_vars
    return env
