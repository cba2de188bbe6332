"""STU serial framing: the driver codec and the (independent) simulator
codec against the byte vectors of docs/protocols/stu-serial.md §1.6 and
against each other; random input only ever yields frames or typed errors.

Signature pads serve the service desk (R-DEV-DESK) where the candidate signs
the score sheet (R-OPS-SCORE)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from examhw.errors import ChecksumError, FrameError, ProtocolError
from examhw_drivers.stu_serial import codec as dc
from examhw_drivers.stu_serial import reports as R
from examhw_drivers.stu_serial.hotspots import ButtonLayout
from examhw_drivers.stu_serial.strokes import StrokeTracker, bbox
from examhw_simulators.sigpad import codec as sc

# (report bytes, CRC, frame on the wire) — protocol doc §1.6
VECTORS = [
    ("80 09", 0xC6A1, "C0 05 40 02 34 1C 30"),
    ("21 01", 0x90D9, "C0 05 10 40 3B 19 00"),
    ("81 21 00", 0x7848, "C0 06 40 48 20 04 43 60"),
    ("81 00 03", 0x2910, "C0 06 40 40 00 31 01 24"),
    ("34 91 F4 12 C0 0F A0 FF FE 00 07", 0x555B,
     "C0 0F 1A 24 3E 41 16 00 1F 20 7F 7F 40 00 3A 6D 2A"),
]

ENCODERS = {"driver": lambda rid, p: dc.encode(rid, p), "sim": lambda rid, p: sc.frame(rid, p)}


def _driver_items(data: bytes, chunks: list[int] | None = None) -> list:
    dec = dc.FrameDecoder()
    out = []
    for piece in _split(data, chunks):
        out += dec.feed(piece)
    return [(f.report_id, f.payload) if isinstance(f, dc.Frame) else f for f in out]


def _sim_items(data: bytes, chunks: list[int] | None = None) -> list:
    rd = sc.FrameReader()
    out = []
    for piece in _split(data, chunks):
        out += rd.feed(piece)
    return out


DECODERS = {"driver": _driver_items, "sim": _sim_items}


def _split(data: bytes, cuts: list[int] | None) -> list[bytes]:
    if not cuts:
        return [data]
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for p in points:
        pieces.append(data[last:p])
        last = p
    pieces.append(data[last:])
    return pieces


# -- known values ---------------------------------------------------------------

@pytest.mark.parametrize("crc", [dc.crc16, sc.crc16_arc])
def test_crc16_arc_check_value(crc):
    assert crc(b"123456789") == 0xBB3D
    assert crc(b"") == 0


@pytest.mark.parametrize("report,crc,wire", VECTORS)
def test_known_frames_both_codecs(report, crc, wire):
    rep, wire_b = bytes.fromhex(report), bytes.fromhex(wire)
    assert dc.crc16(rep) == crc == sc.crc16_arc(rep)
    assert dc.encode(rep[0], rep[1:]) == wire_b
    assert sc.frame(rep[0], rep[1:]) == wire_b
    assert _driver_items(wire_b) == [(rep[0], rep[1:])]
    assert _sim_items(wire_b) == [(rep[0], rep[1:])]


@pytest.mark.parametrize("pack", [dc.pack7, sc.to_septets])
def test_pack_known_values(pack):
    assert pack(b"\xff" * 7) == b"\x7f" * 8
    assert pack(b"\x80") == b"\x40\x00"
    assert pack(b"") == b""
    assert len(pack(bytes(13))) == 15


@given(st.binary(max_size=64))
def test_pack_unpack_round_trip_both_ways(data):
    a, b = dc.pack7(data), sc.to_septets(data)
    assert a == b
    assert len(a) == dc.enc_len(len(data))
    assert all(x < 0x80 for x in a)
    assert dc.unpack7(a) == data == sc.from_septets(a)


@pytest.mark.parametrize("unpack", [dc.unpack7, sc.from_septets])
def test_unpack_rejects_impossible_input(unpack):
    with pytest.raises(FrameError):
        unpack(b"\x01")                 # 1 septet cannot hold a byte
    with pytest.raises(FrameError):
        unpack(b"\x40\x01")             # padding bit set
    with pytest.raises(FrameError):
        unpack(b"\x80\x00")             # sync bit inside the body


# -- decoder behaviour ------------------------------------------------------------

@pytest.mark.parametrize("side", ["driver", "sim"])
def test_noise_then_frame_resyncs(side):
    wire = bytes.fromhex("C0 05 10 40 3B 19 00")
    items = DECODERS[side](b"\x00\x11\x7f" + wire)
    assert items == [(0x21, b"\x01")]


@pytest.mark.parametrize("side", ["driver", "sim"])
def test_bad_crc_is_checksum_error_then_next_frame(side):
    good = bytes.fromhex("C0 05 10 40 3B 19 00")
    bad = bytearray(good)
    bad[4] ^= 0x01
    items = DECODERS[side](bytes(bad) + good)
    assert isinstance(items[0], ChecksumError)
    assert items[1:] == [(0x21, b"\x01")]


@pytest.mark.parametrize("side", ["driver", "sim"])
def test_truncated_frame_is_frame_error_and_next_header_wins(side):
    good = bytes.fromhex("C0 06 40 48 20 04 43 60")
    items = DECODERS[side](good[:5] + good)
    assert isinstance(items[0], FrameError)
    assert items[1:] == [(0x81, b"\x21\x00")]


@pytest.mark.parametrize("side", ["driver", "sim"])
def test_frame_without_crc_flag_rejected(side):
    good = bytearray(bytes.fromhex("C0 05 10 40 3B 19 00"))
    good[0] &= ~0x40
    items = DECODERS[side](bytes(good))
    assert len(items) == 1 and isinstance(items[0], FrameError)


@pytest.mark.parametrize("side", ["driver", "sim"])
def test_impossible_lengths_rejected(side):
    for hdr in (b"\xc0\x01", b"\xc0\x02", b"\xc0\x09", b"\xff\x7f"):
        items = DECODERS[side](hdr + b"\x00" * 20 + bytes.fromhex("C0 05 10 40 3B 19 00"))
        assert isinstance(items[0], FrameError), hdr
        assert items[-1] == (0x21, b"\x01")


def test_driver_encode_rejects_oversized_report():
    with pytest.raises(FrameError):
        dc.encode(0x26, bytes(7200))


# -- hypothesis -------------------------------------------------------------------

reports = st.tuples(st.integers(0, 255), st.binary(max_size=40))


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(reports, min_size=1, max_size=5), st.lists(st.integers(0, 400), max_size=8),
       st.sampled_from(["driver", "sim"]), st.sampled_from(["driver", "sim"]))
def test_frames_split_anywhere_decode_exactly(frames, cuts, enc_side, dec_side):
    wire = b"".join(ENCODERS[enc_side](rid, p) for rid, p in frames)
    assert DECODERS[dec_side](wire, cuts) == [(rid, bytes(p)) for rid, p in frames]


@settings(max_examples=60)
@given(st.tuples(st.integers(0, 255), st.binary(max_size=30)), st.sampled_from(["driver", "sim"]))
def test_every_single_split_position(frame, side):
    wire = dc.encode(*frame)
    for i in range(len(wire) + 1):
        assert DECODERS[side](wire, [i]) == [(frame[0], frame[1])]


@settings(max_examples=200)
@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=6), st.sampled_from(["driver", "sim"]))
def test_random_bytes_give_only_frames_or_typed_errors(data, cuts, side):
    for item in DECODERS[side](data, cuts):
        assert isinstance(item, (tuple, ProtocolError))
        if isinstance(item, ProtocolError):
            assert isinstance(item, (ChecksumError, FrameError))


@settings(max_examples=200)
@given(reports, st.data(), st.sampled_from(["driver", "sim"]))
def test_single_bit_flip_in_body_never_yields_a_wrong_frame(frame, data, side):
    """A flipped data bit is caught (CRC or padding/framing); the frame that
    follows is still decoded."""
    wire = bytearray(dc.encode(*frame))
    i = data.draw(st.integers(2, len(wire) - 1))
    bit = data.draw(st.integers(0, 6))
    wire[i] ^= 1 << bit
    follower = dc.encode(0x21, b"\x01")
    items = DECODERS[side](bytes(wire) + follower)
    assert items[-1] == (0x21, b"\x01")
    assert all(isinstance(x, (ChecksumError, FrameError)) for x in items[:-1])
    assert len(items) >= 2


@settings(max_examples=200)
@given(reports, st.data(), st.sampled_from(["driver", "sim"]))
def test_any_bit_flip_then_resync(frame, data, side):
    """Flips anywhere (header, length, sync bit) give typed errors or a
    re-synchronised decoder: the next good frame still comes out."""
    wire = bytearray(dc.encode(*frame))
    i = data.draw(st.integers(0, len(wire) - 1))
    wire[i] ^= 1 << data.draw(st.integers(0, 7))
    follower = dc.encode(0x21, b"\x01")
    items = DECODERS[side](bytes(wire) + follower + follower)
    assert items[-1] == (0x21, b"\x01")
    for x in items:
        assert isinstance(x, (tuple, ChecksumError, FrameError))


def test_decoder_buffer_stays_bounded_on_endless_noise():
    dec = dc.FrameDecoder()
    rd = sc.FrameReader()
    for _ in range(200):
        dec.feed(bytes(range(0x00, 0x80)))
        rd.feed(bytes(range(0x00, 0x80)))
    assert dec.skipped == 200 * 128 and rd.noise == 200 * 128
    assert len(dec._buf) == 0 and len(rd._pending) == 0


# -- report layer (driver side) ---------------------------------------------------

def test_pen_report_decode():
    s = R.decode_pen(0x34, bytes.fromhex("91 F4 12 C0 0F A0 FF FE 00 07"))
    assert (s.rdy, s.sw, s.pressure, s.x, s.y, s.time_count, s.sequence) == (True, 1, 500, 4800, 4000, 0xFFFE, 7)
    assert s.down
    h = R.decode_pen(0x01, bytes.fromhex("80 00 00 10 00 20"))
    assert not h.down and h.time_count is None and (h.x, h.y) == (16, 32)
    with pytest.raises(FrameError):
        R.decode_pen(0x34, bytes(6))
    with pytest.raises(FrameError):
        R.decode_pen(0x03, bytes(6))


def test_capability_information_uid_status_decode():
    cap = R.decode_capability(bytes.fromhex("2580 1770 03FF 0320 01E0 C8 09EC 0F"))
    assert (cap.tablet_max_x, cap.tablet_max_y, cap.tablet_max_pressure) == (9600, 6000, 1023)
    assert (cap.screen_width, cap.screen_height, cap.max_report_rate, cap.resolution) == (800, 480, 200, 2540)
    info = R.decode_information(b"STU-530\0\0" + bytes([2, 11, 0]) + bytes(4))
    assert (info.model, info.firmware) == ("STU-530", "2.11")
    assert R.decode_uid2(bytes(range(10))) == "00010203040506070809"
    st_ = R.decode_status(bytes([0, 3, 0, 0]))
    assert st_.status_name == "Ready" and R.result_name(st_.last_result) == "CRC"
    with pytest.raises(FrameError):
        R.decode_capability(bytes(14))          # zero dimensions
    with pytest.raises(FrameError):
        R.decode_set_result(b"\x21")


LAYOUT = ButtonLayout(800, 480, 9600, 6000)


def test_hotspots_follow_the_documented_geometry():
    assert LAYOUT.bar_top == 400
    assert LAYOUT.button_at(1600, 5500) == "ok"
    assert LAYOUT.button_at(4800, 5500) == "clear"
    assert LAYOUT.button_at(8000, 5500) == "cancel"
    assert LAYOUT.button_at(4800, 5000) is None       # just above the bar
    assert LAYOUT.button_at(4800, 5001) == "clear"
    assert LAYOUT.button_at(9600, 6000) == "cancel"


def _pen(x, y, down, tc, seq, p=400):
    return R.PenSample(True, 1 if down else 0, p if down else 0, x, y, tc & 0xFFFF, seq & 0xFFFF)


def test_tracker_strokes_wrap_and_buttons():
    tr = StrokeTracker(LAYOUT)
    ev = []
    seq = 0
    for i in range(10):                                  # stroke across the 0xFFFF wrap
        ev += tr.add(_pen(1000 + i * 10, 2000, True, 0xFFF0 + i * 5, seq))
        seq += 1
    ev += tr.add(_pen(1090, 2000, False, 0xFFF0 + 50, seq))
    seq += 1
    assert [e for e, _ in ev] == ["pen_down", "pen_up"]
    (stroke,) = tr.strokes
    assert [p.t_ms for p in stroke] == list(range(0, 50, 5))
    assert bbox(tr.strokes) == (1000, 2000, 1090, 2000)
    # a tap that slides out of the box does not fire
    ev = tr.add(_pen(1600, 5500, True, 100, seq)) + tr.add(_pen(1600, 3000, True, 105, seq + 1))
    ev += tr.add(_pen(1600, 3000, False, 110, seq + 2))
    assert ev == []
    # a real tap fires, is not ink
    ev = tr.add(_pen(4800, 5500, True, 120, seq + 3)) + tr.add(_pen(4800, 5500, False, 125, seq + 4))
    assert ev == [("button", {"button": "clear", "t_ms": ev[0][1]["t_ms"]})]
    assert len(tr.strokes) == 1 and tr.lost_reports == 0
    tr.add(_pen(10, 10, False, 200, seq + 10))           # 5 reports missing
    assert tr.lost_reports == 5
    tr.reset()
    assert tr.strokes == [] and tr.point_count == 0
