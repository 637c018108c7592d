"""Run a program from an image: ``snap run`` and ``python -m snapshot``.

The program runs in this process as ``__main__`` with its own ``sys.argv``;
it sees the same exit code and tracebacks as under ``python app.py`` (frames
of this launcher are cut from tracebacks). The image settings are exported as
environment variables so that child processes start from the image too.
"""
from __future__ import annotations

import argparse
import os
import sys

from .program import debug, exec_script, print_user_traceback

USAGE = "run a Python program from a snap system image"


def run_program(app: str, args: list[str], *, sysimage: "str | list[str] | None", strict: bool = False,
                report: str | None = None) -> int:
    if not os.path.isfile(app):
        sys.stderr.write(f"snap: cannot open program {app!r}: no such file\n")
        return 2
    images = [sysimage] if isinstance(sysimage, str) else list(sysimage or [])
    for image in images:
        # An image named on the command line must exist (the environment variable and
        # the project default keep warn-and-run-on-the-JIT: they are not typed per run).
        if not os.path.exists(image):
            sys.stderr.write(f"snap: image {image!r} does not exist (build it with "
                             f"`snap create --output {image}`)\n")
            return 2
        if os.path.isdir(image):
            sys.stderr.write(f"snap: image {image!r} is a directory, not an image file\n")
            return 2
    if not images and not os.environ.get("SNAP_SYSIMAGE"):
        # Inside a project: its [tool.snap] image and strictness are the defaults.
        from .errors import SnapError
        from .project import load
        try:
            config = load()
        except SnapError as e:
            sys.stderr.write(f"snap: {e}\n")
            return 2
        if config.output is not None:
            images = [config.output]
            strict = strict or config.strict
        elif config.package is None:
            # nothing to run from (a library project's image comes with its package): --strict
            # and --report-misses would promise what they cannot keep, so they are refused
            if strict or report:
                what = " and ".join(o for o, on in (("--strict", strict), ("--report-misses", report)) if on)
                sys.stderr.write(f"snap run: {what} but no image to run from: give --sysimage IMAGE before "
                                 f"the program, set SNAP_SYSIMAGE, or set output in [tool.snap] of "
                                 f"pyproject.toml{_misplaced(app, args)}\n")
                return 2
            sys.stderr.write(f"snap run: no image (no --sysimage, SNAP_SYSIMAGE or [tool.snap] output): "
                             f"{app} runs on the JIT{_misplaced(app, args)}\n")
    if images:
        # the program's images, the first first (the start-up hook activates them in order)
        os.environ["SNAP_SYSIMAGE"] = os.pathsep.join(os.path.abspath(i) for i in images)
    if strict:
        os.environ["SNAP_STRICT"] = "1"
    if report:
        # like --output of snap create: missing directories are created, and a report that
        # cannot be written is refused now, not warned about at the first miss
        # (nothing is written while nothing is missed: the file appears at the first miss)
        report = os.path.abspath(report)
        try:
            os.makedirs(os.path.dirname(report), exist_ok=True)
        except OSError as e:
            sys.stderr.write(f"snap run: cannot write the miss report {report!r}: cannot create its "
                             f"directory ({e.strerror})\n")
            return 2
        if os.path.isdir(report) or not os.access(report if os.path.exists(report) else
                                                  os.path.dirname(report), os.W_OK):
            sys.stderr.write(f"snap run: cannot write the miss report {report!r}: "
                             + ("it is a directory\n" if os.path.isdir(report) else "permission denied\n"))
            return 2
        os.environ["SNAP_REPORT"] = report
    from . import startup
    startup.install_from_env()
    try:
        exec_script(app, args)
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - report like the interpreter would
        from .errors import SnapStrictError, print_strict_error
        if isinstance(e, SnapStrictError) and not debug():
            print_strict_error(e)
            return 1
        print_user_traceback(e, app)
        return 130 if isinstance(e, KeyboardInterrupt) else 1
    return 0


SNAP_OPTIONS = ("-J", "--sysimage", "--strict", "--report-misses")


def _misplaced(app: str, args: list[str]) -> str:
    """A hint when one of snap run's own options follows the program (and so went to it)."""
    found = [a for a in args if a.split("=", 1)[0] in SNAP_OPTIONS or (a.startswith("-J") and len(a) > 2)]
    if not found:
        return ""
    return (f" ({found[0]} after {app} is passed to the program; snap run's options go before it: "
            f"snap run {found[0]} ... {app})")


class _Parser(argparse.ArgumentParser):
    """argparse, with a command line it cannot parse said on one line as ``snap create/info/
    check`` say it (an unknown option with the closest known one), not usage + error."""

    def error(self, message: str):
        if message.startswith("give the Python program"):     # usage shown: it says what is missing
            super().error(message)
        if message.startswith("unrecognized arguments: "):
            import difflib
            first = message.split(": ", 1)[1].split()[0]
            known = [o for a in self._actions for o in a.option_strings if o.startswith("--")]
            best = difflib.get_close_matches(first.split("=", 1)[0], known, n=1)
            message = f"no such option {first}" + (f" (did you mean {best[0]}?)" if best else "")
        self.exit(2, f"{self.prog}: {message}; see {self.prog} --help\n")


def parser(prog: str) -> argparse.ArgumentParser:
    ap = _Parser(prog=prog, description=USAGE,
                                 usage=f"{prog} [-h] [--sysimage IMAGE] [--strict] [--report-misses FILE] "
                                       "program [args ...]")
    ap.add_argument("--sysimage", "-J", metavar="IMAGE", action="append",
                    help="image built by `snap create` (default: $SNAP_SYSIMAGE, else the [tool.snap] "
                         "output of pyproject.toml); repeat it to run from several images, the first "
                         "taking precedence. Options go before the program: those after it are the "
                         "program's")
    ap.add_argument("--strict", action="store_true",
                    help="a miss, stale entry or refused image is an error (default: $SNAP_STRICT, "
                         "else the [tool.snap] strict of the project's image)")
    ap.add_argument("--report-misses", metavar="FILE",
                    help="append every JIT compilation that still happens to FILE (JSON lines; "
                         "missing directories are created)")
    # program is optional to argparse only so that a missing one gets its own message
    # (argparse would also call the optional `args` required)
    ap.add_argument("program", nargs="?", help="the Python program to run")
    ap.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the program")
    return ap


def main(argv: list[str] | None = None, prog: str = "python -m snapshot") -> int:
    ap = parser(prog)
    ns = ap.parse_args(argv)
    if ns.program is None:
        ap.error("give the Python program to run, e.g. `%s --sysimage my.so app.py [args...]`" % prog)
    return run_program(ns.program, ns.args, sysimage=ns.sysimage, strict=ns.strict,
                       report=ns.report_misses)
