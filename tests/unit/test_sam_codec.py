"""SAM serial frame codecs: the driver's (examhw_drivers.sam_serial.codec) and the
simulator's own (examhw_simulators.idcard.codec), each checked against the research byte
vectors (tests/data/idcard, SOURCES.md) and against hypothesis-generated garbage.

These readers serve the service desk (R-DEV-DESK), check-in (R-OPS-CHECKIN) and the
exam-room gate (R-DEV-GATE)."""
from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from examhw.errors import ChecksumError, ExamHwError, FrameError
from examhw_drivers.sam_serial import codec as drv
from examhw_simulators.idcard import codec as sim
from examhw_simulators.idcard.photo import lcg_bytes

DATA = Path(__file__).resolve().parents[1] / "data" / "idcard"


def vec(name: str) -> bytes:
    return bytes.fromhex((DATA / f"{name}.hex").read_text().replace("\n", "").replace(" ", ""))


def hx(text: str) -> bytes:
    return bytes.fromhex(text)


VECTOR_A = vec("vector_a_base_read")
FP0 = vec("vector_fp0")
FP1024 = vec("vector_fp1024")


def fp512() -> bytes:
    """FP512 as idcard-vectors.md §3.2 describes it: FP0 with LEN 07 0A, fingerprint
    length 02 00 and the first 512 filler bytes (seed 2) before CHK."""
    body = FP0[7:-1]
    body = body[:7] + b"\x02\x00" + body[9:] + lcg_bytes(2, 512)
    return drv.encode_frame(body)


REQUESTS = {
    (0x10, 0xFF, b""): "AAAAAA96690003 10FF EC",
    (0x11, 0xFF, b""): "AAAAAA96690003 11FF ED",
    (0x12, 0xFF, b""): "AAAAAA96690003 12FF EE",
    (0x20, 0x01, b""): "AAAAAA96690003 2001 22",
    (0x20, 0x02, b""): "AAAAAA96690003 2002 21",
    (0x30, 0x01, b""): "AAAAAA96690003 3001 32",
    (0x30, 0x10, b""): "AAAAAA96690003 3010 23",
    (0x30, 0x03, b""): "AAAAAA96690003 3003 30",
    (0x60, 0x00, b""): "AAAAAA96690003 6000 63",
    (0x60, 0x01, b""): "AAAAAA96690003 6001 62",
    (0x60, 0x02, b""): "AAAAAA96690003 6002 61",
    (0x60, 0x03, b""): "AAAAAA96690003 6003 60",
    (0x60, 0x04, b""): "AAAAAA96690003 6004 67",
    (0x61, 0xFF, b"\x50"): "AAAAAA96690004 61FF50 CA",
    (0x01, 0xFF, b""): "AAAAAA96690003 01FF FD",
}

SHORT_REPLIES = {   # (sw3, data) -> frame
    (0x90, b""): "AAAAAA9669 0004 000090 94",
    (0x9F, bytes(4)): "AAAAAA9669 0008 00009F00000000 97",
    (0x80, b""): "AAAAAA9669 0004 000080 84",
    (0x90, bytes(8)): "AAAAAA9669 000C 0000900000000000000000 9C",
    (0x81, b""): "AAAAAA9669 0004 000081 85",
    (0x41, b""): "AAAAAA9669 0004 000041 45",
    (0x32, b""): "AAAAAA9669 0004 000032 36",
    (0x31, b""): "AAAAAA9669 0004 000031 35",
    (0x60, b""): "AAAAAA9669 0004 000060 64",
    (0x91, b""): "AAAAAA9669 0004 000091 95",
    (0x10, b""): "AAAAAA9669 0004 000010 14",
    (0x11, b""): "AAAAAA9669 0004 000011 15",
    (0x21, b""): "AAAAAA9669 0004 000021 25",
    (0x23, b""): "AAAAAA9669 0004 000023 27",
    (0x24, b""): "AAAAAA9669 0004 000024 20",
    (0x33, b""): "AAAAAA9669 0004 000033 37",
    (0x40, b""): "AAAAAA9669 0004 000040 44",
    (0x47, b""): "AAAAAA9669 0004 000047 43",
    (0x66, b""): "AAAAAA9669 0004 000066 62",
}

