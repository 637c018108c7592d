"""``snap doctor``: is snap set up in this Python, and which image would each way of starting use?"""
from __future__ import annotations

import os
import site
import subprocess
import sys

from ..image.untrusted import read_regular

HOOK_MODULE = "snapshot.startup"
_MAX_PTH = 1 << 20


def hook_files() -> list[str]:
    """The .pth files of this interpreter's site directories that start snap's start-up hook."""
    dirs = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    found = []
    for d in dict.fromkeys(dirs):
        try:
            names = sorted(os.listdir(d))
        except OSError:
            continue
        for name in names:
            if name.endswith(".pth"):
                path = os.path.join(d, name)
                try:        # (a regular file of bounded size: image/untrusted.py)
                    if HOOK_MODULE.encode() in read_regular(path, _MAX_PTH):
                        found.append(path)
                except OSError:
                    pass
    return found


def hook_works() -> tuple[bool, str]:
    """Start this interpreter with SNAP_SYSIMAGE set: does the hook load (without importing numba)?"""
    probe = "import sys; print('%s' in sys.modules)" % HOOK_MODULE
    env = {**os.environ, "SNAP_SYSIMAGE": os.devnull}
    try:
        p = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True,
                           timeout=60, cwd=os.path.expanduser("~") if os.path.isdir(os.path.expanduser("~"))
                           else "/")
    except (OSError, subprocess.SubprocessError) as e:
        return False, f"cannot start {sys.executable}: {e}"
    if p.returncode != 0:
        return False, (p.stderr.strip().splitlines() or ["failed"])[-1]
    return p.stdout.strip() == "True", ""


def _image(path: str | None, source: str) -> dict | None:
    if not path:
        return None
    from ..errors import SnapError
    from .check import check_image
    doc = {"source": source, "path": path, "exists": os.path.isfile(path), "would_serve": False}
    if not doc["exists"]:
        doc["detail"] = "does not exist"
        return doc
    try:
        rep = check_image(path)
    except SnapError as e:
        doc["detail"] = " ".join(str(e).split())
        return doc
    doc["would_serve"] = rep.ok
    doc["detail"] = rep.summary
    return doc


def diagnose() -> dict:
    from ..errors import SnapError
    from ..project import load
    files = hook_files()
    works, why = hook_works()
    env_image = os.environ.get("SNAP_SYSIMAGE") or None
    try:
        config = load()
        project, project_error = config.output, None
        pyproject = str(config.path) if config.path else None
    except SnapError as e:
        project, project_error, pyproject = None, str(e), None
    import numba
    doc = {
        "python": sys.executable, "python_version": sys.version.split()[0], "numba": numba.__version__,
        "hook": {"installed": works, "files": files, "detail": why},
        "pyproject": pyproject, "project_error": project_error,
        "images": {"SNAP_SYSIMAGE": _image(env_image, "SNAP_SYSIMAGE"),
                   "project": _image(project, "[tool.snap] output")},
    }
    # Which image each way of starting a program uses (without --sysimage):
    doc["uses"] = {
        "python app.py": env_image if works else None,
        "snap run app.py": env_image or project,
    }
    named = [i for i in doc["images"].values() if i is not None]
    doc["ok"] = works and project_error is None and all(i["would_serve"] for i in named)
    return doc


def render(doc: dict, out) -> None:
    from ..printable import markup as esc     # what an image says never drives the terminal
    ok, bad = "[green]ok[/]", "[bold red]PROBLEM[/]"
    out.print(f"python             {esc(doc['python'])} ({doc['python_version']}, numba {doc['numba']})")
    hook = doc["hook"]
    if hook["installed"]:
        out.print(f"start-up hook      {ok}: SNAP_SYSIMAGE=my.so python app.py starts from the image "
                  f"({esc(', '.join(hook['files']) or 'loaded')})")
    else:
        where = esc(", ".join(hook["files"])) if hook["files"] else "no snap .pth file in site-packages"
        out.print(f"start-up hook      {bad}: not installed in this Python ({where}"
                  + (f"; {esc(hook['detail'])}" if hook["detail"] else "")
                  + "): SNAP_SYSIMAGE is ignored by `python app.py`; reinstall snap "
                    "(pip install snap-sysimage, or pip install -e . in its source tree), "
                    "or use `snap run`")
    if doc["project_error"]:
        out.print(f"project            {bad}: {esc(doc['project_error'])}")
    elif doc["pyproject"]:
        out.print(f"project            {esc(doc['pyproject'])}")
    for key, img in doc["images"].items():
        label = esc("SNAP_SYSIMAGE     " if key == "SNAP_SYSIMAGE" else "[tool.snap] output")
        if img is None:
            out.print(f"{label} (not set)")
        else:
            out.print(f"{label} {esc(img['path'])}: {ok if img['would_serve'] else bad}: "
                      f"{esc(img['detail'])}")
    for how, image in doc["uses"].items():
        out.print(f"{how:<18} -> " + (esc(image) if image else "no image (runs on the JIT)"))
