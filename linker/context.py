"""The one object a link's passes share (see driver.PASSES for who fills what).

Every pass reads what earlier passes left here and adds its own results, so the
data flow of a link is visible in one place instead of in the locals of one long
function.  A field a pass has not filled yet is simply absent (reading it early
raises AttributeError, which is a pass-ordering bug, not an input error).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .layout import OutSection, Outputs
from .objects import InputSection, ObjectFile
from .relocs import Applied, Relocs
from .symbols import Resolution


@dataclass(eq=False)
class LinkContext:
    """Inputs, resolution, relocation scan, output plan and the image buffer of one link."""
    inputs: Sequence[bytes]
    extra_sections: Mapping[str, bytes]
    # parse_inputs
    user: list[tuple[str, bytes]] = field(init=False)          # checked extra sections, sorted by name
    objects: list[ObjectFile] = field(init=False)
    # resolve_symbols
    res: Resolution = field(init=False)
    # split_eh_frame
    relas: dict[int, np.ndarray] = field(init=False)            # section gid -> its kept relocations
    fde_offsets: dict[int, list[int]] = field(init=False)       # `.eh_frame` gid -> offsets of kept FDEs
    # scan_relocations
    rs: Relocs = field(init=False)
    # place_sections
    out: Outputs = field(init=False)
    ctors: list[tuple[InputSection, int]] = field(init=False)   # (section, entry) in execution order
    # size_synthetic_sections
    # synthetic.SyntheticSections (typed loosely: synthetic sections read this context,
    # not the other way round)
    syn: Any = field(init=False)
    # assign_addresses
    alloc_size: int = field(init=False)                         # file size of the loadable part
    sections: list[OutSection] = field(init=False)              # every section with a header, by index
    sec_addr: np.ndarray = field(init=False)                    # input section gid -> address
    sec_out: np.ndarray = field(init=False)                     # input section gid -> output section index
    # place_tail
    file_size: int = field(init=False)
    # write_contents (and every pass after it writes into buf)
    buf: np.ndarray = field(init=False)                         # the whole file, offset == address
    applied: Applied = field(init=False)
    # seal
    image: bytes = field(init=False)
    # seconds per pass, by pass name: filled by driver.run_passes, for debugging
    timings: dict[str, float] = field(default_factory=dict)