LONG_FRAMES = {"A": VECTOR_A, "FP0": FP0, "FP512": fp512(), "FP1024": FP1024,
               "sam_number": vec("sam_number"), "appended_address": vec("appended_address")}


def drv_drain(decoder: drv.SamDecoder, data: bytes) -> tuple[list[drv.SamFrame], list[ExamHwError]]:
    """Feed ``data`` then keep feeding nothing until the decoder has no pending error."""
    frames: list[drv.SamFrame] = []
    errors: list[ExamHwError] = []
    chunk = data
    for _ in range(len(data) + 2):
        try:
            frames += decoder.feed(chunk)
            if decoder._pending is None:          # noqa: SLF001 - test looks at the pending error
                break
        except (ChecksumError, FrameError) as exc:
            errors.append(exc)
        chunk = b""
    return frames, errors


def sim_drain(reader: sim.FrameReader, data: bytes) -> tuple[list[sim.RawFrame], list[ExamHwError]]:
    items = reader.feed(data)
    frames = [i for i in items if isinstance(i, sim.RawFrame)]
    errors = [i for i in items if not isinstance(i, sim.RawFrame)]
    assert all(isinstance(e, (ChecksumError, FrameError)) for e in errors)
    return frames, errors


# -- requests ----------------------------------------------------------------------

@pytest.mark.parametrize("key", list(REQUESTS), ids=lambda k: f"{k[0]:02X}{k[1]:02X}")
def test_request_vectors_both_codecs(key):
    cmd, para, data = key
    wire = hx(REQUESTS[key].replace(" ", ""))
    assert drv.encode_request(cmd, para, data) == wire
    assert sim.build_request(cmd, para, data) == wire
    items = sim.FrameReader().feed(wire)
    assert len(items) == 1 and isinstance(items[0], sim.RawFrame)
    req = sim.as_request(items[0])
    assert (req.cmd, req.para, req.data) == (cmd, para, data)


# -- short replies -----------------------------------------------------------------

@pytest.mark.parametrize("key", list(SHORT_REPLIES), ids=lambda k: f"{k[0]:02X}-{len(k[1])}")
def test_short_reply_vectors_both_codecs(key):
    sw3, data = key
    wire = hx(SHORT_REPLIES[key].replace(" ", ""))
    assert sim.build_reply(sw3, data) == wire
    frames = drv.SamDecoder().feed(wire)
    assert len(frames) == 1
    f = frames[0]
    assert (f.sw1, f.sw2, f.sw3, f.data) == (0, 0, sw3, data)
    assert f.to_bytes() == wire
    items = sim.FrameReader(max_len=4096).feed(wire)
    assert items == [sim.RawFrame(bytes([0, 0, sw3]) + data)]


# -- long frames -------------------------------------------------------------------

@pytest.mark.parametrize("name", list(LONG_FRAMES))
def test_long_frames_decode_in_both_codecs(name):
    wire = LONG_FRAMES[name]
    frames = drv.SamDecoder().feed(wire)
    assert len(frames) == 1 and frames[0].sw3 == 0x90
    assert frames[0].to_bytes() == wire
    assert sim.build_frame(frames[0].body) == wire
    items = sim.FrameReader(max_len=4096).feed(wire)
    assert items == [sim.RawFrame(frames[0].body)]


