"""The ``snap`` command line.

``snap run`` is dispatched before typer/rich are imported: it starts the user's
program, and ~150 ms of CLI imports would eat the start-up the image saves.
"""
import sys
from typing import List, Optional

RUN_HELP = "Run a Python program from a system image (same as python -m snapshot)."


def main() -> None:
    argv = sys.argv[1:]
    if argv and argv[0] == "run":
        from .launch import main as run_main
        name = "numba-snap" if sys.argv[0].endswith("numba-snap") else "snap"    # (the second name)
        sys.exit(run_main(argv[1:], prog=f"{name} run"))
    from .startup import inspecting
    inspecting()            # an image named by SNAP_SYSIMAGE is inspected here, not activated
    import typer
    command = _app()
    cx = _click_exceptions()
    try:
        # not standalone: a usage error (an unknown or misspelt option, a missing value)
        # is reported on one line below, not in click's three-line block
        code = command.main(args=argv, standalone_mode=False)
    except getattr(cx, "NoArgsIsHelpError", ()) as e:     # bare `snap`: the help, as click shows it
        e.show()
        sys.exit(e.exit_code)
    except cx.UsageError as e:
        sys.exit(_usage_error(e))
    except cx.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except typer.Abort:
        sys.stderr.write("Aborted!\n")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _click_exceptions():
    """click's exceptions module as typer uses it (typer >= 0.26 vendors click as typer._click)."""
    import typer
    return sys.modules[typer.BadParameter.__module__]


def _usage_error(e) -> int:
    """One line for a command line click cannot parse, with where to look next:
    ``snap create: no such option --outptu (did you mean --output?); ...; see snap create --help``."""
    import os

    import typer
    from .printable import printable
    where = e.ctx.command_path if e.ctx is not None else os.path.basename(sys.argv[0] or "snap")
    cx = _click_exceptions()
    if isinstance(e, cx.NoSuchOption):
        import difflib
        best = difflib.get_close_matches(e.option_name, e.possibilities or [], n=1, cutoff=0)
        msg = f"no such option {e.option_name}" + (f" (did you mean {best[0]}?)" if best else "")
    else:
        msg = " ".join(e.format_message().split()).rstrip(".")
        msg = msg[:1].lower() + msg[1:]
    if where.endswith(" create") and (isinstance(e, cx.NoSuchOption) or msg.startswith("got unexpected extra")):
        msg += "; arguments for the workload go after `--`"
    typer.echo(f"{printable(where)}: {printable(msg)}; see {printable(where)} --help", err=True)
    return e.exit_code


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("snap-sysimage")
    except PackageNotFoundError:       # a source tree on sys.path, not installed
        return "unknown (not installed)"


