"""Trace: the child process of ``snap create``.

Runs the workload as ``__main__`` with the recorder installed in Numba, then
builds the image from the live compile results (they hold the optimized LLVM
modules; nothing is re-typed or re-optimized) and writes it to the path the
parent gave. Progress and the final summary go to the parent as JSON lines on a
dedicated file descriptor, so the workload's own stdout/stderr pass through.

Exit codes: 0 ok, 2 workload failed, 3 build failed.
"""
from __future__ import annotations

import argparse
import atexit
import json
import os
import sys
import threading
import time
import traceback
from typing import NoReturn

from ..image import kinds as K
from ..program import exec_script, print_user_traceback
from .lifeline import guard_group, stall_point, training_child_start


class Events:
    def __init__(self, fd: int | None) -> None:
        self._f = os.fdopen(fd, "w", buffering=1) if fd is not None else None
        self._lock = threading.Lock()

    def send(self, event: str, **data) -> None:
        if self._f is not None:
            line = json.dumps({"event": event, **data}) + "\n"
            with self._lock:
                self._f.write(line)


class CompileCounter(threading.Thread):
    """While the workloads run: how many specializations are compiled so far, sent when it changes."""

    def __init__(self, events: Events, records: list) -> None:
        super().__init__(name="snap-progress", daemon=True)
        self._events, self._records, self._done = events, records, threading.Event()

    def run(self) -> None:
        last = 0
        while not self._done.wait(0.25):
            n = len(self._records)
            if n != last:
                self._events.send("compiled", count=n)
                last = n

    def stop(self) -> None:
        self._done.set()
        self.join()
        self._events.send("compiled", count=len(self._records))


def run_workload(path: str, argv: list[str], mains: list, search_path: list | None = None) -> int | str | None:
    """Run a workload like ``python path argv...``; return its exit status (None = finished).

    Its ``__main__`` module is kept in ``mains``: misses of ``__main__`` functions
    are resolved there.
    """
    try:
        exec_script(path, argv)
    except SystemExit as e:
        return e.code
    finally:
        mains.append(sys.modules["__main__"])
        if search_path is not None:
            search_path.extend(os.path.abspath(p or ".") for p in sys.path if isinstance(p, str))
    return None


_mains: list = []     # the workloads' __main__ modules


def _top_level_modules() -> dict[str, str]:
    """Top-level modules imported, with the file each came from."""
    out = {}
    for name, mod in list(sys.modules.items()):
        f = getattr(mod, "__file__", None)
        if "." not in name and name != "__main__" and isinstance(f, str):
            out[name] = f
    return out


def _package_dir(package: str | None) -> str | None:
    """The directory the workloads imported ``package`` from (None: not imported, or no package)."""
    mod = sys.modules.get(package) if package else None
    f = getattr(mod, "__file__", None)
    return os.path.dirname(os.path.abspath(f)) if isinstance(f, str) else None


def exit_now(status: int) -> NoReturn:
    """End the trace child without the interpreter's teardown.

    With Numba and every library the workload compiled loaded, tearing down costs
    0.3-0.4 s of a build and does nothing for it. What a workload may rely on at
    exit still happens, in the interpreter's order: non-daemon threads are joined,
    atexit handlers run, the workloads' namespaces are cleared (files they left
    open are flushed and closed) and the standard streams are flushed.
    """
    for t in threading.enumerate():
        if t is not threading.main_thread() and not t.daemon:
            t.join()
    atexit._run_exitfuncs()
    for m in _mains:
        m.__dict__.clear()
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except (OSError, ValueError, AttributeError):
            pass
    os._exit(status)


