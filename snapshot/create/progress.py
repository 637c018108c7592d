"""What ``snap create`` shows: progress while it works, a summary when done."""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ..image.kinds import DISPATCHER
from .command import CreateReport

STAGES = {"workload": "running workload", "collecting": "collecting specializations",
          "code generation": "generating code", "linking": "linking"}


class _Live:
    """The status line's text, rendered afresh at every refresh: stage, elapsed time, count."""

    def __init__(self) -> None:
        self.text, self.since, self.compiled, self.counting = "starting", time.monotonic(), 0, False

    def __rich__(self) -> Text:
        line = Text(self.text + f" ({time.monotonic() - self.since:.0f} s")
        if self.counting:
            line.append(f"; {self.compiled} specialization(s) compiled so far")
        return line + ")"


@contextmanager
def stage_printer(console: Console, quiet: bool) -> Iterator[Callable[[str, str], None]]:
    """Progress of snap create on stderr: one line per stage, with the time since the start;
    on a terminal also a live line (elapsed time, specializations compiled by the workload so far)."""
    if quiet:
        yield lambda name, detail: None
        return
    t0 = time.monotonic()
    live = _Live()
    with console.status(live) as status:
        def on_stage(name: str, detail: str) -> None:
            if name == "compiled":
                live.compiled = int(detail)
                return
            plain = STAGES.get(name, name) + (f" {detail}" if detail else "")
            line = Text(f"{time.monotonic() - t0:6.1f} s  ", style="dim") + Text(STAGES.get(name, name))
            if detail:
                line += Text(f" {detail}", style="dim")
            console.print(line, highlight=False, soft_wrap=True)
            live.text, live.since, live.counting = plain, time.monotonic(), name == "workload"
            status.update(live)
        yield on_stage


def workload_output(console: Console, quiet: bool, stdout_taken: bool = False
                    ) -> Callable[[int, str], None] | None:
    """Where the workload's output goes. While the live line is shown (a terminal): printed
    through ``console``, above the live line, one line at a time, instead of written into the
    terminal by the child, glued to the line rich redraws. With ``stdout_taken`` (--json: the
    summary is stdout's one document) its stdout goes to stderr. None (the child writes to the
    streams it inherits): neither."""
    import sys
    live = not quiet and console.is_terminal
    if not live and not stdout_taken:
        return None

    def show(fd: int, line: str) -> None:
        if live and (fd == 2 or stdout_taken or sys.stdout.isatty()):
            console.print(Text(line.rstrip("\n")), highlight=False, soft_wrap=True, markup=False)
            return
        stream = sys.stderr if fd == 2 or stdout_taken else sys.stdout   # where it was going
        stream.write(line)
        stream.flush()
    return show


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def print_summary(console: Console, rep: CreateReport) -> None:
    table = Table(title=f"snap image {escape(rep.output)}", show_lines=False, title_justify="left")
    table.add_column("function")
    table.add_column("signature")
    table.add_column("served")
    for e in rep.entries:
        kind = e.get("kind", DISPATCHER)
        table.add_row(escape(e["function"]), escape(e["signature"]),
                      "[green]image[/]" + (f" ({kind})" if kind != DISPATCHER else ""))
    for s in rep.skipped:
        table.add_row(escape(s["function"]), escape(s["signature"]), f"[yellow]JIT[/]: {escape(s['reason'])}")
    console.print(table)
    for problem in rep.miss_problems:
        console.print(f"[yellow]miss not added[/]: {escape(problem)}", highlight=False, soft_wrap=True)
    for note in rep.notes:
        console.print(f"[yellow]note[/]: {escape(note)}", highlight=False, soft_wrap=True)
    console.print(
        f"[bold]{len(rep.entries)}[/] specialization(s) served by the image, "
        f"[bold]{len(rep.skipped)}[/] left to the JIT"
        + (f" ({rep.failed} compilation(s) failed in the workload, as they will under the JIT)"
           if rep.failed else "")
        + (f", {rep.internal} internal helper(s) compiled into their callers" if rep.internal else "")
        + f"; image {_size(rep.size)}"
        + (f", CPU variants {', '.join(rep.variants)}" if rep.variants else "")
        + f"; built in {rep.seconds:.2f} s "
        f"(workload {rep.workload_seconds:.2f} s"
        + "".join(f", {k} {v:.2f} s" for k, v in rep.timings.items()) + ")",
        highlight=False, soft_wrap=True)