def _app():
    import os

    import typer
    from rich.console import Console

    from .errors import SnapError

    # rich_markup_mode=None: help text is shown as written ("[tool.snap]" is not markup)
    app = typer.Typer(add_completion=True, no_args_is_help=True, rich_markup_mode=None,
                      help="System images for Numba: snapshot every specialization a workload compiles "
                           "into one shared library, start later processes from it with zero JIT "
                           "compilation.")
    # not a terminal (a log, a CI job): messages and the summary table are not cut to 80 columns
    err = Console(stderr=True, width=None if sys.stderr.isatty() or os.environ.get("COLUMNS") else 100_000)

    def show_version(value: bool) -> None:
        if value:
            import numba
            print(f"snap {_version()} (numba {numba.__version__}, Python {sys.version.split()[0]})")
            raise typer.Exit()

    @app.callback()
    def _main(version: bool = typer.Option(False, "--version", is_eager=True, callback=show_version,
                                            help="Show snap's version and exit.")) -> None:
        pass

    def project_image(what: str, image: Optional[str]) -> str:
        """IMAGE, or else the project's: the [tool.snap] output that snap run would use."""
        if image is not None:
            return image
        from .project import load
        try:
            config = load()
        except SnapError as e:
            _fail(err, what, e)
        if config.output is None and config.package is not None:    # a library project: its image
            from .create.command import package_output
            try:
                return package_output(config.package, config.workloads, config.cpu or "host")
            except SnapError as e:
                _fail(err, what, e)
        if config.output is None:
            _fail(err, what, SnapError("give IMAGE (or set output or package in [tool.snap] of "
                                       "pyproject.toml)"), 2)
        return config.output

    # Unknown options are an error (click's "No such option", with "Did you mean"), never passed
    # on to the workload: arguments for the workload go after `--` (issue 26).
    @app.command(short_help="Build an image from what a workload compiles.",
                 context_settings={"allow_extra_args": True, "ignore_unknown_options": False})
    def create(
        ctx: typer.Context,
        workload: Optional[List[str]] = typer.Option(
            None, "--workload", "-w", metavar="FILE",
            help="Python script to run as __main__ (repeatable). "
                 "Default: [tool.snap] workloads of pyproject.toml."),
        output: Optional[str] = typer.Option(
            None, "--output", "-o", metavar="FILE",
            help="Image file to write (atomically; missing directories are created). "
                 "Default: [tool.snap] output."),
        cpu: Optional[str] = typer.Option(
            None, "--cpu", metavar="NAME",
            help="CPU to generate code for: host (default; this machine's features), "
                 "generic, x86-64, x86-64-v2, x86-64-v3 or x86-64-v4; several, comma-separated "
                 "(or 'portable': x86-64-v2,x86-64-v3,x86-64-v4) make one image with one code "
                 "variant each, the best this CPU has chosen at load."),
        add_misses: Optional[List[str]] = typer.Option(
            None, "--add-misses", metavar="FILE",
            help="Miss report (snap run --report-misses) whose specializations "
                 "are compiled into this image too (repeatable)."),
        package: Optional[str] = typer.Option(
            None, "--package", "-p", metavar="PKG",
            help="Build PKG's library image: only the specializations of functions defined in PKG, "
                 "written by default into PKG's directory (PKG/_snap/), where "
                 "snapshot.activate_package finds it. Default: [tool.snap] package, unless --output "
                 "is given; --package '' builds an app image in a library project."),
        base: Optional[List[str]] = typer.Option(
            None, "--base", metavar="IMAGE",
            help="Build an incremental image on IMAGE (repeatable): IMAGE serves the training run, "
                 "and the new image holds only what it lacks; it runs with IMAGE active (next to "
                 "it, or activated first) and is refused without it."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or summary."),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON document on "
                                                           "stdout (progress still goes to stderr)."),
    ) -> None:
        """Build an image: run WORKLOAD in a child process, collect every specialization
        Numba compiled, link their native code into ONE shared library.

        Arguments after `--` are passed to the workload as its sys.argv[1:]. Inside a
        project, options default to its pyproject.toml [tool.snap] table.
        """
        from .create.command import create as do_create
        import signal

        from .create.lifeline import Interrupted, interruptions
        from .project import load
        from .create.progress import print_summary, stage_printer, workload_output
        # SIGTERM, SIGHUP and SIGQUIT end it as Ctrl-C does: same cleanup, one line (lifeline.py)
        with interruptions():
            try:
                config = load()
                workloads = workload or config.workloads
                out = output or config.output
                # --package "" builds an app image in a library project; so does --output on the
                # command line without --package (the [tool.snap] package is for its own output)
                if package is not None:
                    pkg = package or None
                else:
                    pkg = None if output else config.package
                if not workloads or not (out or pkg):
                    raise SnapError("give --workload and --output or --package (or set workloads and output "
                                    "or package in [tool.snap] of pyproject.toml)")
                args = _workload_args(ctx) or config.args
                # a [tool.snap] add-misses file that does not exist yet (the first build of the
                # fold-misses recipe, before any `snap run --report-misses`) is skipped, said once
                later = [m for m in config.add_misses if not os.path.lexists(m)]
                if later and not quiet:
                    err.print(_esc(f"snap create: [tool.snap] add-misses {', '.join(later)}: no such file "
                                   "yet, skipped"), highlight=False, soft_wrap=True)
                misses = (add_misses or []) + [m for m in config.add_misses if m not in later]
                with stage_printer(err, quiet) as on_stage:
                    rep = do_create(workloads, out, args, cpu=cpu or config.cpu or "host",
                                    add_misses=misses, package=pkg, bases=base or [], on_stage=on_stage,
                                    on_output=workload_output(err, quiet, stdout_taken=as_json))
            except SnapError as e:
                _fail(err, "snap create", e, getattr(e, "exit_code", 1))
            except KeyboardInterrupt as e:
                signum = e.signum if isinstance(e, Interrupted) else signal.SIGINT
                how = "" if signum == signal.SIGINT else f" by {signal.Signals(signum).name}"
                try:        # (after SIGHUP the terminal may be gone)
                    err.print(f"[bold red]snap create interrupted{how}[/]: no image written")
                except OSError:
                    pass
                raise typer.Exit(128 + signum)
        if as_json:
            import dataclasses
            _print_json(dataclasses.asdict(rep))
        elif not quiet:
            print_summary(err, rep)

    @app.command(short_help="Show what an image holds.")
    def info(
        image: Optional[str] = typer.Argument(
            None, metavar="IMAGE", help="Image file (any file: nothing in it is run). "
                                        "Default: [tool.snap] output of pyproject.toml (or, with "
                                        "package, the library's image)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document instead of tables."),
    ) -> None:
        """Show what an image holds: fingerprint, CPU, build options, entries with code sizes,
        skipped specializations, imports, ELF sections and segments.

        Safe on an untrusted file: nothing is dlopened, unpickled or imported.
        """
        from .inspect.info import info_dict, read_info
        image = project_image("snap info", image)
        try:
            inf = read_info(image)
        except SnapError as e:
            _fail(err, "snap info", e)
        if as_json:
            _print_json(info_dict(inf))
        else:
            _render_info(inf)

    @app.command(short_help="Would an image serve here? (environment, CPU, fresh sources)")
    def check(
        images: Optional[List[str]] = typer.Argument(
            None, metavar="IMAGE...", help="Image file(s), each checked on its own. Default: [tool.snap] output "
                                           "of pyproject.toml (or, with package, the library's image)."),
        source_root: Optional[str] = typer.Option(
            None, "--source-root", metavar="DIR",
            help="Look for the images' sources under DIR (a module pkg.mod recorded at "
                 "/build/src/pkg/mod.py is looked for at DIR/pkg/mod.py): check an image where "
                 "it is deployed, not where it was built. Default: a library image inside its "
                 "package (PKG/_snap/) is checked against the sources next to it."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document instead of tables "
                                                           "(several images: {ok, images: [...]})."),
        deep: bool = typer.Option(False, "--deep", help="Also verify the checksum and the ELF structure "
                                                        "(LIEF check_layout, segments, exported symbols)."),
    ) -> None:
        """Would each IMAGE serve here? Compares Python/numba/llvmlite/numpy versions, numba config and
        CPU features with this machine, and every entry with the current source files.

        Exit code 0 only if every image would be used and every entry is fresh. Source files are
        read and compiled, never executed; the images are never loaded.
        """
        from .inspect.check import check_dict, check_image
        paths = images or [project_image("snap check", None)]
        if source_root is not None and not os.path.isdir(source_root):
            _fail(err, "snap check", SnapError(f"--source-root {source_root!r} is not a directory"), 2)
        docs: list[dict] = []
        verdicts: list[bool] = []
        for path in paths:
            try:
                rep = check_image(path, deep=deep, source_root=source_root,
                                  others=[p for p in paths if p != path])
            except SnapError as e:
                if len(paths) == 1:
                    _fail(err, "snap check", e)
                _say_failed(err, "snap check", e)      # one line for this image; the others go on
                docs.append({"path": path, "ok": False, "summary": f"not served: {' '.join(str(e).split())}"})
                verdicts.append(False)
                continue
            verdicts.append(rep.ok)
            if as_json:
                docs.append(check_dict(rep))
            else:
                if len(verdicts) > 1:
                    print()
                _render_check(rep)
        if as_json:
            _print_json(docs[0] if len(paths) == 1 else {"ok": all(verdicts), "images": docs})
        elif len(paths) > 1:
            colour = "green" if all(verdicts) else "bold red"
            _console().print(f"[{colour}]{sum(verdicts)} of {len(paths)} images would be served here[/]")
        raise typer.Exit(0 if all(verdicts) else 1)

    @app.command(short_help="Is the start-up hook installed, which image would be used?")
    def doctor(
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document instead of text."),
    ) -> None:
        """Is snap set up here? Says whether the start-up hook (SNAP_SYSIMAGE=my.so python app.py)
        is installed in this Python, and which image each way of starting a program would use.

        Exit code 0 if the hook is installed and every image named would be used.
        """
        from .inspect.doctor import diagnose, render
        rep = diagnose()
        if as_json:
            _print_json(rep)
        else:
            render(rep, _console())
        raise typer.Exit(0 if rep["ok"] else 1)

    @app.command(help=RUN_HELP, short_help="Run a Python program from an image (python -m snapshot).",
                 context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                                                 "help_option_names": []})
    def run(ctx: typer.Context) -> None:
        # Reached only via `snap --help` listings; main() dispatches `run` itself.
        from .launch import main as run_main
        raise typer.Exit(run_main(list(ctx.args), prog="snap run"))

    return _plain_arguments(typer.main.get_command(app))


