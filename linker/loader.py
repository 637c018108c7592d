"""Open, verify and load images written by ``link``.

``ImageFile`` reads the file once and checks the bytes it read without executing
anything; ``load`` dlopens *those bytes*: a private copy, held in a sealed
anonymous file (``memfd_create``, sealed against writing, shrinking and growing),
dlopened as ``/proc/<pid>/fd/N``. What runs is exactly what was checked, whatever
happens to the file afterwards: replaced by a rename, rewritten in place (``cp``,
``rsync --inplace``) or truncated, before or after the load. A shared library
dlopened from its file has neither guarantee: its pages *are* the file's (an
in-place write changes the code of a running process, a truncation kills it with
SIGBUS on the next page it touches), and so would a mapping of the image file
read at activation. (A large file nobody can change -- immutable, fs-verity --
is mapped and loaded itself: no copy needed.) The import table is then filled from the image directory
(found with one ``dlsym``), import fixups written, the table made read-only
and constructors run -- in that order, which is why constructors are not
left to ld.so.  Images are never dlclosed.
"""
from __future__ import annotations

import collections
import ctypes
import errno
import fcntl
import mmap
import os
import stat
import struct
import threading
import zlib
from collections.abc import Callable, Iterable
from functools import cached_property

import numpy as np

from . import elf, imagedir
from .errors import LinkError

_libc = ctypes.CDLL(None, use_errno=True)
_dlopen = _libc.dlopen
_dlopen.restype, _dlopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_int]
_dlsym = _libc.dlsym
_dlsym.restype, _dlsym.argtypes = ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_char_p]
_dlerror = _libc.dlerror
_dlerror.restype, _dlerror.argtypes = ctypes.c_char_p, []
_mprotect = _libc.mprotect
_mprotect.restype, _mprotect.argtypes = ctypes.c_int, [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
PROT_READ, PROT_WRITE = 1, 2
_VOIDFN = ctypes.CFUNCTYPE(None)

_lock = threading.RLock()                    # re-entrant: resolve() or a constructor may load
_loaded: dict[int, "LoadedImage"] = {}      # dlopen handle -> image (glibc dedups by name, inode)

Resolver = Callable[[str], "int | None"]


def _free_lock_in_child() -> None:
    """A child forked while another thread was loading an image: that thread is not in the
    child, so its hold on ``_lock`` is dropped (the forking thread's own hold is kept)."""
    if not _lock._is_owned():
        if _lock.acquire(blocking=False):
            _lock.release()
        else:
            _lock._at_fork_reinit()


os.register_at_fork(after_in_child=_free_lock_in_child)

_EHDR = struct.Struct("<HHIQQQIHHHHHH")          # Elf64_Ehdr after e_ident
_SHDR = struct.Struct("<IIQQQQIIQQ")             # Elf64_Shdr
_Shdr = collections.namedtuple("_Shdr", "name type flags addr offset size link info addralign entsize")
_SECTAB = struct.Struct("<4Q")                   # imagedir.SECTAB, read with struct
# From this size an image is copied into its sealed anonymous file at open (through one small
# buffer, checksummed on the way) and read from a mapping of that copy; smaller ones are read
# into memory, and copied into a sealed file at load: cheaper at activation for them.
_MAP_FROM = 256 << 10
_CHUNK = 64 << 10                                # the copy's buffer: stays in cache between read and write
_MFD_NOEXEC_SEAL = 0x0008                        # linux/memfd.h (Python 3.11's os lacks it)
_F_SEAL_FUTURE_WRITE = 0x0010                    # linux/fcntl.h (Python 3.11's fcntl lacks it)
_SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE
_ZERO4 = bytes(4)
_FS_IOC_GETFLAGS = 0x80086601                    # _IOR('f', 1, long)
_UNCHANGEABLE = 0x10 | 0x100000                  # FS_IMMUTABLE_FL (chattr +i), FS_VERITY_FL (fs-verity)


def _read_all(fd: int, size: int) -> bytes:
    """``size`` bytes (fewer at end of file) with plain read(2)s: a file object adds five
    system calls, at 15-20 us each in a VM. ``size`` 0: read to the end."""
    chunks, got = [], 0
    while not size or got < size:
        chunk = os.read(fd, size - got if size else 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _fail(path: str, msg: str) -> LinkError:
    return LinkError(f"{path}: {msg}")


def _sealed_file(path: str) -> int:
    """A new anonymous file, to be filled, then sealed by ``_seal``. Its name shows in
    /proc/<pid>/maps as ``/memfd:snap:<file name> (deleted)``: which image the code is
    (cut to 200 bytes: the kernel refuses names over 249). Not executable as a program
    (MFD_NOEXEC_SEAL, Linux 6.3+; dlopen maps it all the same): what vm.memfd_noexec=2
    requires, and nothing anyone could exec."""
    name = os.fsencode(f"snap:{os.path.basename(path)}")[:200]
    flags = os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING
    try:
        return os.memfd_create(name, flags | _MFD_NOEXEC_SEAL)
    except OSError as e:
        if e.errno != errno.EINVAL:          # EINVAL: a kernel before 6.3 (no such flag)
            raise
        return os.memfd_create(name, flags)


def _seal(fd: int) -> None:
    """Nobody, this process included, can change, shrink or grow the file from now on.

    ``F_SEAL_WRITE`` first waits for every extra reference the kernel holds on the file's
    pages to go (``memfd_wait_for_pins``, ~150 ms at most) and fails with EBUSY if one stays:
    seen under memory pressure (page migration, reclaim; a process with four others
    building images: "device or resource busy", and the whole run on the JIT). Nothing
    ever mapped this file writable, so ``F_SEAL_FUTURE_WRITE`` (Linux 5.1), which refuses
    every write and writable mapping from now on without that wait, guarantees the same."""
    try:
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)
    except OSError as e:
        if e.errno != errno.EBUSY:
            raise
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS & ~fcntl.F_SEAL_WRITE | _F_SEAL_FUTURE_WRITE)