def main(argv: list[str] | None = None) -> int:
    training_child_start()
    ap = argparse.ArgumentParser(prog="python -m snapshot.create.trace")
    ap.add_argument("--workload", action="append", required=True)
    ap.add_argument("--out-fd", type=int, required=True)      # the image file (unnamed until committed)
    ap.add_argument("--cpu", default="host")
    ap.add_argument("--events-fd", type=int)
    ap.add_argument("--add-misses", action="append", default=[])
    ap.add_argument("--package")
    ap.add_argument("--base", action="append", default=[])
    ap.add_argument("args", nargs="*")
    ns = ap.parse_args(argv)
    for fd in (ns.out_fd, ns.events_fd):
        if fd is not None:
            os.set_inheritable(fd, False)       # not for programs the workload runs
    # before anything else starts: whatever the workload leaves, or this process leaves when
    # killed, ends with it (lifeline.py)
    guard_group(close=tuple(fd for fd in (ns.out_fd, ns.events_fd) if fd is not None))
    events = Events(ns.events_fd)

    from . import cpu
    from ..errors import BuildError, SnapError
    try:
        targets = cpu.resolve_all(ns.cpu)
    except SnapError as e:
        events.send("error", stage="build", message=str(e))
        return 3
    from ..image.host import host_cpu_features
    from ..image.variants import usable_features
    trained = cpu.training_target(targets, usable_features(host_cpu_features())[0])
    cpu.configure_numba(trained)
    others = [t for t in targets if t != trained]
    from ..numba_seam import Patches, replay
    inputs = Patches()
    if others:
        # the other variants are generated from the IR every code library receives
        # (recorded from the start: the bases' activation may compile Numba's runtime)
        replay.record_inputs(inputs)
    if ns.base:
        # the bases serve the training run (what they serve is not recorded, and code that
        # calls it imports it); anything that would make one unusable stops the build
        import warnings

        from ..runtime import activation
        for base in ns.base:
            with warnings.catch_warnings(record=True) as said:
                warnings.simplefilter("always")
                rt = activation.activate(base, training_base=True)
            if rt is None:
                why = "; ".join(str(w.message) for w in said) or "it cannot be activated here"
                events.send("error", stage="build", message=f"--base {base}: {why}")
                return 3
    from ..numba_seam.kinds import specializations
    from ..numba_seam.record import Recorder
    recorder = Recorder()
    recorder.install()
    builder = None
    if others:
        from .variants import VariantBuilder

        def in_helper() -> None:
            # it compiles nothing of the workload's, and must not hold snap create's event
            # pipe open (the command reads it to its end)
            recorder.uninstall()
            inputs.uninstall()
            if ns.events_fd is not None:
                os.close(ns.events_fd)
        # forked here, before the workload and the progress thread start: no other thread yet
        builder = VariantBuilder(others, after_fork=in_helper)
        recorder.on_library = builder.finalized
    counter = CompileCounter(events, recorder.records) if ns.events_fd is not None else None
    if counter is not None:
        counter.start()
    # what the workload's child processes compile dies with them: they note it here
    import tempfile

    from ..numba_seam import children
    spool_fd, spool = tempfile.mkstemp(prefix="snap-children-", suffix=".jsonl")
    os.close(spool_fd)
    children.start(spool)
    t0 = time.perf_counter()
    search_path: list[str] = []        # what the workloads imported from (snap create: no shadowing)
    try:
        status, problems = _train(ns, events, search_path)
    finally:
        in_children = children.collect(spool)      # (and the file removed, whatever happened)
    if status:
        return status
    workload_time = time.perf_counter() - t0
    if counter is not None:
        counter.stop()
    recorder.uninstall()
    inputs.uninstall()

    from .build import build_image

    def progress(stage: str) -> None:
        events.send("stage", name=stage)
        stall_point(stage)
    try:
        specs = specializations(recorder.records)
        result = build_image(specs, recorder.libraries, targets=targets, trained=trained, variants=builder,
                             build_info={"workloads": [os.path.basename(w) for w in ns.workload],
                                         **({"add-misses": [os.path.basename(m) for m in ns.add_misses]}
                                            if ns.add_misses else {})},
                             package=ns.package, bases=ns.base, observed=recorder.observer,
                             failed=recorder.failed, children=in_children,
                             progress=progress)
        with os.fdopen(ns.out_fd, "wb") as f:
            half = len(result.image) // 2
            f.write(result.image[:half])
            f.flush()
            stall_point("writing")
            f.write(result.image[half:])
            f.flush()
            os.fsync(f.fileno())
    except BuildError as e:
        events.send("error", stage="build", message=str(e))
        return 3
    except OSError as e:
        events.send("error", stage="build", message=f"cannot write the image: {e}")
        return 3
    except Exception as e:  # noqa: BLE001 - a bug or an unsupported input: say what and where
        sys.stderr.write(traceback.format_exc())
        events.send("error", stage="build", message=f"{type(e).__name__}: {e}")
        return 3
    m = result.manifest
    events.send("summary",
                entries=[{"function": f"{e.module}.{e.qualname}", "signature": e.signature,
                          "kind": e.kind} for e in m.entries],
                skipped=[{"function": f"{s.module}.{s.qualname}", "signature": s.signature,
                          "reason": s.reason} for s in m.skipped if not K.failed(s.reason)],
                failed=sum(K.failed(s.reason) for s in m.skipped),
                internal=result.internal, size=len(result.image), miss_problems=problems,
                modules=_top_level_modules(), package_dir=_package_dir(ns.package), search_path=list(dict.fromkeys(search_path)),
                workload_time=workload_time, timings=result.timings,
                variants=[v["target"] for v in m.variants], notes=result.notes)
    return 0


def _train(ns, events: Events, search_path: list[str]) -> tuple[int, list[str]]:
    """Run the workloads, then fold the miss reports given: (0, the reports' problems), or
    (2, []) when a workload failed or a report could not be read (said to the parent)."""
    from ..errors import SnapError
    for workload in ns.workload:
        events.send("stage", name="workload", detail=workload)
        try:
            status = run_workload(workload, ns.args, _mains, search_path)
        except BaseException as e:  # noqa: BLE001 - report any failure of user code
            print_user_traceback(e, workload)
            events.send("error", stage="workload",
                        message=f"workload {workload} raised {type(e).__name__}: {e}")
            return 2, []
        if status not in (None, 0):
            events.send("error", stage="workload",
                        message=f"workload {workload} exited with status {status}")
            return 2, []
    from .misses import fold
    problems: list[str] = []
    for report in ns.add_misses:
        events.send("stage", name="misses", detail=report)
        try:
            folded = fold(report, _mains)
        except SnapError as e:
            events.send("error", stage="misses", message=str(e))
            return 2, []
        problems += folded.problems
    return 0, problems


if __name__ == "__main__":
    exit_now(main())