def _workload_args(ctx) -> list[str]:
    """The workload's arguments: everything after the first `--` of the command line.
    A word before it that is not an option's value is refused (click's UsageError, one
    line): `snap create -w w.py -o x.so 3` is more likely a mistake than an argument."""
    raw = sys.argv[1:]
    tail = raw[raw.index("--") + 1:] if "--" in raw else []
    extra = list(ctx.args)
    if extra[len(extra) - len(tail):] == tail:
        extra = extra[:len(extra) - len(tail)]
    if extra:
        raise _click_exceptions().UsageError(f"got unexpected extra argument{'s' if len(extra) > 1 else ''} "
                               f"({' '.join(extra)})", ctx)
    return tail


def _plain_arguments(command):
    """Arguments as click shows them: `IMAGE` / `[IMAGE]` in the usage line, no `<str>` label."""
    from typer.core import TyperArgument
    commands = getattr(command, "commands", {}).values()
    for cmd in (command, *commands):
        for param in cmd.params:
            if isinstance(param, TyperArgument):
                cls = type(param)
                param.__class__ = type("Plain" + cls.__name__, (cls,), {
                    "_usage_display_name": lambda self: (self.metavar or self.name.upper()) if self.required
                    else f"[{self.metavar or self.name.upper()}]",
                    "display_type_rich": lambda self, ctx: None,
                })
    return command


