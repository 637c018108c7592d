"""Shared fixtures: run `snap` and programs as a user would, in subprocesses."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS = ROOT / "tests" / "apps"
BIN = Path(sys.executable).parent


def snap_exe() -> str:
    exe = BIN / "snap"
    if not exe.exists():
        found = shutil.which("snap")
        if found is None:
            pytest.fail("the `snap` command is not installed (run scripts/test.sh)")
        return found
    return str(exe)


# snap's per-boot host cache (snapshot/image/host.py) of the test processes: one
# directory for the session, not the user's ~/.cache
HOST_CACHE = tempfile.mkdtemp(prefix="snap-test-cache-")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SNAP_", "SNAPTEST_", "NUMBA_"))}
    env["COLUMNS"] = "200"   # rich: no wrapping inside messages the tests look for
    env["SNAP_CACHE_DIR"] = HOST_CACHE
    env.update(extra)
    return env


def run(cmd: list[str], *, cwd: Path | str = APPS, env: dict | None = None,
        timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env if env is not None else clean_env(),
                          capture_output=True, text=True, timeout=timeout)


def in_a_terminal(cmd: list[str], cwd: Path | str, env: dict | None = None) -> tuple[int, str]:
    """Run ``cmd`` with a pseudo-terminal as stdin, stdout and stderr (a user's terminal):
    (exit status, everything it wrote)."""
    master, slave = os.openpty()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env if env is not None else clean_env(TERM="xterm"),
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:                  # EIO: the terminal's other side is closed
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return proc.wait(timeout=120), out.decode(errors="replace")


def snap(*args: str, **kw) -> subprocess.CompletedProcess:
    return run([snap_exe(), *args], **kw)


def assert_ok(p: subprocess.CompletedProcess) -> None:
    assert p.returncode == 0, f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"


MODES = ["snap run", "python -m snapshot", "SNAP_SYSIMAGE"]


def launch(mode: str, image: Path | str, app: str, *args: str, env: dict | None = None, cwd=APPS):
    """Start `app` from `image` in one of the three supported ways (MODES)."""
    env = clean_env(**(env or {}))
    if mode == "snap run":
        return snap("run", "--sysimage", str(image), app, *args, env=env, cwd=cwd)
    if mode == "python -m snapshot":
        return run([sys.executable, "-m", "snapshot", "--sysimage", str(image), app, *args], env=env, cwd=cwd)
    env["SNAP_SYSIMAGE"] = str(image)
    return run([sys.executable, app, *args], env=env, cwd=cwd)


def build_image(tmp_path_factory, workload: str, name: str) -> tuple[Path, str]:
    """`snap create -w workload -o <tmp>/name` in tests/apps; (image, its stderr summary)."""
    out = tmp_path_factory.mktemp(Path(name).stem) / name
    p = snap("create", "-w", workload, "-o", str(out))
    assert_ok(p)
    assert out.exists()
    return out, p.stderr


def small_project(tmp_path_factory, name: str, files: dict[str, str], image: str) -> tuple[Path, Path]:
    """A directory holding ``files`` (one named ``workload.py``) and the image ``snap create``
    builds from that workload there: (directory, image)."""
    d = tmp_path_factory.mktemp(name)
    for fname, text in files.items():
        (d / fname).write_text(text)
    out = d / image
    assert_ok(snap("create", "-q", "-w", "workload.py", "-o", str(out), cwd=d))
    return d, out


def tagged_json(d: Path, script: str, tag: str, *args: str, **env: str) -> dict:
    """Run ``script`` in ``d`` (a clean environment plus ``env``), with no SnapWarning, and
    return the JSON it printed on its line starting with ``tag``."""
    import json
    p = run([sys.executable, script, *args], cwd=d, env=clean_env(**env))
    assert_ok(p)
    assert "SnapWarning" not in p.stderr, p.stderr
    line = next(x for x in p.stdout.splitlines() if x.startswith(tag + " "))
    return json.loads(line[len(tag) + 1:])


def assert_served_as_jit(d: Path, image: Path, script: str = "app.py", tag: str = "APP") -> dict:
    """``script`` in ``d`` prints the same JSON (results as hex: bit for bit) under the plain
    JIT and from ``image`` in strict mode (a miss is an error); returns it."""
    plain = tagged_json(d, script, tag)
    served = tagged_json(d, script, tag, SNAP_SYSIMAGE=str(image), SNAP_STRICT="1")
    assert served == plain
    return plain


def app_reference(app: str) -> dict[str, str]:
    """Plain-JIT output of an app in tests/apps, without and with --extra (the ground truth)."""
    base = run([sys.executable, app])
    extra = run([sys.executable, app, "--extra"])
    assert_ok(base)
    assert_ok(extra)
    return {"base": base.stdout, "extra": extra.stdout}


@pytest.fixture(scope="session")
def kinds_image(tmp_path_factory) -> Path:
    """An image built by `snap create` from tests/apps/kinds_workload.py."""
    return build_image(tmp_path_factory, "kinds_workload.py", "kinds.so")[0]


@pytest.fixture(scope="session")
def kinds_reference() -> dict[str, str]:
    """Plain-JIT output of the kinds app (the ground truth for image runs)."""
    return app_reference("kinds_app.py")
