"""Numba's code generation replayed for another CPU (the variants of ``snap create --cpu A,B``).

What Numba compiles for one CPU is decided in two halves. Typing and lowering
produce LLVM IR that does not depend on the CPU (nothing in Numba's lowering asks
about it); everything after that does: each IR module added to a code library
gets function passes, the library links its callees' finished modules
(``_get_module_for_linking``: the callee's IR *after* the JIT's backend rewrote
it in place), then module passes, then the backend -- all with a target machine
for ``config.CPU_NAME`` / ``CPU_FEATURES``, whose cost models decide inlining,
vectorization width and (with fast-math) FMA contraction and reassociation, so
results can differ in their last bits from one CPU level to another.

The training run therefore keeps what goes *into* the second half: every IR
module a library receives, before its function passes (``record_inputs``, as
bitcode), and the libraries each one links, in order (Numba's
``_linking_libraries``). ``library_records`` turns that into plain data
(``LibraryRecord``: it crosses to a helper process), and a ``Replay`` re-runs the
second half for another CPU with Numba's own classes (a ``JITCPUCodegen`` made
while ``config`` names that CPU; its libraries' ``add_llvm_module``,
``add_linking_library`` and ``finalize``), library by library in the order the
training run finalized them. Each replayed library's final module is what a JIT
process on that CPU would have compiled, pass for pass: replayed for the training
run's own CPU it compiles to the very code the training run recorded (a test
holds the build to that).
"""
from __future__ import annotations

from typing import Any, NamedTuple

from . import Patches

INPUTS = "_snap_inputs"          # on a CPUCodeLibrary: bitcode of the IR modules it received
JIT_IR = "_snap_jit_ir"          # on a CPUCodeLibrary: its final module as the backend received it


def record_inputs(patches: Patches) -> None:
    """Keep the bitcode of every IR module a code library receives, before Numba optimizes it."""
    from numba.core import codegen

    def add_llvm_module(orig, self, ll_module):
        inputs = self.__dict__.get(INPUTS)
        if inputs is None:
            inputs = self.__dict__[INPUTS] = []
        inputs.append(ll_module.as_bitcode())
        return orig(self, ll_module)

    patches.wrap(codegen.CPUCodeLibrary, "add_llvm_module", add_llvm_module)


def keep_jit_ir(library) -> None:
    """Clone ``library``'s final module as the backend is about to receive it.

    The JIT's backend mutates the module it compiles (CodeGenPrepare, loop strength
    reduction, constant hoisting run on the IR in place), and compiling that mutated IR
    again can give other code: the image compiles the IR exactly as the JIT's backend
    received it."""
    library.__dict__[JIT_IR] = library._final_module.clone()


class LibraryKeys:
    """Library object -> a small integer key, in first-seen order (the objects kept alive)."""

    def __init__(self) -> None:
        self.libraries: list = []
        self._keys: dict[int, int] = {}

    def __call__(self, lib) -> int:
        k = self._keys.get(id(lib))
        if k is None:
            k = self._keys[id(lib)] = len(self.libraries)
            self.libraries.append(lib)
        return k


class LibraryRecord(NamedTuple):
    """What replaying one code library needs (plain data)."""
    key: int
    name: str
    inputs: list[bytes]           # bitcode of each IR module it received, in order
    deps: list[int]               # keys of the libraries it links, in order
    fixed: bytes | None = None    # linked as it is: bitcode of its module for linking


class ReplayError(Exception):
    """A library whose code cannot be generated again for another CPU (why, in the message)."""


def library_records(lib, keys: LibraryKeys, sent: set[int]) -> list[LibraryRecord]:
    """The records of ``lib`` and of whatever it links that is not in ``sent`` yet, callees
    first (``sent`` is updated)."""
    out: list[LibraryRecord] = []

    def visit(lib) -> int:
        key = keys(lib)
        if key in sent:
            return key
        sent.add(key)
        inputs = lib.__dict__.get(INPUTS) if hasattr(lib, "__dict__") else None
        if inputs is None:
            out.append(LibraryRecord(key, lib.name, [], [], _fixed_module(lib).as_bitcode()))
            return key
        deps = [visit(d) for d in lib._linking_libraries]
        out.append(LibraryRecord(key, lib.name, list(inputs), deps))
        return key

    visit(lib)
    return out