def test_fingerprint_variant_lengths_and_checksums():
    assert (len(FP0), len(fp512()), len(FP1024)) == (1297, 1809, 2321)
    assert (FP0[-1], fp512()[-1], FP1024[-1]) == (0x3C, 0xA3, 0xC7)
    assert fp512()[:16] == hx("AAAAAA9669070A000090010004000200")
    for wire, fp_len in ((FP0, 0), (fp512(), 512), (FP1024, 1024)):
        frame = drv.SamDecoder().feed(wire)[0]
        blocks = drv.split_read_data(frame.data, with_fingerprint=True)
        assert (len(blocks.text), len(blocks.photo), len(blocks.fingerprint)) == (256, 1024, fp_len)
        assert blocks.fingerprint == lcg_bytes(2, fp_len)


def test_base_read_splits_by_length_fields():
    frame = drv.SamDecoder().feed(VECTOR_A)[0]
    blocks = drv.split_read_data(frame.data, with_fingerprint=False)
    assert blocks.text == VECTOR_A[14:270]
    assert blocks.photo == VECTOR_A[270:1294]
    assert blocks.photo[:4] == b"WLf\x00"
    assert blocks.fingerprint == b""


def test_read_lengths_that_do_not_add_up_are_frame_errors():
    data = struct.pack(">HH", 256, 1024) + bytes(256 + 1000)
    with pytest.raises(FrameError):
        drv.split_read_data(data, with_fingerprint=False)
    with pytest.raises(FrameError):
        drv.split_read_data(b"\x01", with_fingerprint=True)
    with pytest.raises(FrameError):
        drv.split_read_data(struct.pack(">HH", 10, 0) + bytes(10), with_fingerprint=False)


def test_sam_number_vector_formats_one_way():
    frame = drv.SamDecoder().feed(vec("sam_number"))[0]
    number = drv.parse_sam_number(frame.data)
    assert number.raw == hx("05000100A53A340140E20100B168DE3A")
    assert number.text == "05.01-20200101-000123456-987654321"
    with pytest.raises(FrameError):
        drv.parse_sam_number(bytes(15))


def test_appended_address_vector():
    frame = drv.SamDecoder().feed(vec("appended_address"))[0]
    assert len(frame.data) == 70
    assert frame.data.decode("utf-16-le").rstrip() == "北京市东城区示例大街2号"


# -- negative vectors (idcard-vectors.md §3.7) -------------------------------------------

def test_bad_last_byte_is_a_checksum_error_in_both_codecs():
    bad = VECTOR_A[:-1] + b"\xC1"
    with pytest.raises(ChecksumError):
        drv.SamDecoder().feed(bad)
    items = sim.FrameReader(max_len=4096).feed(bad)
    assert any(isinstance(i, ChecksumError) for i in items)
    assert not any(isinstance(i, sim.RawFrame) for i in items)


def test_one_byte_dropped_is_never_parsed():
    short = VECTOR_A[:700] + VECTOR_A[701:]
    d = drv.SamDecoder()
    assert d.feed(short) == []              # waits for the missing byte (driver times out)
    assert len(d.buffered) == 1294
    r = sim.FrameReader(max_len=4096)
    assert r.feed(short) == [] and not r.idle


def test_stray_prefix_resyncs_in_both_codecs():
    wire = hx("00FFAA") + VECTOR_A
    frames = drv.SamDecoder().feed(wire)
    assert [f.to_bytes() for f in frames] == [VECTOR_A]
    assert sim.FrameReader(max_len=4096).feed(wire) == [sim.RawFrame(VECTOR_A[7:-1])]


def test_trailing_stray_byte_stays_buffered_and_is_not_glued_to_the_next_reply():
    d = drv.SamDecoder()
    frames = d.feed(VECTOR_A + b"\xF6")
    assert len(frames) == 1 and d.buffered == b"\xF6"
    find_ok = hx("AAAAAA96690008 00009F00000000 97".replace(" ", ""))
    nxt = d.feed(find_ok)
    assert len(nxt) == 1 and nxt[0].sw3 == 0x9F and d.buffered == b""
    r = sim.FrameReader(max_len=4096)
    assert len(r.feed(VECTOR_A + b"\xF6")) == 1
    assert r.feed(find_ok) == [sim.RawFrame(find_ok[7:-1])]


