"""Gate board "7E/7F" codecs: the driver's (requests out, replies in) and
the simulator's (requests in, replies out), checked against the byte vectors
of docs/protocols/gate-7e7f.md and against each other.

Vectors: computed from the public DS205A checksum rule (dumacp/ds205a
doc/checsum.txt: sender ``~sum``, receiver ``sum + 1 == 0``)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from examhw.errors import ChecksumError, FrameError, ProtocolError
from examhw_drivers.gate_7e7f import codec as drv
from examhw_simulators.gate import codec as sim

REQUEST_VECTORS = [
    ((1, 0x10), "7E 00 01 10 00 00 00 70"),
    ((2, 0x10), "7E 00 02 10 00 00 00 6F"),
    ((1, 0x80, 1), "7E 00 01 80 01 00 00 FF"),
    ((1, 0x80, 1, 0, 0x2A), "7E 00 01 80 01 00 2A D5"),
    ((1, 0x82, 2), "7E 00 01 82 02 00 00 FC"),
    ((1, 0x84), "7E 00 01 84 00 00 00 FC"),
    ((1, 0x88), "7E 00 01 88 00 00 00 F8"),
    ((1, 0x89), "7E 00 01 89 00 00 00 F7"),
    ((1, 0x8F), "7E 00 01 8F 00 00 00 F1"),
    ((1, 0x35, 0x60), "7E 00 01 35 60 00 00 EB"),
    ((1, 0x96, 3, 8), "7E 00 01 96 03 08 00 DF"),
]

REPLY_VECTORS = [
    (dict(firmware=0x23, address=1, fault=0, gate=0, alarm=0, left=0, right=0, ir=0xF0, result=0x55,
          voltage=0x78), "7F 23 01 00 00 00 00 00 00 00 00 00 F0 55 78 00 00 9F"),
    (dict(firmware=0x23, address=1, fault=0, gate=1, alarm=0, left=5, right=3, ir=0xF0, result=0x55,
          voltage=0x78), "7F 23 01 00 01 00 00 00 05 00 00 03 F0 55 78 00 00 96"),
    (dict(firmware=0x23, address=1, fault=0, gate=9, alarm=0, left=5, right=3, ir=0xF0, result=0x04,
          voltage=0x78), "7F 23 01 00 09 00 00 00 05 00 00 03 F0 04 78 00 00 DF"),
    (dict(firmware=0x23, address=1, fault=0, gate=5, alarm=1, left=6, right=3, ir=0xF0, result=0x55,
          voltage=0x78), "7F 23 01 00 05 01 00 00 06 00 00 03 F0 55 78 00 00 90"),
    (dict(firmware=0x23, address=1, fault=8, gate=0, alarm=0, left=0xFFFFFF, right=0, ir=0xF0, result=0x55,
          voltage=0x5F), "7F 23 01 08 00 00 FF FF FF 00 00 00 F0 55 5F 00 00 B3"),
]

byte = st.integers(0, 255)
address = st.integers(1, 255)
counter = st.integers(0, 0xFFFFFF)
reply_fields = st.fixed_dictionaries(dict(
    firmware=byte, address=address, fault=byte, gate=byte, alarm=byte, left=counter, right=counter,
    ir=byte, result=byte, voltage=byte))


# -- known vectors -----------------------------------------------------------------------

@pytest.mark.parametrize("args,hexstr", REQUEST_VECTORS)
def test_driver_encodes_request_vectors(args, hexstr):
    assert drv.encode_request(*args) == bytes.fromhex(hexstr)


@pytest.mark.parametrize("args,hexstr", REQUEST_VECTORS)
def test_sim_parses_request_vectors(args, hexstr):
    req = sim.parse_request(bytes.fromhex(hexstr))
    full = tuple(args) + (0,) * (5 - len(args))
    assert (req.address, req.cmd, req.d0, req.d1, req.d2) == full


@pytest.mark.parametrize("fields,hexstr", REPLY_VECTORS)
def test_sim_builds_reply_vectors(fields, hexstr):
    assert sim.build_reply(**fields) == bytes.fromhex(hexstr)


@pytest.mark.parametrize("fields,hexstr", REPLY_VECTORS)
def test_driver_decodes_reply_vectors(fields, hexstr):
    raw = bytes.fromhex(hexstr)
    r = drv.decode_reply(raw)
    assert (r.firmware, r.address, r.fault, r.gate, r.alarm, r.count_left, r.count_right, r.ir, r.result,
            r.voltage_raw) == tuple(fields[k] for k in ("firmware", "address", "fault", "gate", "alarm",
                                                         "left", "right", "ir", "result", "voltage"))
    assert r.raw == raw
    assert r.ok == (fields["result"] == 0x55)


def test_public_csv_example_does_not_follow_the_checksum_rule():
    # doc/frame.csv shows "7E 00 01 80 00 01 00 55"; the checksum rule gives 0xFF.
    with pytest.raises(ChecksumError):
        sim.parse_request(bytes.fromhex("7E 00 01 80 00 01 00 55"))
    assert drv.encode_request(1, 0x80, 0, 1)[-1] == 0xFF


def test_reply_checksum_rule_matches_public_receiver_function():
    raw = bytes.fromhex(REPLY_VECTORS[0][1])
    assert (sum(raw) + 1) & 0xFF == 0
    assert drv.reply_is_valid(raw)
    assert not drv.reply_is_valid(raw[:-1] + bytes([raw[-1] ^ 1]))


def test_decoded_status_names_and_voltage():
    r = drv.decode_reply(bytes.fromhex(REPLY_VECTORS[4][1]))
    assert drv.bit_names(r.fault, drv.FAULT_BITS) == {"low_voltage"}
    assert r.supply_v == 19.0
    assert drv.bit_names(0x41, drv.ALARM_BITS) == {"tailgating", "bit6"}
    assert drv.gate_state(0x19) == drv.GateState.EMERGENCY
    assert drv.gate_state(0x0C) is None
    assert drv.open_sides(drv.GateState.EMERGENCY) == (True, True)
    assert drv.counter_delta(0xFFFFFF, 0) == 1


# -- typed errors for bad input -------------------------------------------------------------

@pytest.mark.parametrize("args", [(0, 0x10), (256, 0x10), (1, 0x100), (1, 0x80, -1), (1, 0x80, 1, 2, 300)])
def test_encode_request_rejects_bad_fields(args):
    with pytest.raises(FrameError):
        drv.encode_request(*args)


def test_decode_reply_rejects_bad_length_and_start():
    raw = bytes.fromhex(REPLY_VECTORS[0][1])
    with pytest.raises(FrameError):
        drv.decode_reply(raw[:17])
    with pytest.raises(FrameError):
        drv.decode_reply(b"\x7e" + raw[1:])
    with pytest.raises(ChecksumError):
        drv.decode_reply(raw[:5] + b"\x01" + raw[6:])


def test_sim_rejects_bad_request_length_and_start():
    with pytest.raises(FrameError):
        sim.parse_request(bytes.fromhex("7E 00 01 10 00 00 70"))
    with pytest.raises(FrameError):
        sim.parse_request(bytes.fromhex("7F 00 01 10 00 00 00 70"))
    with pytest.raises(FrameError):
        sim.build_reply(firmware=256, address=1, fault=0, gate=0, alarm=0, left=0, right=0, ir=0,
                        result=0x55, voltage=0)


def test_reply_decoder_raises_on_bad_checksum_then_recovers():
    raw = bytes.fromhex(REPLY_VECTORS[1][1])
    bad = raw[:8] + bytes([raw[8] ^ 0x10]) + raw[9:]
    dec = drv.ReplyDecoder()
    with pytest.raises(ChecksumError):
        dec.feed(bad)
    assert dec.pending < drv.REPLY_LEN
    dec.reset()
    assert [r.raw for r in dec.feed(raw)] == [raw]


def test_reply_decoder_skips_bad_candidate_when_a_good_frame_follows():
    good = bytes.fromhex(REPLY_VECTORS[0][1])
    bad = good[:3] + b"\xAA" + good[4:]
    dec = drv.ReplyDecoder()
    assert [r.raw for r in dec.feed(bad + good)] == [good]
    assert dec.checksum_errors >= 1


def test_reply_from_other_machine_is_decoded_with_its_number():
    # The decoder keeps foreign replies; the driver ignores them (multi-drop bus).
    raw = sim.build_reply(firmware=1, address=7, fault=0, gate=0, alarm=0, left=0, right=0, ir=0xF0,
                          result=0x55, voltage=120)
    assert drv.ReplyDecoder().feed(raw)[0].address == 7


def test_request_parser_raises_on_bad_checksum_then_recovers():
    good = bytes.fromhex(REQUEST_VECTORS[0][1])
    parser = sim.RequestParser()
    with pytest.raises(ChecksumError):
        parser.feed(good[:-1] + b"\x00")
    assert parser.feed(good)[0].cmd == 0x10
    assert parser.rejected == 1


# -- every split position ------------------------------------------------------------------

@pytest.mark.parametrize("hexstr", [v for _, v in REPLY_VECTORS])
def test_reply_split_at_every_position(hexstr):
    raw = bytes.fromhex(hexstr)
    for cut in range(len(raw) + 1):
        dec = drv.ReplyDecoder()
        got = dec.feed(raw[:cut]) + dec.feed(raw[cut:])
        assert [r.raw for r in got] == [raw], cut


def test_reply_byte_by_byte_twice():
    raw = bytes.fromhex(REPLY_VECTORS[3][1]) * 2
    dec = drv.ReplyDecoder()
    got = [r for b in raw for r in dec.feed(bytes([b]))]
    assert len(got) == 2


@pytest.mark.parametrize("hexstr", [v for _, v in REQUEST_VECTORS])
def test_request_split_at_every_position(hexstr):
    raw = bytes.fromhex(hexstr)
    for cut in range(len(raw) + 1):
        parser = sim.RequestParser()
        got = parser.feed(raw[:cut]) + parser.feed(raw[cut:])
        assert len(got) == 1 and got[0].cmd == raw[3], cut


# -- properties -------------------------------------------------------------------------------

@given(address, byte, byte, byte, byte)
def test_driver_request_parses_in_sim(addr, cmd, d0, d1, d2):
    req = sim.parse_request(drv.encode_request(addr, cmd, d0, d1, d2))
    assert (req.address, req.cmd, req.d0, req.d1, req.d2) == (addr, cmd, d0, d1, d2)


@given(reply_fields)
def test_sim_reply_decodes_in_driver(fields):
    r = drv.decode_reply(sim.build_reply(**fields))
    assert (r.address, r.count_left, r.count_right, r.result, r.gate) == (
        fields["address"], fields["left"], fields["right"], fields["result"], fields["gate"])


@given(reply_fields, st.lists(st.integers(0, 18), max_size=4))
def test_reply_decoder_any_chunking(fields, cuts):
    raw = sim.build_reply(**fields) * 2
    points = sorted({min(c * 2, len(raw)) for c in cuts})
    dec = drv.ReplyDecoder()
    got, prev = [], 0
    for p in points + [len(raw)]:
        got += dec.feed(raw[prev:p])
        prev = p
    assert [r.raw for r in got] == [raw[:18], raw[18:]]


@given(st.binary(max_size=200))
@settings(max_examples=300)
def test_reply_decoder_random_bytes_only_typed_errors(data):
    dec = drv.ReplyDecoder()
    for i in range(0, len(data), 7):
        try:
            for r in dec.feed(data[i:i + 7]):
                assert drv.reply_is_valid(r.raw)
        except ProtocolError:
            pass
        assert dec.pending < drv.REPLY_LEN


@given(st.binary(max_size=200))
@settings(max_examples=300)
def test_request_parser_random_bytes_only_typed_errors(data):
    parser = sim.RequestParser()
    for i in range(0, len(data), 5):
        try:
            for req in parser.feed(data[i:i + 5]):
                assert 0 <= req.address <= 255
        except ProtocolError:
            pass


@given(st.binary(max_size=40).map(lambda b: b.replace(b"\x7f", b"")), reply_fields)
def test_reply_found_after_garbage(garbage, fields):
    raw = sim.build_reply(**fields)
    got = drv.ReplyDecoder().feed(garbage + raw)
    assert [r.raw for r in got] == [raw]


@given(st.binary(max_size=40).map(lambda b: b.replace(b"\x7e", b"")), address, byte)
def test_request_found_after_garbage(garbage, addr, cmd):
    raw = drv.encode_request(addr, cmd)
    got = sim.RequestParser().feed(garbage + raw)
    assert [(r.address, r.cmd) for r in got] == [(addr, cmd)]


@given(reply_fields, st.integers(0, 17), st.integers(1, 255))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_corrupted_reply_is_never_accepted(fields, pos, flip):
    raw = bytearray(sim.build_reply(**fields))
    raw[pos] ^= flip
    try:
        got = drv.ReplyDecoder().feed(bytes(raw))
    except ChecksumError:
        return
    assert got == []          # start byte hit: nothing (or a partial candidate) buffered


@given(address, byte, st.integers(0, 7), st.integers(1, 255))
def test_corrupted_request_is_rejected(addr, cmd, pos, flip):
    raw = bytearray(drv.encode_request(addr, cmd))
    raw[pos] ^= flip
    try:
        got = sim.RequestParser().feed(bytes(raw))
    except ChecksumError:
        return
    assert got == []