def _write_all(fd: int, data) -> None:
    mv = memoryview(data)
    while mv:
        mv = mv[os.write(fd, mv):]


def _unchangeable(fd: int) -> bool:
    """Whether nobody can change the file's bytes: immutable (``chattr +i``, short of root
    clearing the flag first) or fs-verity. Such a file needs no copy: it is mapped and
    dlopened itself, so its pages are shared between processes and profilers reading the
    file after the process name its functions."""
    try:
        flags = int.from_bytes(fcntl.ioctl(fd, _FS_IOC_GETFLAGS, bytes(8))[:4], "little")
    except OSError:                  # a file system without such flags
        return False
    return bool(flags & _UNCHANGEABLE)


def _crc_field(head) -> int | None:
    """Where the checksum field is, if the image directory is where the linker puts it
    (right after the program headers, as ``ImageFile._parse`` looks first)."""
    if len(head) < 64 or head[:4] != elf.ELFMAG:
        return None
    ehdr = _EHDR.unpack_from(head, 16)
    phoff, phnum = ehdr[4], ehdr[9]
    at = elf.align_up(phoff + phnum * elf.PHDR.itemsize, 8) + imagedir.CRC_OFFSET
    return at if at + 4 <= len(head) else None


def _copy_sealed(src: int, path: str) -> "tuple[int, mmap.mmap | bytes, tuple[int, int] | None]":
    """The file ``src`` to its end, copied into a sealed anonymous file: (its descriptor, a
    private read-only mapping of it, (position of the checksum field, checksum) of exactly
    the bytes copied, or None if the field is not in the first chunk).

    One buffer carries each chunk from the file, through the checksum, into the copy: the
    bytes checked are the bytes copied, and no mapping of the image file is ever read (a
    mapping of a file that shrinks raises SIGBUS)."""
    fd = _sealed_file(path)
    try:
        buf = memoryview(bytearray(_CHUNK))
        crc: tuple[int, int] | None = None
        total = 0
        while True:
            k = os.readv(src, [buf])
            if not k:
                break
            chunk = buf[:k]
            if not total:
                at = _crc_field(chunk)
                if at is not None:
                    crc = (at, zlib.crc32(chunk[at + 4:], zlib.crc32(_ZERO4, zlib.crc32(chunk[:at]))))
            elif crc is not None:
                crc = (crc[0], zlib.crc32(chunk, crc[1]))
            _write_all(fd, chunk)
            total += k
        _seal(fd)
        # MAP_PRIVATE: a shared mapping of a write-sealed file is refused before Linux 6.7;
        # nothing can change the file, so a private read-only mapping sees the copy as is
        data = mmap.mmap(fd, total, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ) if total else b""
        return fd, data, crc
    except BaseException:
        os.close(fd)
        raise


