"""``snap doctor``: is snap set up in this Python, and which image would each way of starting use?"""
from __future__ import annotations

import os
import site
import subprocess
import sys

from ..image.untrusted import read_regular

HOOK_MODULE = "snapshot.startup"
_MAX_PTH = 1 << 20


def site_dirs() -> list[str]:
    """This interpreter's site-packages directories (the user's too, where enabled), once each."""
    dirs = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return list(dict.fromkeys(dirs))


def hook_files() -> list[str]:
    """The .pth files of this interpreter's site directories that start snap's start-up hook."""
    found = []
    for d in site_dirs():
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


def _image(path: str | None, source: str, others: list[str] = ()) -> dict | None:
    if not path:
        return None
    from ..errors import SnapError
    from .check import check_image
    doc = {"source": source, "path": path, "exists": os.path.isfile(path), "would_serve": False}
    if not doc["exists"]:
        doc["detail"] = "does not exist"
        return doc
    try:
        rep = check_image(path, others=list(others))
    except SnapError as e:
        doc["detail"] = " ".join(str(e).split())
        return doc
    doc["would_serve"] = rep.ok
    doc["detail"] = rep.summary
    return doc


def library_images() -> list[dict]:
    """Library images shipped inside installed packages (``PKG/_snap/*.so`` in site-packages):
    each package activates its own when imported (``snapshot.activate_package``)."""
    from ..image.packaged import PACKAGE_DIR
    found = []
    for d in site_dirs():
        try:
            packages = sorted(os.listdir(d))
        except OSError:
            continue
        for pkg in packages:
            shipped = os.path.join(d, pkg, PACKAGE_DIR)
            try:
                names = sorted(n for n in os.listdir(shipped) if n.endswith(".so"))
            except OSError:
                continue
            found += [{"package": pkg, "path": os.path.join(shipped, n)} for n in names]
    return found


def diagnose() -> dict:
    from ..errors import SnapError
    from ..project import load
    files = hook_files()
    works, why = hook_works()
    from ..startup import images_of
    env_image = os.environ.get("SNAP_SYSIMAGE") or None
    env_images = images_of(env_image or "")         # a.so:b.so is two images, the first first
    strict = os.environ.get("SNAP_STRICT", "").strip().lower() not in ("", "0", "false", "no")
    project_strict = False
    try:
        config = load()
        project, project_error = config.output, None
        project_strict = config.strict
        pyproject = str(config.path) if config.path else None
    except SnapError as e:
        project, project_error, pyproject = None, str(e), None
    from importlib.metadata import version      # (numba not imported: nothing here runs it)
    images = {"SNAP_SYSIMAGE": _image(env_images[0] if env_images else None, "SNAP_SYSIMAGE", env_images[1:])}
    for i, path in enumerate(env_images[1:], 2):
        images[f"SNAP_SYSIMAGE #{i}"] = _image(path, f"SNAP_SYSIMAGE #{i}", env_images[:i - 1])
    images["project"] = _image(project, "[tool.snap] output")
    doc = {
        "python": sys.executable, "python_version": sys.version.split()[0], "numba": version("numba"),
        "hook": {"installed": works, "files": files, "detail": why},
        "pyproject": pyproject, "project_error": project_error, "project_strict": project_strict,
        "images": images, "library_images": library_images(),
    }
    # Which image each way of starting a program uses (without --sysimage):
    doc["uses"] = {
        "python app.py": env_image if works else None,
        "snap run app.py": env_image or project,
    }
    # ... and whether a miss is an error there
    doc["strict"] = {"python app.py": strict, "snap run app.py": strict or (not env_image and project_strict)}
    named = [i for i in images.values() if i is not None]
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
        label = esc(f"{key:<18}" if key.startswith("SNAP_SYSIMAGE") else "[tool.snap] output")
        if img is None:
            out.print(f"{label} (not set)")
        else:
            detail = img["detail"]
            for verdict in ("ok: ", "not served: ", "partly served: "):   # said once, by the mark
                if detail.startswith(verdict):
                    detail = detail[len(verdict) if verdict == "ok: " else 0:]
            for sep in (": ", " "):                        # and the path once, before it
                if detail.startswith(img["path"] + sep):
                    detail = detail[len(img["path"]) + len(sep):]
                    break
            out.print(f"{label} {esc(img['path'])}: {ok if img['would_serve'] else bad}: {esc(detail)}")
    for lib in doc["library_images"]:
        out.print(f"library image      {esc(lib['package'])}: {esc(lib['path'])} (activated by the package "
                  "when it is imported)")
    for how, image in doc["uses"].items():
        strict = " (strict: a miss is an error" + (", from \\[tool.snap]" if how.startswith("snap")
                                                    and not doc["strict"]["python app.py"] else "") + ")"
        out.print(f"{how:<18} -> " + (esc(image) if image else "no image (runs on the JIT)")
                  + (strict if image and doc["strict"][how] else ""))