# ------------------------------------------------------------ info / check output
def _say_failed(console, what: str, e: Exception) -> None:
    msg = " ".join(str(e).split())         # one line, whatever the file contained
    console.print(f"[bold red]{what} failed:[/] {_esc(msg)}", highlight=False, soft_wrap=True)


def _fail(console, what: str, e: Exception, code: int = 1):
    import typer
    _say_failed(console, what, e)
    raise typer.Exit(code)


def _console(**kw):
    """stdout console; when not a terminal (piped, redirected) nothing is cut to 80 columns."""
    import os

    from rich.console import Console
    width = None
    if not sys.stdout.isatty() and not os.environ.get("COLUMNS"):
        width = 100_000
    return Console(highlight=False, soft_wrap=False, width=width, **kw)


def _print_json(doc) -> None:
    import json
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def _size(n: int) -> str:
    from .create.progress import _size as size
    return size(n)


def _esc(text) -> str:
    """Text from an image (or about one) for rich: control characters escaped first
    (printable.py: an image must not drive the terminal), then markup."""
    from .printable import markup
    return markup(text)


def _render_info(inf) -> None:
    from rich.table import Table
    esc = _esc

    out = _console()
    fp = dict(inf.fingerprint)
    config = fp.pop("numba_config", {})
    head = Table(title=f"snap image {esc(inf.path)}", show_header=False, title_justify="left")
    head.add_column(style="bold")
    head.add_column()
    if inf.package:
        head.add_row("package", esc(inf.package) + " (library image: only its functions are entries)")
    head.add_row("file size", f"{inf.file_size} bytes ({_size(inf.file_size)})")
    head.add_row("format", str(inf.format))
    for k in sorted(fp):
        head.add_row(esc(str(k)), esc(str(fp[k])))
    if isinstance(config, dict):
        head.add_row("numba config", esc(", ".join(f"{k}={v}" for k, v in sorted(config.items()))))
    if len(inf.variants) > 1:
        head.add_row("CPU variants", esc(", ".join(v["target"] for v in inf.variants))
                     + " (the best this CPU has runs; table below)")
    else:
        cpu = inf.cpu
        feats = cpu.get("features") if isinstance(cpu.get("features"), list) else []
        head.add_row("CPU target", esc(str(cpu.get("target"))))
        head.add_row("CPU name", esc(str(cpu.get("name"))))
        head.add_row(f"CPU features required ({len(feats)})", esc(" ".join(map(str, feats))))
    for k in sorted(inf.build):
        v = inf.build[k]
        if k == "compile_warnings":
            from .numba_seam.compile_warnings import describe
            try:
                v = describe(v)
            except Exception:  # noqa: BLE001 - an odd manifest: shown as it is
                pass
        if k == "bases" and isinstance(v, list):      # an incremental image's: what it runs on
            v = [f"{b.get('file')} ({b.get('entries', '?')} entries, prefix {b.get('prefix')}, "
                 f"sha256 {str(b.get('sha256'))[:16]}...)" + (f", package {b['package']}" if b.get("package") else "")
                 if isinstance(b, dict) else b for b in v]
        head.add_row(f"build {esc(str(k))}", esc(", ".join(map(str, v)) if isinstance(v, list) else str(v)))
    head.add_row("symbol prefix", esc(inf.prefix))
    head.add_row("native code", f"{inf.code_size} bytes in {len(inf.entries)} entries")
    head.add_row("payload", f"{inf.payload_size} bytes (pickled types/constants; not read by info)")
    out.print(head)

    if len(inf.variants) > 1:
        t = Table(title=f"CPU variants ({len(inf.variants)}, lowest first)", title_justify="left")
        for c, j in (("target", "left"), ("LLVM CPU", "left"), ("code and data", "right"),
                     ("features required", "left"), ("symbol prefix", "left")):
            t.add_column(c, justify=j)
        before: set = set()
        for v in inf.variants:
            added = [f for f in v["features"] if f not in before]
            shown = f"{len(v['features'])}: " + ("+" if before else "") + " ".join(added)
            before = set(v["features"])
            t.add_row(esc(v["target"]), esc(v["name"]), f"{v['size']} bytes ({_size(v['size'])})",
                      esc(shown), esc(v["prefix"]))
        out.print(t)

    t = Table(title=f"entries served by the image ({len(inf.entries)})", title_justify="left")
    for c in ("function", "signature", "kind"):
        t.add_column(c)
    t.add_column("code bytes", justify="right")
    from collections import Counter
    variants = Counter(e.function for e in inf.entries)
    for e in inf.entries:
        kind = (e.kind + (" parallel" if e.parfors else "") + (f" closure {e.closure[:8]}" if e.closure else "")
                + (" eager" if e.explicit else "") + (" generated" if e.generated else "")
                + (f" code {e.code[:8]}" if variants[e.function] > 1 else "")
                + (f" inputs {len(e.values) + len(e.deps)}" if e.values or e.deps else ""))
        t.add_row(esc(e.function), esc(e.signature), esc(kind), str(e.size))
    out.print(t)
    if inf.skipped:
        t = Table(title=f"left to the JIT ({len(inf.skipped)})", title_justify="left")
        for c in ("function", "signature", "reason"):
            t.add_column(c)
        for s in inf.skipped:
            t.add_row(esc(s["function"]), esc(s["signature"]), esc(s["reason"]))
        out.print(t)
    if inf.failed:          # not specializations: the JIT raises the same errors (image.kinds.failed)
        t = Table(title=f"failed in the training run, not stored ({len(inf.failed)})", title_justify="left")
        for c in ("function", "signature", "error"):
            t.add_column(c)
        for s in inf.failed:
            t.add_row(esc(s["function"]), esc(s["signature"]),
                      esc(s["reason"].partition("(")[2].partition(" there)")[0]))
        out.print(t)
    t = Table(title=f"sources ({len(inf.sources)})", title_justify="left")
    for c in ("module", "path", "digest"):
        t.add_column(c)
    for s in inf.sources:
        t.add_row(esc(str(s.get("module"))), esc(str(s.get("path"))), esc(str(s.get("digest"))))
    out.print(t)
    t = Table(title=f"ELF sections ({len(inf.sections)}, read by LIEF)", title_justify="left")
    for c, j in (("name", "left"), ("type", "left"), ("flags", "left"), ("address", "right"),
                 ("offset", "right"), ("size", "right")):
        t.add_column(c, justify=j)
    for s in inf.sections:
        t.add_row(esc(s.name), s.type, s.flags, f"{s.address:#x}", f"{s.offset:#x}", str(s.size))
    out.print(t)
    t = Table(title=f"ELF segments ({len(inf.segments)})", title_justify="left")
    for c, j in (("type", "left"), ("flags", "left"), ("address", "right"), ("mem size", "right"),
                 ("offset", "right"), ("file size", "right")):
        t.add_column(c, justify=j)
    for g in inf.segments:
        t.add_row(g.type, g.flags, f"{g.address:#x}", str(g.memsize), f"{g.offset:#x}", str(g.filesize))
    out.print(t)
    out.print(f"[bold]imports ({len(inf.imports)})[/], filled at load time: "
              + esc(", ".join(inf.imports)), soft_wrap=True)


