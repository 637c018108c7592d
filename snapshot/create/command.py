"""``snap create``: run the workload in a child process and write the image atomically.

The child (`snapshot.create.trace`) does the work; this side validates inputs, shows
progress, and commits the result: the image is written to a temporary file in
the output's directory, verified, then renamed over the output. A failed,
raising or interrupted workload or build leaves no file at the output path.
"""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

from ..errors import SnapError
from ..image.packaged import TRAINING_ENV
from .lifeline import PARENT_ENV, UNBLOCK_ENV, committed, kill_group, signals_held, stall_point


@dataclass
class CreateReport:
    output: str
    entries: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    failed: int = 0                      # compilations the training run saw fail (not stored)
    internal: int = 0
    size: int = 0
    seconds: float = 0.0
    workload_seconds: float = 0.0
    timings: dict = field(default_factory=dict)
    miss_problems: list[str] = field(default_factory=list)   # --add-misses lines not compiled
    variants: list[str] = field(default_factory=list)        # CPU variants (lowest first), if several
    notes: list[str] = field(default_factory=list)           # how the build went, worth saying


def _check_inputs(workloads: list[str], output: str) -> None:
    for w in workloads:
        if not os.path.exists(w):
            raise SnapError(f"workload {w!r} does not exist")
        if not os.path.isfile(w):
            raise SnapError(f"workload {w!r} is not a file")
    if os.path.isdir(output):
        raise SnapError(f"output {output!r} is a directory; give a file name such as {os.path.join(output, 'image.so')!r}")
    parent = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(parent):
        try:
            os.makedirs(parent, exist_ok=True)     # e.g. output = "build/app.so" in [tool.snap]
        except OSError as e:
            raise SnapError(f"cannot write {output!r}: cannot create directory {parent!r}: "
                            f"{e.strerror}") from None
    if not os.access(parent, os.W_OK):
        raise SnapError(f"cannot write {output!r}: directory {parent!r} is not writable")


def _module_name(output: str) -> str | None:
    """The module name Python would import ``output`` as (an extension module), or None."""
    import importlib.machinery
    base = os.path.basename(output)
    for suffix in sorted(importlib.machinery.EXTENSION_SUFFIXES, key=len, reverse=True):
        if base.endswith(suffix) and base[:-len(suffix)].isidentifier():
            return base[:-len(suffix)]
    return None


def _shadow_error(output: str, name: str, module_file: str) -> SnapError:
    stem, ext = os.path.splitext(os.path.basename(output))
    better = os.path.join(os.path.dirname(output), f"{stem}-image{ext}")
    e = SnapError(f"output {output!r} would shadow the module {name} ({module_file}): `import {name}` "
                  f"would load the image instead; name the image differently, e.g. --output {better}, "
                  "or write it to another directory")
    e.exit_code = 2
    return e


def _check_shadowing(output: str, modules: dict, search_path: list) -> None:
    """After the workload: refuse an image that would hide a module it imported."""
    name = _module_name(output)
    if name is None or name not in modules:
        return
    out_dir = os.path.dirname(os.path.abspath(output))
    if os.path.dirname(os.path.abspath(modules[name])) == out_dir or out_dir in search_path:
        raise _shadow_error(output, name, modules[name])


def _check_shadowing_before(output: str, workloads: list[str]) -> None:
    """Before the workload: refuse an image in a directory on the training run's path (a
    workload's own, or one on this Python's path) that would hide a module the run is sure
    to import, rather than after a long training run (``_check_shadowing``)."""
    name = _module_name(output)
    if name is None:
        return
    import importlib.machinery
    out_abs = os.path.abspath(output)
    out_dir = os.path.dirname(out_abs)
    search = [os.path.dirname(os.path.abspath(w)) for w in workloads] + [p or "." for p in sys.path[1:]]
    if out_dir not in {os.path.abspath(p) for p in search}:
        return

    def found(path: list[str]) -> str | None:
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None:
            return None
        origin = spec.origin if spec.has_location else None
        origin = origin or next(iter(spec.submodule_search_locations or []), None)
        # (the previous build of this very image is no module to hide)
        return origin if origin and os.path.abspath(origin) != out_abs else None

    # a module the training run is sure to import (numba, numpy, a workload's own imports),
    # next to the image or elsewhere on the path; the rest is found after the run, among the
    # modules it imported (a workload itself runs as __main__: `-o w.so` beside w.py is fine)
    if name in {"numba", "numpy", "llvmlite"} | _imported_names(workloads):
        origin = found([out_dir, *search])
        if origin is not None:
            raise _shadow_error(output, name, origin)


