"""Serving @guvectorize gufuncs (and parallel @vectorize ufuncs) from an activated image.

A builder asks for each eager (or, for a dynamic gufunc, call-time) signature
with ``add``; when the image holds a fresh entry for that function, builder
identity and argument types, the builder gets the image's kernel and loop
instead of compiling. Anything else (no entry, stale code, a broken entry) goes
to the JIT, with the same warnings and miss reports as dispatchers.
"""
from __future__ import annotations

from typing import Any

from .fingerprint import Unfingerprintable, canonical_options, closure_fingerprint, code_fingerprint
from .manifest import Entry
from .numba_seam import type_str
from .numba_seam.gufunc import GUFUNC_KINDS, GufuncHooks, builder_identity, make_image_cres, signature_args
from .payload import loads_entry


def builder_options_text(options: dict, facts: dict) -> str:
    """The ``options`` text of a builder entry: target options + what the builder adds."""
    facts = dict(facts)
    code = facts.pop("exec_code", None)
    if code is not None:
        facts["code"] = code_fingerprint(code)
    return canonical_options(options) + ";builder=" + canonical_options(facts)


def args_text(args: tuple) -> str:
    return "(" + ", ".join(map(type_str, args)) + ")"


class GufuncServer:
    """The runtime's builder hooks: match an ``add`` to an image entry and build its stand-in."""

    def __init__(self, runtime) -> None:
        self.rt = runtime
        self.hooks = GufuncHooks(self.on_add)
        self.has_entries = bool(set(runtime.manifest.kinds) & set(GUFUNC_KINDS))

    def install(self) -> None:
        self.hooks.install()

    def on_add(self, builder, sig) -> Any:
        cres = None
        if self.has_entries:
            try:
                cres = self._serve(builder, sig)
            except Exception as exc:  # noqa: BLE001 - never break the program: the JIT takes over
                if self.rt.strict:
                    raise
                if "internal" not in self.rt._warned:       # once, like the dispatcher hooks
                    self.rt._warned.add("internal")
                    from .runtime import warn
                    warn(f"snap: internal error serving a gufunc ({type(exc).__name__}: {exc}); "
                         "the JIT takes over")
                cres = None
        if cres is None:
            self.rt.on_compile(builder, sig)      # miss report / strict mode
        return cres

    def _serve(self, builder, sig) -> Any:
        rt = self.rt
        py_func = builder.py_func
        key = (py_func.__module__, py_func.__qualname__)
        if key not in rt.manifest.by_func:
            return None
        entries = rt.manifest.entries_of(*key)
        with rt._lock:
            want = args_text(signature_args(sig)) + " -> "
            options = builder_options_text(*builder_identity(builder))
            closure: Any = ...
            for e in entries:
                if e.kind not in GUFUNC_KINDS or e.options != options or not e.signature.startswith(want):
                    continue
                if closure is ...:
                    try:
                        closure = closure_fingerprint(py_func)
                    except Unfingerprintable:
                        closure = "?"
                if e.closure != closure:
                    continue
                stale = rt._fresh.stale_function(e, py_func)
                if stale is not None:
                    rt._stale(stale, e)
                    return None
                try:
                    return self._install(builder, e)
                except Exception as exc:  # noqa: BLE001 - a broken entry must not break the program
                    rt._unusable(e, exc)
                    return None
        return None

    def _install(self, builder, e: Entry) -> Any:
        from .numba_seam import install as seam
        rt = self.rt
        data = loads_entry(rt._blobs[e.payload])
        prefix = rt.manifest.prefix
        addr = rt.loaded.address
        envs = {}
        for env_sym in e.envs:
            name = env_sym[len(prefix):]
            module_name, consts = data.envs.get(name, (e.module, []))
            env = seam.make_environment(module_name, consts, name)
            seam.set_env_slot(addr(env_sym), env)
            envs[name] = env
        mangled = e.symbols["function"][len(prefix):]
        env_name = e.symbols["env"][len(prefix):]
        env = envs.get(env_name) or seam.make_environment(e.module, [], env_name)
        addresses = {sym[len(prefix):]: addr(sym) for sym in e.symbols.values()}
        from . import runtime
        if runtime._hooks is not None:
            runtime._hooks.image_functions[mangled] = addresses[mangled]
        fndesc = seam.make_fndesc(data.fndesc, mangled, env_name, data.args, data.return_type)
        targetctx = builder.nb_func.targetdescr.target_context
        library = seam.ImageLibrary(f"{e.module}.{e.qualname}", addresses, prefix, fndesc, targetctx)
        cres = make_image_cres(builder, fndesc=fndesc, library=library, env=env, args=data.args,
                               return_type=data.return_type, loop_address=addr(e.symbols["loop"]))
        rt.installed += 1
        return cres
