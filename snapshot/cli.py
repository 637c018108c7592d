"""The ``snap`` command line.

``snap run`` is dispatched before typer/rich are imported: it starts the user's
program, and ~150 ms of CLI imports would eat the start-up the image saves.
"""
import sys
from typing import List

RUN_HELP = "Run a Python program from a system image (same as python -m snapshot)."


def main() -> None:
    argv = sys.argv[1:]
    if argv and argv[0] == "run":
        from .launch import main as run_main
        sys.exit(run_main(argv[1:], prog="snap run"))
    _app()()


def _app():
    import typer
    from rich.console import Console

    from .errors import SnapError

    app = typer.Typer(add_completion=False, no_args_is_help=True,
                      help="System images for Numba: snapshot every specialization a workload "
                           "compiles into one shared library, start later processes from it "
                           "with zero JIT compilation.")
    err = Console(stderr=True)

    @app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def create(
        ctx: typer.Context,
        workload: List[str] = typer.Option(..., "--workload", "-w", help="Python script to run as __main__ (repeatable)."),
        output: str = typer.Option(..., "--output", "-o", help="Image file to write (atomically)."),
        cpu: str = typer.Option("host", "--cpu", help="CPU to generate code for."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or summary."),
    ) -> None:
        """Build an image: run WORKLOAD in a child process, collect every specialization
        Numba compiled, link their native code into ONE shared library.

        Arguments after `--` are passed to the workload as its sys.argv[1:].
        """
        from .create import create as do_create
        from .report import print_summary, stage_printer
        try:
            with stage_printer(err, quiet) as on_stage:
                rep = do_create(workload, output, list(ctx.args), cpu=cpu, on_stage=on_stage)
        except SnapError as e:
            err.print(f"[bold red]snap create failed:[/] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(1)
        except KeyboardInterrupt:
            err.print("[bold red]snap create interrupted[/]: no image written")
            raise typer.Exit(130)
        if not quiet:
            print_summary(err, rep)

    @app.command(help=RUN_HELP, context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                                                 "help_option_names": []})
    def run(ctx: typer.Context) -> None:
        # Reached only via `snap --help` listings; main() dispatches `run` itself.
        from .launch import main as run_main
        raise typer.Exit(run_main(list(ctx.args), prog="snap run"))

    return app