def test_sim_reader_flags_bad_host_checksum_and_bad_length():
    assert isinstance(sim.FrameReader().feed(hx("AAAAAA9669000320 0123".replace(" ", "")))[0], ChecksumError)
    items = sim.FrameReader().feed(hx("AAAAAA96690002 2001") + sim.build_request(0x20, 0x01))
    assert isinstance(items[0], FrameError) and items[-1] == sim.RawFrame(b"\x20\x01")
    assert isinstance(sim.FrameReader().feed(hx("AAAAAA96690508"))[0], FrameError)


def test_br10_status_frames_and_corrupted_xor():
    """BR-10: every status frame decodes to its SW3; ``…41 46`` is a checksum error."""
    d = drv.SamDecoder()
    stream = b"".join(hx(t) for t in ("AAAAAA9669000400008084", "AAAAAA96690008 00009F00000000 97".replace(" ", ""),
                                      "AAAAAA9669000400004145", "AAAAAA9669000400003236",
                                      "AAAAAA9669000400001014"))
    assert [f.sw3 for f in d.feed(stream)] == [0x80, 0x9F, 0x41, 0x32, 0x10]
    with pytest.raises(ChecksumError):
        drv.SamDecoder().feed(hx("AAAAAA9669000400004146"))


def test_br09_reply_in_three_chunks_and_orphaned_tail():
    """BR-09: 14+200, 56+700, 324+1 byte chunks give one frame; an orphaned tail before
    the next card's reply is skipped."""
    d = drv.SamDecoder()
    cuts = [0, 214, 970, 1295]
    got = []
    for a, b in zip(cuts, cuts[1:]):
        got += d.feed(VECTOR_A[a:b])
    assert [f.to_bytes() for f in got] == [VECTOR_A]
    d.reset()
    frames, errors = drv_drain(d, VECTOR_A[970:] + VECTOR_A)
    assert [f.to_bytes() for f in frames] == [VECTOR_A]
    frames2, _ = sim_drain(sim.FrameReader(max_len=4096), VECTOR_A[970:] + VECTOR_A)
    assert frames2 == [sim.RawFrame(VECTOR_A[7:-1])]


def test_len_out_of_range_is_a_frame_error_and_decoding_continues():
    d = drv.SamDecoder()
    frames, errors = drv_drain(d, hx("AAAAAA96690003000090") + hx("AAAAAA9669000400009094"))
    assert len(errors) == 1 and isinstance(errors[0], FrameError)
    assert [f.sw3 for f in frames] == [0x90]
    frames, errors = drv_drain(drv.SamDecoder(), hx("AAAAAA9669FFFF") + hx("AAAAAA9669000400009094"))
    assert isinstance(errors[0], FrameError) and [f.sw3 for f in frames] == [0x90]


def test_error_after_a_good_frame_is_raised_on_the_next_call():
    d = drv.SamDecoder()
    good = hx("AAAAAA9669000400009094")
    frames = d.feed(good + hx("AAAAAA9669000400009095"))
    assert [f.sw3 for f in frames] == [0x90]
    with pytest.raises(ChecksumError):
        d.feed(b"")
    assert d.feed(b"") == []


# -- every split position ----------------------------------------------------------

def test_driver_decoder_every_split_of_vector_a():
    for cut in range(1, len(VECTOR_A)):
        d = drv.SamDecoder()
        frames = d.feed(VECTOR_A[:cut]) + d.feed(VECTOR_A[cut:])
        assert len(frames) == 1 and frames[0].body == VECTOR_A[7:-1], cut


