"""Imported by test programs: with SNAPTEST_FORBID_COMPILE=1, every Numba compiler
entry point raises, so any JIT compilation fails loudly. This is how tests prove
that an image served a call with zero compilation."""
import os


class CompilationForbidden(AssertionError):
    pass


def forbid() -> None:
    import numba  # noqa: F401  (also activates an image, if one is configured)
    from snapshot.numba_seam import compiler_entry_points
    from snapshot.numba_seam.inspection import inspecting
    for owner, name in compiler_entry_points():
        def boom(*a, _name=f"{getattr(owner, '__name__', owner)}.{name}",
                 _orig=getattr(owner, name), **k):
            if inspecting():      # compiled again for an inspection: no served call
                return _orig(*a, **k)
            raise CompilationForbidden(f"Numba compiler entry point {_name} was called")
        setattr(owner, name, boom)


if os.environ.get("SNAPTEST_FORBID_COMPILE") == "1":
    forbid()
