"""An image as the runtime holds it: opened and checked at activation, mapped at first use.

Activation reads and verifies the file, reads the manifest's header and the
payload table, and checks the image against this process (``image.compat``, the
verdict ``snap check`` gives too). The code is mapped (``dlopen``, import table,
constructors) only at the first install: a process that never runs image code
pays nothing for it, and a parfors image starts no threads at import. Numba's threading
layer is started when an entry that uses it is installed (``start_threads``), as the JIT
starts it when it compiles such code.
"""
from __future__ import annotations

from functools import cached_property
from typing import Any, Callable

import linker

from ..errors import SnapError, SnapStrictError, warn_image
from ..image.compat import verdict, what_next
from ..image.variants import Variant, choose, symbol, usable_features, variants_of
from ..image.manifest import MANIFEST_SECTION, PAYLOAD_SECTION, Entry, ManifestError, ManifestIndex
from ..image.payload import Payloads
from ..numba_seam import cpu as jit_cpu
from ..numba_seam import resolver, standins
from ..numba_seam.kinds import ImageCode, MappedImage
from ..numba_seam.pickling import loads_entry


class OpenedImage:
    """One image file, checked; its code mapped on demand (``load``)."""

    def __init__(self, path: str, *, strict: bool = False,
                 image_functions: dict[str, int] | None = None) -> None:
        self.path = path
        self.strict = strict
        try:
            image = linker.ImageFile.open(path, headers=False)   # the directory is enough
        except (linker.LinkError, OSError) as e:
            raise SnapError(f"cannot use image {path}: {_without_path(e, path)}") from None
        try:
            self.manifest = ManifestIndex.from_bytes(image.section(MANIFEST_SECTION))
            blobs = image.section(PAYLOAD_SECTION)
        except (KeyError, ManifestError) as e:
            raise SnapError(f"cannot use image {path}: {_without_path(e, path)}") from None
        # NUMBA_CPU_NAME / NUMBA_CPU_FEATURES as the JIT will use them: those at the start (its
        # codegen is made at the first dispatcher), checked again at the first install
        jit_cpu.watch_codegen()
        jit = jit_cpu.jit_target()
        try:
            problems, choice = verdict(self.manifest, jit=jit)
        except (TypeError, ValueError, AttributeError, KeyError) as e:   # fields of the wrong type
            raise SnapError(f"cannot use image {path}: corrupted manifest ({e})") from None
        if problems:
            raise SnapError(f"image {path} was built for another environment: " + "; ".join(problems)
                            + what_next(problems, choice))
        # the CPU variant whose code runs here, chosen once for the whole image, and why
        self.variant: Variant = choice.variant
        self.variant_reason: str = choice.reason
        self._jit_cpu: tuple | None = None if jit is None else jit.key()   # what the choice assumed
        self._cpu_pending = True             # the JIT's CPU not yet checked at a first install
        try:
            self.payloads = Payloads(blobs)
        except ValueError as e:
            raise SnapError(f"cannot use image {path}: corrupted payload ({e})") from None
        self._image: linker.ImageFile | None = image     # None once mapping began (or failed)
        self._content = image.content        # the bytes checked: what its code is (sha256)
        self.loaded: linker.LoadedImage | None = None
        self.mapped: MappedImage | None = None           # what placing entries needs of it
        self.load_error: str | None = None
        # mangled name -> address of every function placed so far (shared by all active
        # images): JIT code recursing into one resolves its placeholder to it (RuntimeHooks)
        self.image_functions: dict[str, int] = {} if image_functions is None else image_functions
        self._envs: dict[str, Any] = {}      # environments whose addresses are in env slots
        # function -> why the program's warning filters leave it to the JIT (warning_filters.py)
        self.filtered: dict[tuple[str, str], str] = {}
        self._resolve: "Callable[[str], int | None] | None" = None   # what mapping resolved imports with

    # ------------------------------------------------------------ mapping
    def load(self, lock, imports: "Callable[[str], int | None] | None" = None) -> bool:
        """Map the image's code once, at the first install. False if that failed, or if the
        JIT's CPU is none of its variants': warned once (an error in strict mode); the JIT
        then compiles what the image would serve."""
        if self._cpu_pending:
            with lock:
                if self._cpu_pending:
                    self._check_jit_cpu()
        if self.cpu_error is not None:
            return False
        if self.loaded is None:
            with lock:
                # _image is None from the start of _map on: mapped, failed, or (image code
                # used from inside the mapping itself) under way, which gets the JIT
                if self._image is not None:
                    self.load_error = self.map(imports)
                    if self.load_error is not None:
                        if self.strict:
                            raise SnapStrictError(f"snap: {self.load_error} (strict mode)")
                        warn_image(f"snap: {self.load_error}; running on the JIT")
        return self.loaded is not None

    cpu_error: str | None = None             # the JIT's CPU is none of the image's variants

    def _check_jit_cpu(self) -> None:
        """At the first install: the CPU the JIT compiles for, as its codegen was made (made
        now if it does not exist yet, as a first compilation would make it) -- NUMBA_CPU_NAME /
        NUMBA_CPU_FEATURES set in code after activation but before the first dispatcher count,
        later changes do not, as for the JIT. The variant is chosen again if that differs
        from what activation saw; none is exactly that code: the image is not used."""
        jit = jit_cpu.jit_target(create=True)
        if (None if jit is None else jit.key()) != self._jit_cpu:
            from ..image.host import host_facts
            features, limited_to = usable_features(host_facts()[1])
            choice = choose(variants_of(self.manifest), features, limited_to, jit)
            if choice.variant is None:
                self.cpu_error = self.load_error = f"image {self.path} cannot be used: {choice.reason}"
                self.variant_reason = f"not used: {choice.reason}"
                self._cpu_pending = False
                if self._image is not None:          # never mapped now
                    self._image.close()
                    self._image = None
                if self.strict:
                    raise SnapStrictError(f"snap: {self.cpu_error} (strict mode)")
                warn_image(f"snap: {self.cpu_error}; running on the JIT")
                return
            self.variant, self.variant_reason = choice.variant, choice.reason
        self._cpu_pending = False

    def map(self, imports: "Callable[[str], int | None] | None" = None) -> str | None:
        """dlopen, import table, constructors (None), or why not. ``imports`` resolves the
        symbols of base images first (an incremental image)."""
        image, self._image = self._image, None
        try:
            # The threading layer's entry points stay unfilled (the trap) until an entry using
            # them is installed (start_threads): the JIT starts the layer only when it compiles
            # such code. An image not saying which entries need it starts it now, as before.
            legacy = self.manifest.threads is None
            resolver.prepare_runtime(legacy and self.manifest.parfors)    # before any image code runs
            deferred = frozenset() if legacy or resolver.threads_started() else resolver.THREADING_SYMBOLS
            resolve = resolver.make_resolver()
            if imports is not None:
                numba_resolve = resolve

                def resolve(name: str) -> int | None:
                    addr = imports(name)
                    return addr if addr is not None else numba_resolve(name)
            self.loaded = image.load(resolve, deferred)
            self._resolve = resolve
            self.mapped = MappedImage(self.address, self.manifest.prefix, self.loaded)
            return None
        except linker.LinkError as e:
            return f"cannot load image {self.path}: {e}"
        except Exception as e:  # noqa: BLE001 - e.g. no threading layer, out of descriptors
            return f"cannot load image {self.path}: {type(e).__name__}: {e}"
        finally:
            image.close()

    def start_threads(self) -> None:
        """Before code of an entry using the threading layer can run (``Entry.threads``): start
        the layer (Numba's own start, once per process, as compiling that code would) and fill
        this image's slots of its entry points (left unfilled at mapping)."""
        resolver.start_threads()
        if self.loaded is not None and self.loaded.deferred:
            self.loaded.bind(self._resolve, resolver.THREADING_SYMBOLS)

    def address(self, sym: str) -> int:
        """Run-time address of the image symbol ``sym`` (the manifest's name) in the chosen
        variant's code (KeyError: no such symbol)."""
        return self.loaded.address(symbol(sym, self.manifest.prefix, self.variant))

    @cached_property
    def sha256(self) -> str:
        """SHA-256 of the bytes this process checked and runs (what an incremental image
        records of its bases): not of the file, which may have been rewritten since."""
        import hashlib
        return hashlib.sha256(self._content).hexdigest()

    @cached_property
    def compile_warnings(self) -> dict | None:
        """Every warning the training run's compilations gave, image-wide (build info; None:
        the image does not say), as runtime/warning_filters.py reads it."""
        from .warning_filters import parse
        return parse(self.manifest.build.get("compile_warnings"))

    # ------------------------------------------------------------ entries
    def payload(self, e: Entry, args: tuple | None = None) -> Any:
        """The entry's unpickled payload (resolves references against this process; a jitted
        function passed in, against ``args``: the argument types of the call it serves)."""
        return loads_entry(self.payloads[e.payload], arg_types=args)

    def fill_slots(self, e: Entry, data: Any = None, py_func: Any = None) -> dict[str, Any]:
        """Fill the address slots and environment slots the entry's code reads (once per
        entry; its environments by name). Also for an entry of a base image whose code an
        image built on top of it calls without installing it. ``py_func``: the function it
        is installed for (an address in its closure)."""
        if data is None:
            data = self.payload(e)
        prefix = self.manifest.prefix
        addr = self.address
        if e.dynamic:
            from ..numba_seam import addresses as address_slots   # only images with slots need it
            address_slots.fill_slots(e.dynamic, addr, py_func)    # before anything can call the code
        envs = {}
        for env_sym in e.envs:
            name = env_sym[len(prefix):]
            env = self._envs.get(name)
            if env is None:
                module_name, consts = data.envs.get(name, (e.module, []))
                env = standins.make_environment(module_name, consts, name)
                standins.set_env_slot(addr(env_sym), env)
                # The slot holds a bare pointer, and Numba's registry of environments is weak:
                # keep each one alive as long as the image's code may run (the process), also
                # those of callees whose own entries are never installed.
                self._envs[name] = env
            envs[name] = env
        return envs

    def code(self, e: Entry, targetctx, data: Any = None, py_func: Any = None) -> ImageCode:
        """What every kind of entry needs from the image: payload, address slots and
        environments filled, the function descriptor and the library standing in for it."""
        if data is None:
            data = self.payload(e)
        envs = self.fill_slots(e, data, py_func)
        prefix = self.manifest.prefix
        addr = self.address
        mangled = e.symbols["function"][len(prefix):]
        env_name = e.symbols["env"][len(prefix):]
        env = envs.get(env_name) or standins.make_environment(e.module, [], env_name)
        addresses = {role_sym[len(prefix):]: addr(role_sym) for role_sym in e.symbols.values()}
        self.image_functions[mangled] = addresses[mangled]
        fndesc = standins.make_fndesc(data.fndesc, mangled, env_name, data.args, data.return_type)
        library = standins.ImageLibrary(f"{e.module}.{e.qualname}", addresses, prefix, fndesc, targetctx,
                                        entry=(e.module, e.qualname, e.code))
        return ImageCode(data, env, fndesc, library)


def _without_path(e: Exception, path: str) -> str:
    """An error's message without the path the caller names already (said once)."""
    if isinstance(e, OSError) and e.strerror:
        return e.strerror.lower() if e.strerror[:1].isupper() and e.strerror[1:2].islower() else e.strerror
    msg = str(e)
    return msg[len(path) + 2:] if msg.startswith(path + ": ") else msg