def _render_check(rep) -> None:
    from rich.table import Table
    esc = _esc

    out = _console()
    mark = lambda ok: "[green]ok[/]" if ok else "[bold red]DIFFERS[/]"  # noqa: E731
    if rep.package:
        out.print(f"library image of package [bold]{esc(rep.package)}[/]", highlight=False, soft_wrap=True)
    if rep.source_root:
        out.print(f"sources looked for under {esc(rep.source_root)}", highlight=False, soft_wrap=True)
    t = Table(title=f"environment: image {esc(rep.path)} vs here", title_justify="left")
    for c in ("", "image", "here", ""):
        t.add_column(c)
    for item in rep.environment:
        shown = ["(absent)" if v is None else esc(str(v)) for v in (item.image, item.here)]
        t.add_row(esc(item.name), *shown, mark(item.ok))
    cpu = rep.cpu
    t.add_row("CPU", esc(f"{cpu['image']} ({cpu['target']})"), esc(str(cpu["here"])), "")
    missing = cpu["missing"]
    t.add_row("CPU features", f"{cpu['required']} required" + (" (lowest variant)" if cpu["variants"] > 1 else ""),
              esc("missing: " + " ".join(missing)) if missing else "all present", mark(not missing))
    if cpu["variants"] > 1 or cpu["limited_to"]:
        t.add_row("CPU variant", f"{cpu['variants']} in the image",
                  esc(f"would use {cpu['variant']}" if cpu["variant"] else "none fits"), mark(bool(cpu["variant"])))
    for b in rep.bases:
        t.add_row("base image", esc(b["file"]), esc(b["path"] or "not found next to it"),
                  mark(b["status"] == "ok"))
    out.print(t)
    t = Table(title=f"entries against the current sources ({len(rep.entries)})", title_justify="left")
    for c in ("function", "signature", "status"):
        t.add_column(c)
    for e in rep.entries:
        if e.status == "fresh":
            status = "[green]fresh[/]"
        elif e.status == "stale":
            status = "[bold red]stale[/]: " + esc(", ".join(e.changed)) + " changed"
        else:
            status = "[yellow]source missing[/]: " + esc(", ".join(e.missing))
        t.add_row(esc(e.function), esc(e.signature), status)
    out.print(t)
    if rep.deep is not None:
        t = Table(title="verification (--deep)", title_justify="left")
        for c in ("check", "result", "detail"):
            t.add_column(c)
        for c in rep.deep:
            t.add_row(esc(c.name), "[green]ok[/]" if c.ok else "[bold red]FAILED[/]", esc(c.detail))
        out.print(t)
    colour = "green" if rep.ok else "bold red"
    out.print(f"[{colour}]{esc(rep.summary)}[/]", soft_wrap=True)


if __name__ == "__main__":
    main()