def _imported_names(workloads: list[str]) -> set[str]:
    """Top-level names the workloads import themselves (read, not run; unreadable: none)."""
    import ast
    names: set[str] = set()
    for w in workloads:
        try:
            with open(w, "rb") as f:
                tree = ast.parse(f.read())
        except (OSError, SyntaxError, ValueError, RecursionError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return names


def package_output(package: str, workloads: list[str], cpu: str) -> str:
    """Where ``snap create --package`` writes by default: ``<package dir>/_snap/<name>.so``,
    the file ``snapshot.activate_package`` picks for this Python, Numba and CPU.

    The package is found as the training child will import it (the workloads'
    directories, then sys.path), without importing it: nothing of the library runs
    in this process.
    """
    from importlib.metadata import PackageNotFoundError, version

    from ..image.locate import package_directory
    from ..image.packaged import PACKAGE_DIR, image_name
    search = list(dict.fromkeys(os.path.dirname(os.path.abspath(w)) for w in workloads))
    try:
        directory = package_directory(package, search)
    except ValueError as e:
        raise SnapError(f"{e}; give --output FILE") from None
    try:
        numba_version = version("numba")
    except PackageNotFoundError:
        raise SnapError("numba is not installed in this Python") from None
    return os.path.join(directory, PACKAGE_DIR, image_name(package, cpu, numba_version).filename)


def _check_base(base: str) -> None:
    """A ``--base`` image must be a snap image this process could run (checked again in the
    training child, which activates it)."""
    if not os.path.isfile(base):
        raise SnapError(f"--base {base!r} does not exist (build it with `snap create --output {base}`)")
    import linker

    from ..image.manifest import MANIFEST_SECTION, ManifestIndex
    try:
        with linker.ImageFile.open(base, headers=False) as image:
            ManifestIndex.from_bytes(image.section(MANIFEST_SECTION))
    except (linker.LinkError, KeyError, SnapError, OSError) as e:
        raise SnapError(f"--base {base!r} is not a usable snap image ({e})") from None


def _check_package(package: str) -> None:
    if not all(part.isidentifier() for part in package.split(".")):
        raise SnapError(f"--package {package!r} is not a module name (such as mylib or mylib.sub)")


# what the training child keeps of snap's settings: SNAP_CPU (the machine taken as a lower
# CPU level: the training run compiles for a level it has, the rest is generated) and the
# switch of the variants' helper process
_PASSED_ON = ("SNAP_CPU", "SNAP_VARIANT_HELPER", "SNAP_CACHE_DIR")


def create(workloads: list[str], output: str | None, args: list[str] | None = None, *, cpu: str = "host",
           add_misses: list[str] = (), package: str | None = None, bases: list[str] = (),
           on_stage: Callable[[str, str], None] = lambda name, detail: None,
           on_output: Callable[[int, str], None] | None = None) -> CreateReport:
    """Build an image from workloads; raise SnapError (with nothing written) on any failure.

    With ``package`` the image is that library's (only its functions' entries) and
    ``output`` defaults to the file in the package that ``snapshot.activate_package``
    finds (``package_output``). With ``on_output`` the workload's stdout (1) and stderr (2)
    are given to it line by line (for a live progress line), else inherited.
    """
    if package is not None:
        _check_package(package)
    if not workloads:
        raise SnapError("no workload given (use --workload FILE)")
    expected_dir = None
    if output is None:
        if package is None:
            raise SnapError("no output given (use --output FILE, or --package PKG to write into the package)")
        output = package_output(package, workloads, cpu)
        expected_dir = os.path.dirname(os.path.dirname(output))
    _check_inputs(workloads, output)
    for report in add_misses:
        if not os.path.exists(report):
            raise SnapError(f"miss report {report!r} does not exist")
        if not os.path.isfile(report):     # a FIFO would block the build, a device never end
            raise SnapError(f"miss report {report!r} is not a regular file")
    if add_misses:
        # a report none of whose lines is a miss is refused now, not after the training run
        # (reading one runs and imports nothing; the trace process reads it again to fold it)
        from .misses import FoldResult, read_report
        for report in add_misses:
            for _ in read_report(report, FoldResult()):
                pass
    _check_shadowing_before(output, workloads)
    for base in bases:
        _check_base(base)
    if cpu != "host":
        from .cpu import resolve_all
        resolve_all(cpu)   # an unknown name fails here, before the workload runs
    t0 = time.perf_counter()
    out_abs = os.path.abspath(output)
    tmp = os.path.join(os.path.dirname(out_abs), f".{os.path.basename(out_abs)}.{os.getpid()}.tmp")
    _remove_stale(out_abs)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAP_") or k in _PASSED_ON}
    # Reproducible images: code that calls a `with objmode` block embeds a pickle
    # of the block's IR, and pickled sets follow the (salted) string hash order.
    env.setdefault("PYTHONHASHSEED", "0")
    # Images activated while the workload runs (a library's own, by activate_package) stay
    # inactive in the child: everything is compiled and recorded, the image is self-contained.
    env[TRAINING_ENV] = "1"
    env[PARENT_ENV] = str(os.getpid())      # the child dies with this process (lifeline.py)
    report = CreateReport(output=output)
    error: str | None = None
    modules: dict = {}
    search_path: list = []
    imported_dir: str | None = None
    proc = None
    out_fd, named, linked, rfd, wfd = -1, None, None, -1, -1
    try:
        # fail before the (possibly long) workload runs, not after
        out_fd, named = _open_output(out_abs, tmp, output)
        rfd, wfd = os.pipe()
        cmd = [sys.executable, "-m", "snapshot.create.trace", "--out-fd", str(out_fd), "--cpu", cpu,
               "--events-fd", str(wfd)]
        if package is not None:
            cmd += ["--package", package]
        for w in workloads:
            cmd += ["--workload", w]
        for report_file in add_misses:
            cmd += ["--add-misses", os.path.abspath(report_file)]
        for base in bases:
            cmd += ["--base", os.path.abspath(base)]
        cmd += ["--", *(args or [])]
        # The ending signals held back until `proc` is set: one landing inside Popen (after
        # the fork) would otherwise leave the child running the workload, unkilled. The child
        # inherits the mask and unblocks what was not blocked here already, first thing. It
        # runs in a session of its own: the command kills it and what it started as a group.
        with signals_held() as unblock:
            if unblock:
                env[UNBLOCK_ENV] = ",".join(str(int(s)) for s in sorted(unblock))
            piped = subprocess.PIPE if on_output is not None else None
            if on_output is not None:
                env.setdefault("PYTHONUNBUFFERED", "1")     # its lines as they are written
            proc = subprocess.Popen(cmd, pass_fds=(wfd, out_fd), env=env, stdin=subprocess.DEVNULL,
                                    stdout=piped, stderr=piped, start_new_session=True)
        relays = _relay(proc, on_output) if on_output is not None else []
        os.close(wfd)
        wfd = -1
        import linker  # noqa: F401 - _verify's imports (numpy...) load while the child works
        with os.fdopen(rfd, "r") as events:
            rfd = -1
            for line in events:
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if ev.get("event") == "stage":
                    on_stage(ev.get("name", ""), ev.get("detail", ""))
                elif ev.get("event") == "compiled":
                    on_stage("compiled", str(ev.get("count", 0)))
                elif ev.get("event") == "error":
                    error = ev.get("message")
                elif ev.get("event") == "summary":
                    report.entries = ev["entries"]
                    report.skipped = ev["skipped"]
                    report.failed = ev.get("failed", 0)
                    report.internal = ev["internal"]
                    report.size = ev["size"]
                    report.workload_seconds = ev["workload_time"]
                    report.timings = ev["timings"]
                    report.miss_problems = ev.get("miss_problems", [])
                    report.variants = ev.get("variants", [])
                    report.notes = ev.get("notes", [])
                    modules, search_path = ev.get("modules", {}), ev.get("search_path", [])
                    imported_dir = ev.get("package_dir")
        rc = proc.wait()
        for t in relays:       # (a process the workload left running may hold the pipes)
            t.join(timeout=2)
        if rc != 0:
            if rc < 0:
                error = error or f"the build process was killed by signal {signal.Signals(-rc).name}"
            raise SnapError(error or f"the build process failed with exit status {rc}")
        _check_shadowing(output, modules, search_path)
        if expected_dir is not None and imported_dir is not None \
                and os.path.realpath(imported_dir) != os.path.realpath(expected_dir):
            raise SnapError(f"the workload imported {package} from {imported_dir}, not from {expected_dir} "
                            "where snap create found it; give --output FILE")
        stall_point("verify")
        _verify(named or f"/proc/self/fd/{out_fd}")
        with signals_held():       # named and renamed in one step, as far as a signal can tell
            if named is None:
                # the image has had no name so far: a build killed at any point before left
                # nothing in the directory
                _link(out_fd, tmp)
            linked = tmp
            os.replace(tmp, out_abs)
            linked = None
            committed()
    except BaseException:
        if proc is not None:
            kill_group(proc)
        raise
    finally:
        for fd in (rfd, wfd, out_fd):
            if fd >= 0:
                os.close(fd)
        for leftover in (named, linked):
            if leftover is not None and os.path.lexists(leftover):
                os.unlink(leftover)
    report.seconds = time.perf_counter() - t0
    return report


def _relay(proc: subprocess.Popen, on_output: Callable[[int, str], None]) -> list:
    """Threads giving each line of the child's stdout and stderr to ``on_output``."""
    import threading

    def pump(stream, fd: int) -> None:
        with stream:
            for raw in iter(stream.readline, b""):
                try:
                    on_output(fd, raw.decode("utf-8", "replace"))
                except Exception:  # noqa: BLE001 - a terminal gone: the build goes on
                    pass
    threads = [threading.Thread(target=pump, args=(stream, fd), daemon=True, name=f"snap-relay-{fd}")
               for stream, fd in ((proc.stdout, 1), (proc.stderr, 2))]
    for t in threads:
        t.start()
    return threads


def _open_output(out_abs: str, tmp: str, output: str) -> tuple[int, str | None]:
    """(descriptor the image is written through, its file's name: None while it has none).

    The file is made without a name in the output's directory (``O_TMPFILE``) and linked
    in only once complete and verified: a build ended any way at all, even by SIGKILL,
    leaves nothing beside the output. Where the file system cannot (or there is no /proc
    to link it through), a named temporary file, removed on failure (and by the next
    build, if its creator was killed outright: ``_remove_stale``)."""
    directory = os.path.dirname(out_abs)
    if hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd"):
        try:
            return os.open(directory, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o644), None
        except OSError as e:
            if e.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
                raise SnapError(f"cannot write {output!r}: {e.strerror}") from None
    try:
        return os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644), tmp
    except OSError as e:
        raise SnapError(f"cannot write {output!r}: {e.strerror}") from None


