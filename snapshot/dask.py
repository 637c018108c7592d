"""Dask workers started from an image.

Three ways, for workers started anywhere (``LocalCluster``, ``dask worker``, a
cluster manager):

``client.register_plugin(SnapNannyPlugin("my.so"))``
    For workers with a nanny (the default of ``dask worker`` and of
    ``LocalCluster(processes=True)``). Each nanny stores the image locally, puts
    ``SNAP_SYSIMAGE`` (and ``SNAP_STRICT``/``SNAP_REPORT``) in the environment its
    worker processes are spawned with, and restarts its worker: the new worker
    process starts from the image exactly as if the variable had been exported
    before the cluster started (processes that tasks start inherit it). Nannies
    that join later get the plugin before their worker first starts (no restart).

``client.register_plugin(SnapWorkerPlugin("my.so"))``
    For any worker, nanny or not, without a restart: the image is activated inside
    the running worker process. Every dispatcher that has not compiled yet is
    served; one that already compiled in that worker (tasks ran before) keeps its
    JIT code and is reported as kind "late" with one warning.

``dask worker SCHEDULER --preload snapshot.dask --snap-image PATH [--snap-strict] [--snap-report FILE]``
    The worker activates the image when it starts, before any task. Add
    ``--preload-nanny snapshot.dask`` too and the nanny spawns the worker process
    with ``SNAP_SYSIMAGE`` set (the nanny reads ``--snap-image`` from the worker's
    preload arguments: Dask passes command-line arguments to worker preloads only).

The plugins carry the image's bytes (``ship=True``, the default): a nanny or worker
whose machine has the client's path with the same content (SHA-256) uses it;
others verify the bytes (SHA-256, then the image checksum) and store them
atomically as ``snap-images/<sha256>-<name>`` in the parent of the worker's local
directory (Dask's scratch space, which outlives worker restarts), so restarted
workers reuse the file. ``ship=False`` sends the path alone (a shared file system).

Miss reports: ``report`` is a path on each worker's machine; ``{worker}`` in it is
replaced by the worker's (or, for SnapNannyPlugin, the nanny's) address, made
file-name safe, so each worker writes its own JSON-lines file; without the
placeholder, workers of one machine append to one file (each line has its pid).
Strict mode makes a miss in a task an error that the task raises (the client sees
``SnapStrictError``).
"""
from __future__ import annotations

import os
import re

import click
from distributed.diagnostics.plugin import NannyPlugin, WorkerPlugin

from .runtime import ship as _ship
from . import startup as _startup
from .errors import SnapError

__all__ = ["SnapNannyPlugin", "SnapWorkerPlugin", "register", "dask_setup"]

IMAGE_DIR = "snap-images"


def _scratch(local_directory: str) -> str:
    """Where a worker or nanny keeps shipped images: beside the per-worker directories
    in Dask's scratch space (a worker's own directory is deleted when it closes)."""
    return os.path.join(os.path.dirname(os.path.abspath(local_directory)), IMAGE_DIR)


def _report_for(report: str | None, address: str | None) -> str | None:
    if not report:
        return None
    if "{worker}" in report:
        report = report.replace("{worker}", re.sub(r"[^A-Za-z0-9.-]+", "_", address or str(os.getpid())))
    return os.path.abspath(report)


class _Image:
    """What both plugins carry: the image (its path on the client, digest, maybe bytes)."""

    def __init__(self, image: str, *, strict: bool = False, report: str | None = None,
                 ship: bool = True) -> None:
        self.image = os.path.abspath(os.fspath(image))
        self.blob = _ship.pack(self.image, data=ship)
        self.strict = bool(strict)
        self.report = report
        # one plugin per image: registering the same image again replaces it
        self.name = f"snap-image-{self.blob.digest[:16]}"

    def local_image(self, local_directory: str) -> str:
        if self.blob.data is None and not _ship.matches(self.image, self.blob.digest):
            raise SnapError(f"snap: the image {self.image} is not on this machine (or differs) and "
                            "was not shipped (ship=False)")
        return _ship.local_path(self.blob, self.image, _scratch(local_directory))


