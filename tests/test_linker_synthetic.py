"""The link driver's passes and synthetic sections: each section writes exactly the bytes it declared."""
from __future__ import annotations

import pytest

import linker
from linker import imagedir
from linker.driver import PASSES, link_context
from linker.synthetic import Chunk
from linker_util import emit
from test_linker import OBJ_A, OBJ_B

SECTIONS = {"snap.manifest": b'{"version": 1}', "snap.extra": b"\x00\x01\x02"}


@pytest.fixture(scope="module")
def ctx():
    """A real link with imports, fixups, GOT entries, constructors, `.eh_frame` and extra sections."""
    return link_context([emit(OBJ_A), emit(OBJ_B)], sections=SECTIONS)


def chunks(ctx) -> list[Chunk]:
    return [ctx.syn.headers, *ctx.syn.allocated, *ctx.syn.tail]


def test_every_synthetic_section_writes_its_declared_size(ctx):
    assert ctx.syn.slots.size and ctx.syn.got.size and ctx.syn.reladyn.size and ctx.rs.n_fixups
    for chunk in chunks(ctx):
        blob = chunk.contents(ctx)
        assert len(blob) == chunk.size, chunk.name
        want = bytearray(blob)
        if chunk is ctx.syn.dir:                   # sealed afterwards: the checksum is not part of the contents
            want[imagedir.CRC_OFFSET:imagedir.CRC_OFFSET + 4] = ctx.image[
                chunk.offset + imagedir.CRC_OFFSET:chunk.offset + imagedir.CRC_OFFSET + 4]
        assert ctx.image[chunk.offset:chunk.offset + chunk.size] == want, chunk.name


def test_chunks_do_not_overlap_and_fill_the_file_end(ctx):
    spans = sorted((c.offset, c.offset + c.size, c.name) for c in chunks(ctx) if c.size)
    for (_, end, a), (start, _, b) in zip(spans, spans[1:]):
        assert end <= start, f"{a} overlaps {b}"
    assert spans[-1][1] == len(ctx.image) and spans[-1][2] == "section headers"


def test_link_is_the_pass_list_and_times_every_pass(ctx):
    assert list(ctx.timings) == [p.__name__ for p in PASSES]
    assert all(t >= 0 for t in ctx.timings.values())
    assert linker.link([emit(OBJ_A), emit(OBJ_B)], sections=SECTIONS) == ctx.image


def test_size_and_contents_disagreeing_is_a_named_error(monkeypatch):
    from linker import synthetic
    monkeypatch.setattr(synthetic.Stubs, "contents", lambda self, ctx: b"\xcc")
    with pytest.raises(linker.LinkError, match=r"\.snap\.stubs: internal error: 1 bytes written but \d+ declared"):
        linker.link([emit(OBJ_A), emit(OBJ_B)])
