"""ELF64 constants and numpy record layouts shared by the reader and the writer.

Only what an x86-64 PIC object and a shared library need; numpy dtypes let whole
symbol and relocation tables be parsed with one ``np.frombuffer`` call.
"""
from __future__ import annotations

import numpy as np

ELFMAG = b"\x7fELF"
ELFCLASS32, ELFCLASS64 = 1, 2
ELFDATA2LSB, ELFDATA2MSB = 1, 2
ET_REL, ET_EXEC, ET_DYN = 1, 2, 3
EM_386, EM_ARM, EM_X86_64, EM_AARCH64, EM_PPC64, EM_RISCV = 3, 40, 62, 183, 21, 243
MACHINE_NAMES = {EM_386: "i386", EM_ARM: "arm", EM_X86_64: "x86-64", EM_AARCH64: "aarch64",
                 EM_PPC64: "ppc64", EM_RISCV: "riscv", 8: "mips", 22: "s390"}

# Section header types.
SHT_NULL, SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_HASH = 0, 1, 2, 3, 4, 5
SHT_DYNAMIC, SHT_NOTE, SHT_NOBITS, SHT_REL, SHT_DYNSYM = 6, 7, 8, 9, 11
SHT_INIT_ARRAY, SHT_FINI_ARRAY, SHT_PREINIT_ARRAY, SHT_GROUP, SHT_SYMTAB_SHNDX = 14, 15, 16, 17, 18
SHT_GNU_HASH = 0x6FFFFFF6
SHT_X86_64_UNWIND = 0x70000001

SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR, SHF_MERGE, SHF_STRINGS = 0x1, 0x2, 0x4, 0x10, 0x20
SHF_INFO_LINK, SHF_GROUP, SHF_TLS, SHF_EXCLUDE = 0x40, 0x200, 0x400, 0x80000000
SHF_X86_64_LARGE = 0x10000000
GRP_COMDAT = 1

SHN_UNDEF, SHN_LORESERVE, SHN_ABS, SHN_COMMON, SHN_XINDEX = 0, 0xFF00, 0xFFF1, 0xFFF2, 0xFFFF

STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
STT_NOTYPE, STT_OBJECT, STT_FUNC, STT_SECTION, STT_FILE, STT_COMMON, STT_TLS = 0, 1, 2, 3, 4, 5, 6
STT_GNU_IFUNC = 10
STV_DEFAULT, STV_INTERNAL, STV_HIDDEN, STV_PROTECTED = 0, 1, 2, 3

PT_LOAD, PT_DYNAMIC, PT_PHDR = 1, 2, 6
PT_GNU_EH_FRAME, PT_GNU_STACK, PT_GNU_RELRO = 0x6474E550, 0x6474E551, 0x6474E552
PF_X, PF_W, PF_R = 1, 2, 4

DT_NULL, DT_HASH, DT_STRTAB, DT_SYMTAB, DT_RELA, DT_RELASZ, DT_RELAENT = 0, 4, 5, 6, 7, 8, 9
DT_STRSZ, DT_SYMENT, DT_SONAME = 10, 11, 14
DT_GNU_HASH, DT_RELACOUNT, DT_FLAGS_1 = 0x6FFFFEF5, 0x6FFFFFF9, 0x6FFFFFFB
DF_1_NODELETE = 0x8

# x86-64 relocation types.
R_X86_64_NONE, R_X86_64_64, R_X86_64_PC32, R_X86_64_GOT32, R_X86_64_PLT32 = 0, 1, 2, 3, 4
R_X86_64_COPY, R_X86_64_GLOB_DAT, R_X86_64_JUMP_SLOT, R_X86_64_RELATIVE = 5, 6, 7, 8
R_X86_64_GOTPCREL, R_X86_64_32, R_X86_64_32S, R_X86_64_16, R_X86_64_PC16 = 9, 10, 11, 12, 13
R_X86_64_8, R_X86_64_PC8 = 14, 15
R_X86_64_DTPMOD64, R_X86_64_DTPOFF64, R_X86_64_TPOFF64, R_X86_64_TLSGD = 16, 17, 18, 19
R_X86_64_TLSLD, R_X86_64_DTPOFF32, R_X86_64_GOTTPOFF, R_X86_64_TPOFF32 = 20, 21, 22, 23
R_X86_64_PC64, R_X86_64_GOTOFF64, R_X86_64_GOTPC32 = 24, 25, 26
R_X86_64_GOT64, R_X86_64_GOTPCREL64, R_X86_64_GOTPC64, R_X86_64_GOTPLT64 = 27, 28, 29, 30
R_X86_64_PLTOFF64, R_X86_64_SIZE32, R_X86_64_SIZE64 = 31, 32, 33
R_X86_64_GOTPC32_TLSDESC, R_X86_64_TLSDESC_CALL, R_X86_64_TLSDESC = 34, 35, 36
R_X86_64_IRELATIVE, R_X86_64_GOTPCRELX, R_X86_64_REX_GOTPCRELX = 37, 41, 42
R_X86_64_CODE_4_GOTPCRELX, R_X86_64_CODE_4_GOTTPOFF = 43, 44

