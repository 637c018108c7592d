"""``[tool.snap]`` in a project's pyproject.toml: defaults for ``snap create`` and ``snap run``.

    [tool.snap]
    workloads = ["scripts/train.py"]   # run in order, paths relative to pyproject.toml
    output = "build/app.so"            # the image (snap create writes it, snap run uses it)
    cpu = "x86-64-v3"                  # default "host"
    strict = false                     # snap run: misses are errors
    args = ["--small"]                 # passed to every workload
    add-misses = ["misses.jsonl"]      # fold these miss reports into every build
    package = "mylib"                  # a library image: only mylib's functions, written
                                       # into mylib/_snap/ unless output is given

Command-line options win over the file; relative paths are relative to the file.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SnapError

KEYS = {"workloads", "output", "cpu", "strict", "args", "add-misses", "package"}


@dataclass
class ProjectConfig:
    path: Path | None = None            # the pyproject.toml it came from
    workloads: list[str] = field(default_factory=list)
    output: str | None = None
    cpu: str | None = None
    strict: bool = False
    args: list[str] = field(default_factory=list)
    add_misses: list[str] = field(default_factory=list)
    package: str | None = None



def find_pyproject(start: str | os.PathLike = ".") -> Path | None:
    here = Path(start).resolve()
    for d in (here, *here.parents):
        candidate = d / "pyproject.toml"
        if os.path.lexists(candidate):      # a FIFO or device there is an error, not "no project"
            return candidate
    return None


MAX_PYPROJECT = 4 << 20    # bytes: a pyproject.toml is a few kB; larger is not one to read whole


def _read_toml(path: Path) -> dict:
    """The parsed file; SnapError (one line) for anything that is not a readable TOML file
    of sane size: a FIFO or device (never read: it could block or never end), a huge
    file, bytes that are not UTF-8, nesting deep enough to exhaust the parser's stack."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    from .image.untrusted import read_regular
    try:
        data = read_regular(path, MAX_PYPROJECT)
    except OSError as e:
        raise SnapError(f"cannot read {path}: {e.strerror}") from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise SnapError(f"cannot read {path}: not UTF-8 (byte {e.start})") from None
    except RecursionError:
        raise SnapError(f"cannot read {path}: nested too deeply") from None
    except (tomllib.TOMLDecodeError, ValueError) as e:
        raise SnapError(f"cannot read {path}: " + (str(e).splitlines() or ["invalid TOML"])[0][:300]) from None


def load(start: str | os.PathLike = ".") -> ProjectConfig:
    """The [tool.snap] table of the nearest pyproject.toml (empty config if none)."""
    path = find_pyproject(start)
    if path is None:
        return ProjectConfig()
    doc = _read_toml(path)
    tool = doc.get("tool", {})
    if not isinstance(tool, dict):
        raise SnapError(f"{path}: [tool] must be a table")
    table = tool.get("snap")
    if table is None:
        return ProjectConfig(path=path)
    if not isinstance(table, dict):
        raise SnapError(f"{path}: [tool.snap] must be a table")
    unknown = sorted(set(table) - KEYS)
    if unknown:
        raise SnapError(f"{path}: unknown key(s) in [tool.snap]: {', '.join(unknown)} "
                        f"(known: {', '.join(sorted(KEYS))})")
    base = path.parent

    def strings(key: str) -> list[str]:
        value = table.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SnapError(f"{path}: [tool.snap] {key} must be a list of strings")
        if any("\0" in v for v in value):
            raise SnapError(f"{path}: [tool.snap] {key} holds a NUL character")
        return value

    def rel(p: str) -> str:
        return str(base / p)

    for key in ("output", "package"):
        if key in table and not isinstance(table[key], str):
            raise SnapError(f"{path}: [tool.snap] {key} must be a string")
        if key in table and "\0" in table[key]:
            raise SnapError(f"{path}: [tool.snap] {key} holds a NUL character")
    cpu = table.get("cpu")
    if isinstance(cpu, list) and cpu and all(isinstance(c, str) for c in cpu):
        cpu = ",".join(cpu)            # cpu = ["x86-64-v2", "x86-64-v3"]: one image, two variants
    elif cpu is not None and not isinstance(cpu, str):
        raise SnapError(f"{path}: [tool.snap] cpu must be a string or a list of strings")
    if "strict" in table and not isinstance(table["strict"], bool):
        raise SnapError(f"{path}: [tool.snap] strict must be true or false")
    return ProjectConfig(
        path=path, workloads=[rel(w) for w in strings("workloads")],
        output=rel(table["output"]) if "output" in table else None, cpu=cpu,
        strict=table.get("strict", False), args=strings("args"),
        add_misses=[rel(m) for m in strings("add-misses")], package=table.get("package"))