class ImageFile:
    """An image opened from disk but not loaded: safe on untrusted files (never executes or dlopens)."""

    def __init__(self, path: str, fd: int, data: bytes | mmap.mmap, verify: bool,
                 headers: bool = True, *, sealed: bool = False,
                 checksum: tuple[int, int] | None = None) -> None:
        """``fd`` -1: ``data`` given by the caller, never loadable. Otherwise owned (closed by
        close/__del__ once the file checked out): with ``sealed``, a file whose bytes are
        ``data`` and cannot change (the sealed copy, an immutable file), which ``load``
        dlopens; else the image file ``data`` was read from (``load`` copies ``data``).
        ``checksum``: (field position, checksum) computed while copying (``_copy_sealed``)."""
        self.path, self._fd, self._data, self._sealed = str(path), -1, data, sealed
        self._checksum = checksum
        self._parse(verify, headers)
        self._fd = fd

    @classmethod
    def open(cls, path, *, verify: bool = True, headers: bool = True) -> "ImageFile":
        """``headers=False``: read the section headers only if a query needs them (activation
        needs the image directory alone; the checksum still covers the whole file)."""
        # non-blocking: opening a FIFO named like an image waits for a writer forever
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):    # a FIFO blocks, a device (/dev/zero) never ends
                raise _fail(os.fspath(path), "not a regular file, not a snap image")
            # (O_NONBLOCK left set: it changes nothing for a regular file's reads, and clearing
            # it would cost two more system calls)
            if st.st_size >= _MAP_FROM:
                if _unchangeable(fd):       # (asked of large files only: ~10 us at the first ask)
                    # a mapping of a file nobody can change cannot change or shrink either
                    data = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
                    return cls(os.fspath(path), fd, data, verify, headers, sealed=True)
                # Copied now, not mapped: a mapping of the image file would change with it
                # (rewritten in place) or raise SIGBUS (truncated) when the manifest or a
                # payload is read later. (Reading into fresh memory cost more than this copy.)
                code, data, checksum = _copy_sealed(fd, os.fspath(path))
                os.close(fd)
                fd = code
                return cls(os.fspath(path), fd, data, verify, headers, sealed=True, checksum=checksum)
            data = _read_all(fd, st.st_size)
            return cls(os.fspath(path), fd, data, verify, headers)
        except BaseException:
            os.close(fd)
            raise

    # -- structure checks -------------------------------------------------------------
    def _parse(self, verify: bool, headers: bool) -> None:
        data, path = self._data, self.path
        n = len(data)
        if n == 0:
            raise _fail(path, "empty file, not a snap image")
        if n < elf.EHDR.itemsize or data[:4] != elf.ELFMAG:
            raise _fail(path, "not an ELF file, not a snap image")
        if data[4] != elf.ELFCLASS64 or data[5] != elf.ELFDATA2LSB:
            raise _fail(path, "not a 64-bit little-endian ELF file, not a snap image")
        # struct, not numpy: a table of ~20 rows, parsed at every activation
        (e_type, e_machine, _, _, phoff, shoff, _, _, _, phnum, shentsize, shnum,
         shstrndx) = _EHDR.unpack_from(data, 16)
        if e_type != elf.ET_DYN or e_machine != elf.EM_X86_64:
            raise _fail(path, f"not an x86-64 shared object (e_type={e_type}, "
                              f"e_machine={e_machine}), not a snap image")
        if phoff + phnum * elf.PHDR.itemsize > n:
            raise _fail(path, "truncated or corrupt: program headers do not fit in the file")
        self._shoff, self._shnum, self._shstrndx, self._shentsize = shoff, shnum, shstrndx, shentsize
        if headers:
            self._headers                # checked first: their messages name truncation
        elif shoff + shnum * shentsize > n:    # the same words for a cut file, headers read or not
            raise _fail(path, f"truncated or corrupt: section headers at {shoff:#x} x{shnum} "
                              f"do not fit in {n} bytes")
        # The linker puts its directory right after the program headers (layout.py).
        at = elf.align_up(phoff + phnum * elf.PHDR.itemsize, 8)
        d = imagedir.unpack(data[at:at + imagedir.HEADER.size])
        if d is None or d["dir_addr"] != at:
            d = self._dir_by_name()          # where older versions of the linker put it
        if d is None:
            raise _fail(path, "not a snap image (no image directory; not written by snap's linker)")
        for k in ("names_addr", "fixups_addr", "ctors_addr", "sectab_addr"):
            if d[k] > n:
                raise _fail(path, f"corrupt image directory ({k})")
        if d["names_addr"] + d["names_size"] > n or d["sectab_addr"] + d["n_sections"] * imagedir.SECTAB.itemsize > n:
            raise _fail(path, "corrupt image directory")
        self._dir = d
        if verify:
            crc_at = d["dir_addr"] + imagedir.CRC_OFFSET
            if self._checksum is not None and self._checksum[0] == crc_at:
                crc = self._checksum[1]          # computed over these bytes as they were copied
            else:
                mv = memoryview(data)
                crc = zlib.crc32(mv[crc_at + 4:], zlib.crc32(_ZERO4, zlib.crc32(mv[:crc_at])))
            if crc != d["crc"]:
                raise _fail(path, f"checksum mismatch (file {d['crc']:#010x}, computed {crc:#010x}): "
                                  "the image is corrupt or was modified")
        names = data[d["names_addr"]:d["names_addr"] + d["names_size"]]
        try:
            self.imports: list[str] = [x.decode() for x in names.split(b"\0")[:-1]] if names else []
        except UnicodeDecodeError:
            raise _fail(path, "corrupt image directory (import names)") from None
        if len(self.imports) != d["n_imports"] or d["weak_addr"] + d["n_imports"] > n:
            raise _fail(path, "corrupt image directory (import names)")
        self._weak = data[d["weak_addr"]:d["weak_addr"] + d["n_imports"]]
        # user sections (the manifest...), from the directory: addresses are file offsets
        self._user: dict[str, tuple[int, int]] = {}
        for k in range(d["n_sections"]):
            name_addr, name_len, addr, size = _SECTAB.unpack_from(data, d["sectab_addr"] + k * _SECTAB.size)
            if name_addr + name_len > n or addr + size > n:
                raise _fail(path, "corrupt image directory (section table)")
            try:
                self._user[data[name_addr:name_addr + name_len].decode()] = (addr, size)
            except UnicodeDecodeError:
                raise _fail(path, "corrupt image directory (section names)") from None

    def _dir_by_name(self) -> dict[str, int] | None:
        try:
            sh, _, by_name = self._headers
        except LinkError:
            return None
        s = sh[by_name[imagedir.SECTION]] if imagedir.SECTION in by_name else None
        d = imagedir.unpack(self._data[s.offset:s.offset + s.size]) if s is not None else None
        return d if d is not None and d["dir_addr"] == s.offset == s.addr else None

    @cached_property
    def _headers(self) -> tuple[list[_Shdr], list[str], dict[str, int]]:
        """Section headers, their names and name -> index (checked against the file's size)."""
        data, path, n = self._data, self.path, len(self._data)
        shoff, shnum = self._shoff, self._shnum
        if self._shentsize != _SHDR.size or shoff + shnum * _SHDR.size > n or shnum == 0:
            raise _fail(path, f"truncated or corrupt: section headers at {shoff:#x} x{shnum} "
                              f"do not fit in {n} bytes")
        sh = [_Shdr._make(r) for r in _SHDR.iter_unpack(memoryview(data)[shoff:shoff + shnum * _SHDR.size])]
        if any(s.type != elf.SHT_NOBITS and s.offset + s.size > n for s in sh):
            raise _fail(path, f"truncated or corrupt: a section runs past the end of the file ({n} bytes)")
        if not 0 < self._shstrndx < shnum:
            raise _fail(path, "corrupt: bad section name table index")
        s = sh[self._shstrndx]
        shstr = data[s.offset:s.offset + s.size]
        names = [elf.cstr(shstr, x.name) if x.name < len(shstr) else "" for x in sh]
        return sh, names, {nm: i for i, nm in enumerate(names) if i}

    @property
    def content(self) -> memoryview:
        """The bytes checked, read-only: what ``load`` runs (not the file's, which may have
        changed since it was read)."""
        return memoryview(self._data).toreadonly()

    @property
    def sections(self) -> dict[str, int]:
        """Section name -> size, from the section headers."""
        sh, names, _ = self._headers
        return {nm: sh[i].size for i, nm in enumerate(names) if i}

    # -- queries ----------------------------------------------------------------------
    def section(self, name: str) -> memoryview:
        """A section's bytes: user sections from the image directory, others from the headers."""
        if name in self._user:
            addr, size = self._user[name]
            return memoryview(self._data)[addr:addr + size]
        sh, _, by_name = self._headers
        s = sh[by_name[name]]
        if s.type == elf.SHT_NOBITS:
            return memoryview(bytes(s.size))
        return memoryview(self._data)[s.offset:s.offset + s.size]

    @cached_property
    def exports(self) -> dict[str, int]:
        sh, names, _ = self._headers
        dynsym = [i for i, s in enumerate(sh) if s.type == elf.SHT_DYNSYM]
        if not dynsym:
            return {}
        try:
            strs = self.section(names[sh[dynsym[0]].link]).tobytes()
            syms = np.frombuffer(self.section(names[dynsym[0]]), elf.SYM)[1:]
        except (IndexError, KeyError, ValueError) as e:
            raise _fail(self.path, f"corrupt dynamic symbol table ({e})") from None
        return {elf.cstr(strs, nm): sz for nm, sz in zip(syms["name"].tolist(), syms["size"].tolist())}

    # -- loading ----------------------------------------------------------------------
    def load(self, resolve: Resolver, deferred: "frozenset[str]" = frozenset()) -> "LoadedImage":
        """dlopen the image, fill its import table (imports named in ``deferred`` are left at
        the trap until ``LoadedImage.bind``), make it read-only, run the constructors."""
        if self._fd < 0:
            raise _fail(self.path, "image file is closed")
        # The checked bytes, in a sealed anonymous file of this load's own (or the file itself
        # if nobody can change it): what runs is what was checked, whatever happens to the
        # file. The descriptor stays open for good: its /proc path is glibc's name for the
        # image and must never name another file.
        try:
            if self._sealed:
                lfd = os.dup(self._fd)
            else:
                lfd = _sealed_file(self.path)
                try:
                    _write_all(lfd, self._data)
                    _seal(lfd)
                except BaseException:
                    os.close(lfd)
                    raise
        except OSError as e:
            raise _fail(self.path, f"cannot make the private copy of the image to load: {e}") from None
        # /proc/<pid>/..., not /proc/self/...: the name stays valid for debuggers reading link_map.
        handle = _dlopen(f"/proc/{os.getpid()}/fd/{lfd}".encode(), os.RTLD_NOW | os.RTLD_LOCAL)
        if not handle:
            err = _dlerror()
            os.close(lfd)
            raise _fail(self.path, f"dlopen failed: {err.decode(errors='replace') if err else '?'}")
        with _lock:
            img = _loaded.get(handle)
            if img is not None:       # an unchangeable file loaded before: glibc matched its inode
                # (and took lfd's path as another name of it: lfd stays open, that path must
                # never name another file)
                if img._dir["crc"] != self._dir["crc"]:
                    raise _fail(self.path, "a different image from the same file (same inode) is already "
                                           "loaded in this process")
                return img
            dir_addr = _dlsym(handle, imagedir.SYMBOL.encode())
            if not dir_addr:
                raise _fail(self.path, f"loaded, but {imagedir.SYMBOL} is missing")
            img = LoadedImage(self.path, handle, dir_addr - self._dir["dir_addr"], self._dir, self.imports,
                              self._weak)
            img._fill(resolve, deferred)
            _loaded[handle] = img
            img._run_ctors()
            return img

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "ImageFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


