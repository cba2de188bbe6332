"""NUT network protocol codecs, driver side (``examhw_drivers.nut_ups.codec``)
and simulator side (``examhw_simulators.ups.wire``): measured upsd 2.8.0
replies, quoting round trips, split input, garbage → typed errors
(R-DEV-POWER: UPS alarms depend on reading upsd exactly)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from examhw.errors import ExamHwError, FrameError, ProtocolError
from examhw_drivers.nut_ups.codec import (DescReply, ErrReply, ListReply, NumLoginsReply, OkReply,
                                          ReplyDecoder, TextReply, TypeReply, VarReply,
                                          encode_command, parse_line, quote, split_words)
from examhw_simulators.ups.wire import BadRequest, LineSplitter, block, err, line, q, words_of

# replies measured on upsd 2.8.0 (docs/protocols/nut.md §2)
MEASURED = [
    (b"VAR ups1 ups.status \"OB DISCHRG\"\n", VarReply("ups1", "ups.status", "OB DISCHRG")),
    (b"VAR ups1 battery.charge \"93\"\n", VarReply("ups1", "battery.charge", "93")),
    (b"ERR UNKNOWN-UPS\n", ErrReply("UNKNOWN-UPS")),
    (b"ERR DATA-STALE\n", ErrReply("DATA-STALE")),
    (b"ERR DRIVER-NOT-CONNECTED\n", ErrReply("DRIVER-NOT-CONNECTED")),
    (b"TYPE ups1 ups.status RW STRING:32\n", TypeReply("ups1", "ups.status", ("RW", "STRING:32"))),
    (b"DESC ups1 x.y \"Description unavailable\"\n", DescReply("DESC", ("ups1", "x.y"), "Description unavailable")),
    (b"UPSDESC ups1 \"DDL replay\"\n", DescReply("UPSDESC", ("ups1",), "DDL replay")),
    (b"NUMLOGINS ups1 1\n", NumLoginsReply("ups1", 1)),
    (b"OK\n", OkReply("")),
    (b"OK Goodbye\n", OkReply("Goodbye")),
    (b"1.3\n", TextReply("1.3")),
    (b"Network UPS Tools upsd 2.8.0 - http://www.networkupstools.org/\n",
     TextReply("Network UPS Tools upsd 2.8.0 - http://www.networkupstools.org/")),
]

LIST_VAR = (b"BEGIN LIST VAR ups1\n"
            b"VAR ups1 battery.charge \"100.00\"\n"
            b"VAR ups1 ups.status \"OL HE\"\n"
            b"VAR ups1 ups.test.result \"Passed, Source: Internal\"\n"
            b"END LIST VAR ups1\n")


@pytest.mark.parametrize("raw,want", MEASURED)
def test_measured_single_line_replies(raw, want):
    """R-DEV-POWER: every measured upsd reply decodes to its typed value."""
    assert ReplyDecoder().feed(raw) == [want]


def test_list_var_block_and_crlf():
    """R-DEV-POWER: LIST VAR framing; CR LF accepted."""
    got = ReplyDecoder().feed(LIST_VAR.replace(b"\n", b"\r\n"))
    assert len(got) == 1 and isinstance(got[0], ListReply)
    assert got[0].query == ("VAR", "ups1")
    assert got[0].vars() == {"battery.charge": "100.00", "ups.status": "OL HE",
                             "ups.test.result": "Passed, Source: Internal"}


def test_empty_lists_and_list_ups():
    d = ReplyDecoder()
    got = d.feed(b"BEGIN LIST ENUM ups1 ups.status\nEND LIST ENUM ups1 ups.status\n"
                 b"BEGIN LIST UPS\nUPS ups1 \"DDL replay\"\nEND LIST UPS\n")
    assert got == [ListReply(("ENUM", "ups1", "ups.status"), ()),
                   ListReply(("UPS",), (("UPS", "ups1", "DDL replay"),))]
    assert got[1].names() == ["ups1"]


def test_list_split_at_every_position():
    """R-DEV-POWER: a reply split anywhere decodes the same."""
    whole = ReplyDecoder().feed(LIST_VAR)
    for i in range(len(LIST_VAR) + 1):
        d = ReplyDecoder()
        got = d.feed(LIST_VAR[:i]) + d.feed(LIST_VAR[i:])
        assert got == whole, i


@pytest.mark.parametrize("raw", [
    b"END LIST VAR ups1\n",                                           # END without BEGIN
    b"BEGIN LIST VAR ups1\nEND LIST VAR ups2\n",                      # mismatched END
    b"BEGIN LIST VAR ups1\nBEGIN LIST UPS\n",                         # nested BEGIN
    b"BEGIN LIST VAR ups1\nUPS ups1 \"x\"\n",                          # wrong item word
    b"BEGIN LIST VAR ups1\nVAR ups1 a\n",                              # short item
    b"VAR ups1 ups.status \"OL\n",                                    # unterminated quote
    b"VAR ups1 ups.status\n",                                         # VAR without value
    b"VAR ups1 ups.status \"OL\" extra\n",
    b"NUMLOGINS ups1 x\n",
    b"ERR\n",
    b"OK\x00\n",                                                      # control byte
    b"VAR ups1 x \"a\x1bb\"\n",
    b"BEGIN LIST\n",
])
def test_garbage_raises_frame_error(raw):
    with pytest.raises(FrameError):
        ReplyDecoder().feed(raw)


def test_resync_after_garbage_keeps_earlier_replies():
    """Replies decoded before a bad line are handed out by the next feed;
    decoding resumes at the next line."""
    d = ReplyDecoder()
    with pytest.raises(ProtocolError):
        d.feed(b"OK\nEND LIST VAR ups1\nVAR ups1 a \"1\"\n")
    # the reply before the bad line and the one after it both come out next time
    assert d.feed(b"") == [OkReply(""), VarReply("ups1", "a", "1")]
    assert d.feed(b"") == []
    # the line after the bad one is still in the buffer and decodes
    d2 = ReplyDecoder()
    with pytest.raises(FrameError):
        d2.feed(b"\x01junk\n")
    assert d2.feed(b"ERR DATA-STALE\n") == [ErrReply("DATA-STALE")]


def test_overlong_line_is_rejected_then_resyncs():
    d = ReplyDecoder(max_line=100)
    with pytest.raises(FrameError):
        d.feed(b"X" * 200)
    assert d.feed(b"Y" * 50 + b"\nOK\n") == [OkReply("")]


def test_latin1_value_is_kept():
    got = ReplyDecoder().feed(b"VAR ups1 device.mfr \"K\xf6nig\"\n")
    assert got == [VarReply("ups1", "device.mfr", "König")]


def test_encode_command_quotes_only_when_needed():
    assert encode_command("LIST", "VAR", "ups1") == b"LIST VAR ups1\n"
    assert encode_command("PASSWORD", 'a b"\\') == b'PASSWORD "a b\\"\\\\"\n'
    assert encode_command("USERNAME", "") == b'USERNAME ""\n'
    for bad in ("a\nb", "a\rb", "a\0b"):
        with pytest.raises(FrameError):
            encode_command("USERNAME", bad)
    with pytest.raises(FrameError):
        encode_command()


def test_split_words_rules():
    assert split_words('VAR ups1 x "a \\"b\\" \\\\ c"') == ["VAR", "ups1", "x", 'a "b" \\ c']
    assert split_words('GET VAR "ups1" "ups.status"') == ["GET", "VAR", "ups1", "ups.status"]
    assert split_words('VAR u x ""') == ["VAR", "u", "x", ""]
    assert split_words("  a \t b  ") == ["a", "b"]
    with pytest.raises(FrameError):
        split_words("a\\")


def test_parse_line_rejects_framing_lines():
    with pytest.raises(FrameError):
        parse_line("BEGIN LIST VAR ups1")


# -- simulator codec ---------------------------------------------------------------

def test_sim_line_splitter_crlf_and_partial():
    s = LineSplitter()
    assert s.feed(b"GET VAR ups1 ups.st") == []
    assert s.feed(b"atus\r\nLIST UPS\n") == ["GET VAR ups1 ups.status", "LIST UPS"]


def test_sim_line_splitter_overlong():
    s = LineSplitter(limit=10)
    assert s.feed(b"A" * 30) == [None]
    assert s.feed(b"B" * 30) == []
    assert s.feed(b"tail\nVER\n") == ["VER"]
    assert LineSplitter(limit=3).feed(b"ABCDE\nVER\n") == [None, "VER"]


def test_sim_words_and_errors():
    assert words_of('get var "ups1" ups.status') == ["get", "var", "ups1", "ups.status"]
    assert words_of("") == []
    for bad in ('GET VAR "ups1', "GET VAR ups1\\"):
        with pytest.raises(BadRequest):
            words_of(bad)


def test_sim_reply_builders_decode_in_driver_codec():
    raw = block(["VAR", "ups1"], [line("VAR", "ups1", "ups.alarm", q('Replace "battery"! \\'))])
    raw += err("DATA-STALE")
    got = ReplyDecoder().feed(raw)
    assert got == [ListReply(("VAR", "ups1"), (("VAR", "ups1", "ups.alarm", 'Replace "battery"! \\'),)),
                   ErrReply("DATA-STALE")]


# -- properties ---------------------------------------------------------------------

values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"),
                 max_size=40)
printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2FF, blacklist_characters="\x7f"),
                    max_size=40)


@given(values)
def test_quote_round_trip_driver(value):
    assert split_words("VAR ups1 x " + quote(value)) == ["VAR", "ups1", "x", value]


@given(values)
def test_quote_round_trip_sim_to_driver(value):
    """Simulator quoting is read back exactly by the driver's tokenizer."""
    assert split_words("VAR ups1 x " + q(value)) == ["VAR", "ups1", "x", value]