def test_sim_reader_every_split_of_request_and_reply_frames():
    for wire in [hx(v.replace(" ", "")) for v in REQUESTS.values()] + [vec("sam_number"), vec("appended_address")]:
        for cut in range(1, len(wire)):
            r = sim.FrameReader(max_len=4096)
            items = r.feed(wire[:cut]) + r.feed(wire[cut:])
            assert items == [sim.RawFrame(wire[7:-1])], (wire.hex(), cut)


# -- hypothesis ----------------------------------------------------------------------

bodies = st.binary(min_size=3, max_size=300)
clean_bodies = st.lists(st.integers(0, 255).filter(lambda b: b != 0xAA), min_size=3, max_size=300).map(bytes)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_give_only_typed_errors(data):
    frames, errors = drv_drain(drv.SamDecoder(), data)
    assert all(isinstance(e, (ChecksumError, FrameError)) for e in errors)
    for f in frames:
        assert len(f.body) >= 3
    sim_drain(sim.FrameReader(), data)
    sim_drain(sim.FrameReader(max_len=4096), data)


@settings(max_examples=100, deadline=None)
@given(bodies, st.data())
def test_valid_frames_split_anywhere_decode_once(body, data):
    wire = drv.encode_frame(body)
    assert wire == sim.build_frame(body)
    cuts = sorted(data.draw(st.lists(st.integers(1, len(wire) - 1), max_size=5, unique=True)))
    pieces = [wire[a:b] for a, b in zip([0] + cuts, cuts + [len(wire)])]
    d = drv.SamDecoder()
    r = sim.FrameReader(max_len=4096)
    got: list[bytes] = []
    items: list[object] = []
    for p in pieces:
        got += [f.body for f in d.feed(p)]
        items += r.feed(p)
    assert got == [body]
    assert items == [sim.RawFrame(body)]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clean_bodies, clean_bodies, st.data())
def test_bit_flip_gives_typed_error_or_resync(body, next_body, data):
    wire = bytearray(drv.encode_frame(body))
    bit = data.draw(st.integers(0, len(wire) * 8 - 1))
    wire[bit // 8] ^= 1 << (bit % 8)
    following = drv.encode_frame(next_body)
    # a 512-byte LEN limit keeps the padding that completes any absorbed frame short
    stream = bytes(wire) + following + bytes(520)
    frames, errors = drv_drain(drv.SamDecoder(max_len=512), stream)
    assert all(isinstance(e, (ChecksumError, FrameError)) for e in errors)
    if next_body != body:                                # the corrupted frame is never taken
        assert body not in [f.body for f in frames]
    old_len = len(body) + 1
    new_len = (wire[5] << 8) | wire[6]
    if not (5 <= bit // 8 <= 6) or new_len < old_len:
        # outside LEN (or LEN made shorter) the following frame is always recovered
        assert next_body in [f.body for f in frames]
    items = sim.FrameReader(max_len=512).feed(stream)
    assert all(isinstance(i, (sim.RawFrame, ChecksumError, FrameError)) for i in items)
    if not (5 <= bit // 8 <= 6) or new_len < old_len:
        assert sim.RawFrame(next_body) in items


pieces = st.one_of(st.sampled_from([b"\xAA\xAA\xAA\x96\x69", b"\xAA\xAA", b"\x96\x69", b"\x00\x04", b"\x00\x03",
                                    b"\x00\x00\x90", b"\x94", b"\x05\x08", b"\xFF\xFF"]), st.binary(max_size=8))


@settings(max_examples=150, deadline=None)
@given(st.lists(pieces, max_size=40).map(b"".join))
def test_preamble_rich_garbage_gives_only_typed_errors(data):
    frames, errors = drv_drain(drv.SamDecoder(), data)
    assert all(isinstance(e, (ChecksumError, FrameError)) for e in errors)
    for f in frames:                                    # anything returned really verifies
        assert f.to_bytes() in data
    items = sim.FrameReader().feed(data)
    assert all(isinstance(i, (sim.RawFrame, ChecksumError, FrameError)) for i in items)