class LoadedImage:
    """A dlopened image whose import table is filled (but for ``deferred`` imports, see
    ``bind``) and read-only."""

    def __init__(self, path: str, handle: int, base: int, d: dict[str, int], imports: list[str],
                 weak: bytes) -> None:
        self.path, self._handle, self.base, self._dir = path, handle, base, d
        self.imports = list(imports)
        self._weak = weak
        self.deferred: set[str] = set()      # imports left at the trap by load, until bind

    def _fill(self, resolve: Resolver, deferred: "frozenset[str]" = frozenset()) -> None:
        d, base = self._dir, self.base
        vals, missing = [], []
        for name, weak in zip(self.imports, self._weak):
            if name in deferred:
                self.deferred.add(name)
                vals.append(None)
                continue
            v = resolve(name)
            if v is None:
                v = _dlsym(None, name.encode())
            if not v:
                if not weak:
                    missing.append(name)
                v = 0
            vals.append(v)
        if missing:
            missing.sort()
            raise _fail(self.path, f"{len(missing)} unresolved import(s): {', '.join(missing)}")
        if not vals:
            return
        skip = None
        if self.deferred:           # those slots keep the trap ld.so pointed them at
            trap = ctypes.c_uint64.from_address(base + d["slots_addr"] + 8 * vals.index(None)).value
            skip = [i for i, v in enumerate(vals) if v is None]
            vals = [trap if v is None else v for v in vals]
        # one memmove of packed bytes: a ctypes array type costs ~50 us to make on a cold start
        ctypes.memmove(base + d["slots_addr"], struct.pack(f"<{len(vals)}Q", *vals), 8 * len(vals))
        self._write_fixups(vals, skip=skip)
        if d["region_size"] and _mprotect(base + d["region_addr"], d["region_size"], PROT_READ) != 0:
            e = ctypes.get_errno()
            raise _fail(self.path, f"mprotect of the import table failed: {os.strerror(e)}")

    def _write_fixups(self, vals: list[int], *, skip: "list[int] | None" = None,
                      only: "list[int] | None" = None) -> None:
        """Write the import fixups (slot value + addend), but not those of slots ``skip`` /
        only those of slots ``only``."""
        d, base = self._dir, self.base
        if not d["n_fixups"]:
            return
        arr = np.array(vals, np.uint64)
        fx = np.frombuffer(ctypes.string_at(base + d["fixups_addr"], d["n_fixups"] * imagedir.FIXUP.itemsize),
                           imagedir.FIXUP)
        if skip is not None or only is not None:
            keep = np.isin(fx["slot"], np.array(skip if skip is not None else only, np.uint64))
            fx = fx[~keep if skip is not None else keep]
            if not len(fx):
                return
        fv = (arr[fx["slot"]] + fx["addend"].astype(np.uint64)).astype("<u8")
        if d["fixups_aligned"]:
            lo, hi = int(fx["addr"].min()), int(fx["addr"].max()) + 8
            mem = np.frombuffer((ctypes.c_uint64 * ((hi - lo) // 8)).from_address(base + lo), np.uint64)
            mem[(fx["addr"] - lo) // 8] = fv
        else:
            for a, v in zip(fx["addr"].tolist(), fv.tolist()):
                ctypes.c_uint64.from_address(base + a).value = v

    def bind(self, resolve: Resolver, names: "Iterable[str]") -> None:
        """Fill the slots (and fixups) of imports deferred at load that are named in ``names``:
        the table is made writable for that, then read-only again. No code that calls them
        may have run before (they hold the trap); code running meanwhile reads other slots.
        LinkError if one cannot be resolved (its slot keeps the trap)."""
        wanted = self.deferred.intersection(names)
        with _lock:
            todo = [i for i, n in enumerate(self.imports) if n in wanted and n in self.deferred]
            if not todo:
                return
            d, base = self._dir, self.base
            slots = base + d["slots_addr"]
            found, missing = {}, []
            for i in todo:
                name = self.imports[i]
                v = resolve(name) or _dlsym(None, name.encode())
                if v:
                    found[i] = v
                else:
                    missing.append(name)
            if missing:
                raise _fail(self.path, f"{len(missing)} unresolved import(s): {', '.join(sorted(missing))}")
            region = (base + d["region_addr"], d["region_size"])
            if region[1] and _mprotect(*region, PROT_READ | PROT_WRITE) != 0:
                e = ctypes.get_errno()
                raise _fail(self.path, f"mprotect of the import table failed: {os.strerror(e)}")
            try:
                vals = list(struct.unpack(f"<{len(self.imports)}Q", ctypes.string_at(slots, 8 * len(self.imports))))
                for i, v in found.items():
                    vals[i] = v
                    ctypes.c_uint64.from_address(slots + 8 * i).value = v
                self._write_fixups(vals, only=list(found))
            finally:
                if region[1] and _mprotect(*region, PROT_READ) != 0:
                    e = ctypes.get_errno()
                    raise _fail(self.path, f"mprotect of the import table failed: {os.strerror(e)}")
            self.deferred.difference_update(self.imports[i] for i in found)

    def _run_ctors(self) -> None:
        d, base = self._dir, self.base
        if not d["n_ctors"]:
            return
        slots = np.frombuffer(ctypes.string_at(base + d["ctors_addr"], 8 * d["n_ctors"]), "<u8")
        for s in slots.tolist():
            fn = ctypes.c_uint64.from_address(base + s).value
            if fn not in (0, 0xFFFFFFFFFFFFFFFF):
                _VOIDFN(fn)()

    def address(self, name: str) -> int:
        a = _dlsym(self._handle, name.encode())
        if not a:
            raise KeyError(name)
        return a

    @cached_property
    def _sections(self) -> dict[str, tuple[int, int]]:
        d, base = self._dir, self.base
        n = d["n_sections"]
        tab = np.frombuffer(ctypes.string_at(base + d["sectab_addr"], n * imagedir.SECTAB.itemsize), imagedir.SECTAB)
        return {ctypes.string_at(base + int(t["name_addr"]), int(t["name_len"])).decode():
                (base + int(t["addr"]), int(t["size"])) for t in tab}

    def section(self, name: str) -> memoryview:
        addr, size = self._sections[name]
        return memoryview((ctypes.c_char * size).from_address(addr)).cast("B").toreadonly()

    def __repr__(self) -> str:
        return f"<LoadedImage {self.path!r} at {self.base:#x}, {len(self.imports)} imports>"


def load(path, resolve: Resolver) -> LoadedImage:
    """Open, verify and load an image: ``ImageFile.open(path).load(resolve)``."""
    with ImageFile.open(path) as f:
        return f.load(resolve)