@given(st.lists(values, min_size=1, max_size=5))
def test_driver_requests_read_back_by_sim(words):
    raw = encode_command(*words)
    assert raw.endswith(b"\n")
    assert words_of(raw[:-1].decode("utf-8")) == words


@given(printable, st.integers(min_value=0, max_value=200))
def test_sim_var_reply_split_anywhere(value, cut):
    raw = line("VAR", "ups1", "ups.status", q(value)) + line("OK")
    cut = min(cut, len(raw))
    d = ReplyDecoder()
    got = d.feed(raw[:cut]) + d.feed(raw[cut:])
    assert got == [VarReply("ups1", "ups.status", value), OkReply("")]


@settings(max_examples=150)
@given(st.lists(st.binary(max_size=64), max_size=8))
def test_random_bytes_only_typed_errors(chunks):
    """Garbage never gives an untyped exception or a hang."""
    d = ReplyDecoder(max_line=128)
    for chunk in chunks:
        try:
            d.feed(chunk)
        except ProtocolError:
            pass


@settings(max_examples=150)
@given(st.lists(st.sampled_from([
    b"BEGIN LIST VAR ups1\n", b"END LIST VAR ups1\n", b"VAR ups1 a \"1\"\n", b"ERR X\n",
    b"OK\n", b"\"\n", b"UPS ups1 \"d\"\n", b"\\\n", b"\xff\n", b"1.3\n"]), max_size=12))
def test_random_line_sequences_only_typed_errors(lines):
    d = ReplyDecoder()
    for raw in lines:
        try:
            for reply in d.feed(raw):
                assert not isinstance(reply, Exception)
        except ExamHwError as exc:
            assert isinstance(exc, ProtocolError)


@settings(max_examples=200)
@given(st.binary(max_size=200))
def test_sim_splitter_and_words_never_crash(data):
    for text in LineSplitter(limit=64).feed(data):
        if text is None:
            continue
        try:
            words_of(text)
        except BadRequest:
            pass