def _link(fd: int, path: str) -> None:
    """Give the unnamed file open as ``fd`` the name ``path`` (linkat(2) with
    AT_SYMLINK_FOLLOW through /proc: os.link takes that path only with a directory fd)."""
    d = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.link(f"/proc/self/fd/{fd}", os.path.basename(path), dst_dir_fd=d, follow_symlinks=True)
    finally:
        os.close(d)


def _remove_stale(out_abs: str) -> None:
    """Named temporary files of earlier builds of ``out_abs`` whose process is gone."""
    directory, base = os.path.split(out_abs)
    prefix = f".{base}."
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        pid = name[len(prefix):-len(".tmp")] if name.startswith(prefix) and name.endswith(".tmp") else ""
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue                # alive (another build of the same output)
        except ProcessLookupError:
            pass
        except OSError:
            continue
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass


def _verify(path: str) -> None:
    """The image about to be published parses and passes its checksum."""
    import linker
    from ..errors import ManifestError
    from ..image.manifest import MANIFEST_SECTION, Manifest
    try:
        img = linker.ImageFile.open(path)
        Manifest.from_bytes(img.section(MANIFEST_SECTION))
        img.close()
    except (linker.LinkError, ManifestError, KeyError, OSError) as e:
        raise SnapError(f"the built image failed verification: {e}") from None