def _fixed_module(lib):
    """The module an unrecorded library is linked with, if its code does not depend on the
    CPU: an active image's stand-in (``standins.ImageLibrary``), whose definitions only
    forward to the image. Anything else was compiled before the recording began."""
    from .standins import ImageLibrary
    if isinstance(lib, ImageLibrary):
        return lib._get_module_for_linking()
    raise ReplayError(f"code library {lib.name!r} was compiled before the training run recorded its IR")


class _Fixed:
    """A library linked as it is (see ``_fixed_module``)."""
    _reload_init: set = set()

    def __init__(self, name: str, module) -> None:
        self.name, self._module = name, module

    def _ensure_finalized(self) -> None:
        pass

    def _get_module_for_linking(self):
        return self._module


# x86 intrinsics name the extension they need: llvm.x86.<token>.<op>
_X86_INTRINSIC = "llvm.x86."
_TOKEN_FEATURES = {"sse41": ("sse4.1",), "sse42": ("sse4.2",), "avx512": ("avx512f",),
                   "bmi": ("bmi", "bmi2"),      # llvm.x86.bmi.* has BMI1 and BMI2 instructions
                   "vcvtph2ps": ("f16c",), "vcvtps2ph": ("f16c",)}


def intrinsics_beyond(module, features: frozenset[str]) -> list[str]:
    """The x86 intrinsics ``module`` declares that need a feature outside ``features``.

    Numba's own lowering never calls one: an extension (``@intrinsic``) chose it for the
    CPU it was lowered on. Generated for a CPU without the feature, LLVM cannot select it
    (a fatal error, not an exception): refused before, with the names."""
    out = []
    for f in module.functions:
        if f.is_declaration and f.name.startswith(_X86_INTRINSIC):
            token = f.name[len(_X86_INTRINSIC):].split(".", 1)[0]
            if not set(_TOKEN_FEATURES.get(token, (token,))) <= features:
                out.append(f.name)
    return out


class Replay:
    """Numba's optimization and backend, re-run library by library for one CPU."""

    def __init__(self, cpu_name: str, features: str, required: frozenset[str] = frozenset()) -> None:
        """``required``: the features code for this CPU may use (x86 intrinsics are checked
        against them; empty: not checked)."""
        from numba.core import codegen, config

        class Library(codegen.JITCodeLibrary):
            def _finalize_final_module(self):
                keep_jit_ir(self)
                # The JIT's backend rewrites the module in place (and callers link the
                # rewritten module): the same target machine's backend does the same here,
                # into an object that is thrown away -- nothing is loaded or resolved.
                self._codegen._tm.emit_object(self._final_module)
                self._finalized = True

        class Codegen(codegen.JITCPUCodegen):
            _library_class = Library

        saved = config.CPU_NAME, config.CPU_FEATURES
        # the target machine (and its features) is made once, in the constructor, from config
        config.CPU_NAME, config.CPU_FEATURES = cpu_name, features
        try:
            self._codegen = Codegen("snap-replay")
        finally:
            config.CPU_NAME, config.CPU_FEATURES = saved
        self._libraries: dict[int, Any] = {}
        self._required = required
        self._cpu = cpu_name

    def add(self, rec: LibraryRecord) -> None:
        """Compile one recorded library for this CPU (the libraries it links come first)."""
        import llvmlite.binding as ll
        from numba.core.compiler_lock import global_compiler_lock
        if rec.fixed is not None:
            self._libraries[rec.key] = _Fixed(rec.name, ll.parse_bitcode(rec.fixed))
            return
        modules = [ll.parse_bitcode(bitcode) for bitcode in rec.inputs]
        if self._required:
            beyond = sorted({n for m in modules for n in intrinsics_beyond(m, self._required)})
            if beyond:
                raise ReplayError(f"the code of {rec.name} calls {', '.join(beyond)}: x86 intrinsics that "
                                  f"need features {self._cpu} lacks (an extension chose them for the CPU "
                                  f"it was lowered on); leave {self._cpu} out of --cpu")
        with global_compiler_lock:
            new = self._codegen.create_library(rec.name)
            for mod in modules:
                new.add_llvm_module(mod)
            for dep in rec.deps:
                new.add_linking_library(self._libraries[dep])
            new.finalize()
        self._libraries[rec.key] = new

    def module(self, key: int) -> Any:
        """Library ``key``'s final module for this CPU, as its backend received it (KeyError:
        not replayed)."""
        lib = self._libraries[key]
        if isinstance(lib, _Fixed):
            return lib._get_module_for_linking()
        return lib.__dict__[JIT_IR]
