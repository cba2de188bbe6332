"""Evolis escape-command codecs, both sides (R-DEV-DESK card printer).

The driver codec (examhw_drivers.evolis_tcp.codec) and the simulator codec
(examhw_simulators.card_printer.codec) were written separately from
docs/protocols/evolis-escape.md; here each is checked against hand-built
byte vectors and against the other, and both are fed random bytes.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from examhw.errors import FrameError
from examhw_drivers.evolis_tcp import codec as drv
from examhw_drivers.evolis_tcp.panel import k_panel
from examhw_simulators.card_printer import codec as sim

ESC, CR = b"\x1b", b"\r"


# -- driver: encoder -----------------------------------------------------------

def test_encode_command_vectors():
    assert drv.encode_command("Rfv") == b"\x1bRfv\r"
    assert drv.encode_command("Pmi", "F") == b"\x1bPmi;F\r"
    assert drv.encode_command("Rse", "o") == bytes.fromhex("1b 52 73 65 3b 6f 0d")
    assert drv.encode_command("Pem", 1) == b"\x1bPem;1\r"


@pytest.mark.parametrize("name", ["", "Abcde", "R1", "Ré"])
def test_encode_command_rejects_bad_names(name):
    with pytest.raises(ValueError):
        drv.encode_command(name)


@pytest.mark.parametrize("param", ["a;b", "x\r", "\x1b", "é"])
def test_encode_command_rejects_bad_params(param):
    with pytest.raises(ValueError):
        drv.encode_command("Dm", 1, param)


def test_panel_frame_is_length_exact():
    data = bytes([0x1B, 0x0D]) * (drv.K_PANEL_BYTES // 2)
    frame = drv.encode_panel("k", data)
    assert drv.K_PANEL_BYTES == 82296 == 648 * 1016 // 8
    assert frame[:8] == b"\x1bDb;k;2;" and frame[-1:] == CR
    assert len(frame) == 8 + 82296 + 1
    with pytest.raises(ValueError):
        drv.encode_panel("k", data[:-1])
    with pytest.raises(ValueError):
        drv.encode_panel("y", data)


# -- driver: reply decoder ---------------------------------------------------------

def test_reply_kinds():
    dec = drv.ReplyDecoder()
    got = dec.feed(b"OK\rACK\rNACK 1\rNACK F\rERR R\r1.6.4\rERR CARD\r")
    assert [r.kind for r in got] == [drv.ReplyKind.OK, drv.ReplyKind.ACK, drv.ReplyKind.NACK,
                                     drv.ReplyKind.NACK, drv.ReplyKind.ERR, drv.ReplyKind.DATA,
                                     drv.ReplyKind.ERR]
    assert [r.code for r in got] == ["", "", "1", "F", "R", "", "CARD"]
    assert got[0].success and got[1].success and got[2].failure and not got[5].failure
    assert got[5].text == "1.6.4"


def test_reply_padding_and_partial_lines():
    dec = drv.ReplyDecoder()
    assert dec.feed(b"\x00\n\x00AC") == []
    assert dec.feed(b"K") == []
    assert [r.kind for r in dec.feed(b"\r\nOK\r")] == [drv.ReplyKind.ACK, drv.ReplyKind.OK]


def test_reply_split_at_every_position():
    stream = b"ACK\r00000000;20000000;00000000;00000000;00000100\rNACK C\rEvolis Pebble\r"
    expected = [r.text for r in drv.ReplyDecoder().feed(stream)]
    assert len(expected) == 4
    for cut in range(len(stream) + 1):
        dec = drv.ReplyDecoder()
        got = dec.feed(stream[:cut]) + dec.feed(stream[cut:])
        assert [r.text for r in got] == expected


def test_garbled_line_is_invalid_then_resync():
    dec = drv.ReplyDecoder()
    got = dec.feed(b"O\x11\rACK\r")
    assert got[0].kind is drv.ReplyKind.INVALID and isinstance(got[0].error, FrameError)
    assert got[1].kind is drv.ReplyKind.ACK


def test_overlong_reply_is_invalid_then_resync():
    dec = drv.ReplyDecoder()
    got = dec.feed(b"X" * 300)
    assert [r.kind for r in got] == [drv.ReplyKind.INVALID]
    assert dec.feed(b"YYYY\rOK\r")[-1].kind is drv.ReplyKind.OK


@given(st.binary(max_size=600))
@settings(max_examples=300, deadline=None)
def test_reply_decoder_never_raises(data):
    dec = drv.ReplyDecoder()
    out = dec.feed(data)
    assert all(isinstance(r, drv.Reply) for r in out)
    for r in out:
        assert (r.kind is drv.ReplyKind.INVALID) == (r.error is not None)
    # after any garbage, a complete clean reply after a CR is still decoded
    tail = dec.feed(b"\rACK\r")
    assert tail and tail[-1].kind is drv.ReplyKind.ACK


# -- driver: status words ------------------------------------------------------------

def test_parse_status_vector():
    w = drv.parse_status("00000000;22080081;01020000;01000000;00000100")
    assert w.busy
    assert w.warnings() == {"ribbon_low", "feeder_near_empty"}
    assert w.errors() == {"jam", "feeder_empty", "cover_open"}
    assert w.job_error() == "jam"
    assert w.raw() == "00000000;22080081;01020000;01000000;00000100"
    idle = drv.parse_status("00000000;20000000;00000000;00000000;00000000")
    assert not idle.busy and not idle.errors() and not idle.warnings()


@pytest.mark.parametrize("text", ["", "OK", "0;0;0;0;0", "00000000;00000000;00000000;00000000",
                                  "0000000g;00000000;00000000;00000000;00000000",
                                  "0x000000;00000000;00000000;00000000;00000000",
                                  " 0000000;00000000;00000000;00000000;00000000"])
def test_parse_status_rejects(text):
    with pytest.raises(FrameError):
        drv.parse_status(text)


# -- simulator: command parser ---------------------------------------------------------

def test_sim_parses_text_commands():
    p = sim.CommandParser()
    got = p.feed(b"\x1bRfv\r\x1bPmi;F\r\x00\n\x1bRse;o\r")
    assert got == [sim.Command("Rfv"), sim.Command("Pmi", ("F",)), sim.Command("Rse", ("o",))]


def test_sim_accepts_esc_less_command_after_cr():
    assert sim.CommandParser().feed(b"\x1bSs\rSr\r") == [sim.Command("Ss"), sim.Command("Sr")]


def test_sim_skips_noise_and_resyncs_on_esc():
    p = sim.CommandParser()
    got = p.feed(b"\x01\x02\xff\x1bRsn\r")
    assert got == [sim.Command("Rsn")]
    assert p.noise_bytes == 3


def test_sim_esc_inside_command_restarts():
    got = sim.CommandParser().feed(b"\x1bRf\x1bRfv\r")
    assert isinstance(got[0], sim.Malformed) and got[1] == sim.Command("Rfv")


def test_sim_overlong_command_is_malformed():
    got = sim.CommandParser().feed(b"\x1bDm;1;" + b"A" * 2000 + b"\r\x1bRfv\r")
    assert isinstance(got[0], sim.Malformed) and got[-1] == sim.Command("Rfv")


def _panel(seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)
    data = bytearray(rng.integers(0, 256, sim.LINES * sim.LINE_BYTES, dtype=np.uint8).tobytes())
    data[0], data[1], data[-1] = 0x1B, 0x0D, 0x0D     # bytes that must not end the command
    return bytes(data)


def test_sim_db_payload_is_read_by_length():
    data = _panel()
    got = sim.CommandParser().feed(drv.encode_panel("k", data) + b"\x1bSe\r")
    assert got == [sim.Command("Db", ("k", "2"), data), sim.Command("Se")]


@given(st.lists(st.integers(min_value=0, max_value=82296 + 16), min_size=1, max_size=6))
@settings(max_examples=40, deadline=None)
def test_sim_db_split_anywhere(cuts):
    data = _panel(2)
    stream = b"\x1bSr\r" + drv.encode_panel("k", data) + b"\x1bSe\r"
    points = sorted({min(c, len(stream)) for c in cuts})
    p = sim.CommandParser()
    got, start = [], 0
    for c in points + [len(stream)]:
        got += p.feed(stream[start:c])
        start = c
    assert got == [sim.Command("Sr"), sim.Command("Db", ("k", "2"), data), sim.Command("Se")]


def test_sim_text_split_at_every_position():
    stream = b"\x1bPem;1\r\x1bRco;c\rSs\r\x1bDm;2;12345=6789\r"
    expected = sim.CommandParser().feed(stream)
    assert len(expected) == 4
    for cut in range(len(stream) + 1):
        p = sim.CommandParser()
        assert p.feed(stream[:cut]) + p.feed(stream[cut:]) == expected


def test_sim_db_bad_length_is_malformed_then_resync():
    short = b"\x1bDb;k;2;" + bytes(100) + b"\r"            # far too short: swallowed as payload
    p = sim.CommandParser()
    assert p.feed(short) == []
    # payload completes inside the next bytes; the byte after it is not CR → malformed
    rest = bytes(sim.LINES * sim.LINE_BYTES - 101) + b"X\x1bRfv\r"
    got = p.feed(rest)
    assert isinstance(got[0], sim.Malformed) and "CR" in str(got[0].error)
    assert got[-1] == sim.Command("Rfv")


@pytest.mark.parametrize("head", [b"\x1bDb;x;2;", b"\x1bDb;k;5;", b"\x1bDb;k;32;", b"\x1bDbc;k;2;zz;"])
def test_sim_db_bad_header_is_malformed(head):
    got = sim.CommandParser().feed(head + b"\x1bRfv\r")
    assert isinstance(got[0], sim.Malformed) and got[-1] == sim.Command("Rfv")


def test_sim_db_colour_lengths():
    assert sim.db_payload_length("y", "32") == 648 * 1016 * 5 // 8
    assert sim.db_payload_length("k", "2") == 82296


def test_sim_dbc_and_decompress():
    lines = [b"\x00", b"\xff", b"\x02\xaa\x55"] + [b"\x00"] * (sim.LINES - 3)
    comp = b"".join(lines)
    frame = b"\x1bDbc;k;2;%d;" % len(comp) + comp + CR
    (cmd,) = sim.CommandParser().feed(frame)
    assert cmd.name == "Dbc" and cmd.payload == comp
    flat = sim.decompress_mono(cmd.payload)
    assert len(flat) == 82296
    assert flat[:81] == bytes(81) and flat[81:162] == b"\xff" * 81 and flat[162:164] == b"\xaa\x55"
    with pytest.raises(FrameError):
        sim.decompress_mono(b"\x05\x01")
    with pytest.raises(FrameError):
        sim.decompress_mono(b"\x60")
    with pytest.raises(FrameError):
        sim.decompress_mono(b"\x00" * 1017)


@given(st.binary(max_size=400))
@settings(max_examples=300, deadline=None)
def test_sim_parser_never_raises(data):
    p = sim.CommandParser()
    out = p.feed(data)
    assert all(isinstance(x, (sim.Command, sim.Malformed)) for x in out)
    # after garbage (unless it opened a binary payload) ESC resynchronises
    if b"Db" not in data:
        assert p.feed(b"\x1bRfv\r")[-1] == sim.Command("Rfv")


# -- both sides together ------------------------------------------------------------------

@given(st.sampled_from(["Rfv", "Rsn", "Rtp", "Ss", "Se", "Srs", "Pem", "Rco"]),
       st.lists(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E,
                                               blacklist_characters=";"), max_size=8), max_size=3))
@settings(max_examples=80, deadline=None)
def test_driver_encoding_parses_identically_on_sim(name, params):
    assert sim.CommandParser().feed(drv.encode_command(name, *params)) == [sim.Command(name, tuple(params))]


@pytest.mark.parametrize("text", ["OK", "ACK", "NACK 2", "ERR F", "00000000;00000000;00000000;00000000;00000000"])
def test_sim_reply_decodes_on_driver(text):
    (r,) = drv.ReplyDecoder().feed(sim.reply(text))
    assert r.text == text and r.kind is not drv.ReplyKind.INVALID


# -- panel conversion --------------------------------------------------------------------------

def test_k_panel_from_png_landscape():
    import cv2
    img = np.full((540, 856), 255, np.uint8)
    img[:, :428] = 0                                  # left half black
    png = cv2.imencode(".png", img)[1].tobytes()
    data = k_panel(png)
    bits = np.unpackbits(np.frombuffer(data, np.uint8)).reshape(1016, 648)
    # turned clockwise: the landscape's left half becomes the top half of the lines
    assert bits[:500].mean() > 0.99 and bits[520:].mean() < 0.01


def test_k_panel_raw_passthrough_and_errors():
    raw = bytes(82296)
    assert k_panel(raw) == raw
    with pytest.raises(ValueError):
        k_panel(b"not an image")
    with pytest.raises(ValueError):
        k_panel(b"")