class SnapNannyPlugin(_Image, NannyPlugin):
    """Restart each worker with the image set in its environment from interpreter start."""

    restart = True
    idempotent = False

    def setup(self, nanny) -> None:
        path = self.local_image(nanny.local_directory)
        env = {"SNAP_SYSIMAGE": path, "SNAP_STRICT": "1" if self.strict else "0"}
        report = _report_for(self.report, nanny.address)
        if report:
            env["SNAP_REPORT"] = report
        _startup.expect(path)     # the nanny's own environment gets it too: not "late"
        nanny.pre_spawn_env.update(env)     # applied to os.environ before the spawn
        nanny.env.update(env)
        self._env = env

    def teardown(self, nanny) -> None:
        for k in getattr(self, "_env", {}):
            nanny.pre_spawn_env.pop(k, None)
            nanny.env.pop(k, None)
            os.environ.pop(k, None)


class SnapWorkerPlugin(_Image, WorkerPlugin):
    """Activate the image inside each running worker process (no restart)."""

    idempotent = False

    def setup(self, worker) -> None:
        path = self.local_image(worker.local_directory)
        activate_in_process(path, strict=self.strict,
                            report=_report_for(self.report, worker.address))


def activate_in_process(path: str, *, strict: bool = False, report: str | None = None):
    """Activate ``path`` here (a late activation if this process has run jitted code) and
    export it for child processes; an image already active from the same bytes is kept."""
    import numba  # noqa: F401,I001  (first: the start-up hook, if SNAP_SYSIMAGE was set at start, activates now)

    from . import runtime
    for rt in runtime.active():       # the same bytes under another name: nothing to add
        if os.path.realpath(rt.path) == os.path.realpath(path) or \
                _ship.digest_file(rt.path) == _ship.digest_file(path):
            return rt
    _startup.export(path, strict=strict, report=report)
    return runtime.activate(path, strict=strict, report=report)


def register(client, image: str, *, strict: bool = False, report: str | None = None,
             ship: bool = True, restart: bool | None = None):
    """Serve every worker of ``client``'s cluster from ``image``: SnapNannyPlugin when all
    workers have a nanny (or ``restart=True``), else SnapWorkerPlugin. Returns the plugin."""
    if restart is None:
        workers = client.scheduler_info(n_workers=-1)["workers"].values()
        restart = bool(workers) and all(w.get("nanny") for w in workers)
    cls = SnapNannyPlugin if restart else SnapWorkerPlugin
    plugin = cls(image, strict=strict, report=report, ship=ship)
    client.register_plugin(plugin)
    return plugin


# ---------------------------------------------------------------- preload
def _argv_image(argv) -> tuple[str | None, bool, str | None]:
    """--snap-image/--snap-strict/--snap-report from a worker's preload arguments."""
    image, strict, report = None, False, None
    argv = list(argv or [])
    for i, a in enumerate(argv):
        for opt in ("--snap-image", "--snap-report"):
            value = None
            if a == opt and i + 1 < len(argv):
                value = argv[i + 1]
            elif a.startswith(opt + "="):
                value = a.split("=", 1)[1]
            if value is not None:
                if opt == "--snap-image":
                    image = value
                else:
                    report = value
        if a == "--snap-strict":
            strict = True
    return image, strict, report


@click.command(context_settings={"ignore_unknown_options": False})
@click.option("--snap-image", type=str, default=None, help="snap image the worker starts from")
@click.option("--snap-strict", is_flag=True, default=False, help="a miss is an error (SNAP_STRICT=1)")
@click.option("--snap-report", type=str, default=None,
              help="miss report (JSON lines) on the worker's machine; {worker} = worker address")
def dask_setup(server, snap_image, snap_strict, snap_report):
    """``dask worker --preload snapshot.dask --snap-image PATH`` (and ``--preload-nanny``)."""
    from distributed import Nanny
    if isinstance(server, Nanny):
        if snap_image is None:      # Dask gives nanny preloads no command-line arguments
            snap_image, snap_strict, snap_report = _argv_image(server.preload_argv)
        if snap_image is None:
            raise click.UsageError("snapshot.dask: --snap-image PATH is required")
        path = os.path.abspath(snap_image)
        _ship.check_image(path)
        env = {"SNAP_SYSIMAGE": path, "SNAP_STRICT": "1" if snap_strict else "0"}
        report = _report_for(snap_report, server.address)
        if report:
            env["SNAP_REPORT"] = report
        _startup.expect(path)
        server.pre_spawn_env.update(env)
        server.env.update(env)
        return
    if snap_image is None:
        raise click.UsageError("snapshot.dask: --snap-image PATH is required")
    activate_in_process(os.path.abspath(snap_image), strict=snap_strict,
                        report=_report_for(snap_report, server.address))
