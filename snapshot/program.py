"""Running the user's program as ``__main__``: ``snap run`` runs the app this way, and
the training run of ``snap create`` its workloads, so both see what ``python app.py``
would (``sys.argv``, ``sys.path[0]``, ``__file__``, tracebacks that start at the script)."""
from __future__ import annotations

import os
import sys


def exec_script(path: str, args: list[str]) -> None:
    """Run a script as ``__main__`` exactly like ``python path args...`` would set it up.

    Not ``runpy.run_path``: it rewrites ``sys.argv[0]`` to the absolute path.
    """
    import importlib.machinery
    import types
    app_path = os.path.abspath(path)   # the interpreter makes __file__ absolute too
    with open(app_path, "rb") as f:
        code = compile(f.read(), app_path, "exec", dont_inherit=True)
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=app_path, __cached__=None, __package__=None, __spec__=None,
                         __loader__=importlib.machinery.SourceFileLoader("__main__", app_path),
                         __builtins__=__builtins__)
    sys.argv = [path, *args]
    sys.path[0] = os.path.dirname(app_path)
    launcher_main = sys.modules.get("__main__")   # keep our own __main__ alive meanwhile
    sys.modules["__main__"] = main
    try:
        exec(code, main.__dict__)
    finally:
        del launcher_main


def debug() -> bool:
    return os.environ.get("SNAP_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


def print_user_traceback(e: BaseException, path: str) -> None:
    """Print a traceback that starts at the script's frame, as the interpreter would."""
    if debug():     # SNAP_DEBUG=1: every frame, snap's own included
        sys.excepthook(type(e), e, e.__traceback__)
        return
    app_path = os.path.abspath(path)
    tb = e.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != app_path:
        tb = tb.tb_next
    e.__traceback__ = tb or e.__traceback__
    sys.excepthook(type(e), e, e.__traceback__)