RELOC_NAMES = {v: k for k, v in globals().items() if k.startswith("R_X86_64_")}
TLS_RELOCS = frozenset({R_X86_64_DTPMOD64, R_X86_64_DTPOFF64, R_X86_64_TPOFF64, R_X86_64_TLSGD,
                        R_X86_64_TLSLD, R_X86_64_DTPOFF32, R_X86_64_GOTTPOFF, R_X86_64_TPOFF32,
                        R_X86_64_GOTPC32_TLSDESC, R_X86_64_TLSDESC_CALL, R_X86_64_TLSDESC,
                        R_X86_64_CODE_4_GOTTPOFF})
LARGE_MODEL_RELOCS = frozenset({R_X86_64_GOT64, R_X86_64_GOTPCREL64, R_X86_64_GOTPC64,
                                R_X86_64_GOTPLT64, R_X86_64_PLTOFF64})
STATIC_RELOCS = frozenset({R_X86_64_32, R_X86_64_32S, R_X86_64_16, R_X86_64_8, R_X86_64_GOT32})


def reloc_name(rtype: int) -> str:
    return RELOC_NAMES.get(int(rtype), f"relocation type {int(rtype)}")


EHDR = np.dtype([("ident", "S16"), ("type", "<u2"), ("machine", "<u2"), ("version", "<u4"),
                 ("entry", "<u8"), ("phoff", "<u8"), ("shoff", "<u8"), ("flags", "<u4"),
                 ("ehsize", "<u2"), ("phentsize", "<u2"), ("phnum", "<u2"),
                 ("shentsize", "<u2"), ("shnum", "<u2"), ("shstrndx", "<u2")])
SHDR = np.dtype([("name", "<u4"), ("type", "<u4"), ("flags", "<u8"), ("addr", "<u8"),
                 ("offset", "<u8"), ("size", "<u8"), ("link", "<u4"), ("info", "<u4"),
                 ("addralign", "<u8"), ("entsize", "<u8")])
PHDR = np.dtype([("type", "<u4"), ("flags", "<u4"), ("offset", "<u8"), ("vaddr", "<u8"),
                 ("paddr", "<u8"), ("filesz", "<u8"), ("memsz", "<u8"), ("align", "<u8")])
SYM = np.dtype([("name", "<u4"), ("info", "u1"), ("other", "u1"), ("shndx", "<u2"),
                ("value", "<u8"), ("size", "<u8")])
RELA = np.dtype([("offset", "<u8"), ("info", "<u8"), ("addend", "<i8")])
DYN = np.dtype([("tag", "<i8"), ("val", "<u8")])
assert EHDR.itemsize == 64 and SHDR.itemsize == 64 and PHDR.itemsize == 56
assert SYM.itemsize == 24 and RELA.itemsize == 24 and DYN.itemsize == 16

PAGE = 0x1000


def align_up(x: int, a: int) -> int:
    return (x + a - 1) & -a if a > 1 else x


def cstr(blob: bytes, off: int) -> str:
    """NUL-terminated string at ``off`` (names are ASCII in practice; be lenient)."""
    end = blob.find(b"\0", off)
    return blob[off:end if end >= 0 else len(blob)].decode("utf-8", "replace")


def rela_columns(rels: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(offset, info, addend) of many RELA arrays concatenated; via plain u8 views because
    concatenating structured arrays costs a field promotion per array."""
    if not rels:
        z = np.zeros(0, np.uint64)
        return z, z, z.view(np.int64)
    flat = np.concatenate([r.view("<u8") for r in rels]).reshape(-1, 3)
    return flat[:, 0], flat[:, 1], flat[:, 2].view(np.int64)
