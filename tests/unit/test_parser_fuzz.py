"""Adversarial fuzzing of every wire parser, driver side and simulator side
(beyond the per-codec tests): random bytes, valid frames of the *other* side's
encoder split at every position, bit flips, huge lengths, unicode garbage,
endless streams (memory must stay bounded) and well-framed garbage fed to the
simulators' protocol sessions.

The rule for every parser: it returns frames, documented error objects, or
raises an :class:`examhw.errors.ExamHwError` subclass — never anything else,
never hangs (hypothesis deadline), never grows without bound. Hypothesis runs
derandomized (same examples every run) so the suite is deterministic.

Tests marked ``xfail(strict=True, reason="BUG: …")`` fail because the product is
wrong; remove the marker when it is fixed. Requirements touched: R-DEV-GATE,
R-DEV-DESK, R-DEV-POWER, R-DEV-SEAT, R-OPS-CHECKIN, R-SEC-TAMPER.
"""
from __future__ import annotations

import asyncio
import random
import struct
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from examhw.errors import ExamHwError, ProtocolError

from examhw_drivers.evolis_tcp import codec as evo
from examhw_drivers.gate_7e7f import codec as gate
from examhw_drivers.ipp_printer import codec as ippd
from examhw_drivers.nut_ups import codec as nut
from examhw_drivers.nut_ups.status import KNOWN_TOKENS, parse_status
from examhw_drivers.sam_serial import codec as sam
from examhw_drivers.sam_serial.text import parse_text
from examhw_drivers.stu_serial import codec as stu
from examhw_drivers.stu_serial import reports as stu_reports
from examhw_simulators.card_printer import codec as card_sim
from examhw_simulators.gate import codec as gate_sim
from examhw_simulators.idcard import codec as sam_sim
from examhw_simulators.idcard.model import SimCard, encode_text
from examhw_simulators.sigpad import codec as pad_sim
from examhw_simulators.doc_printer import ipp as ipp_sim
from examhw_simulators.ups import devdump
from examhw_simulators.ups import wire as nut_sim

pytestmark = pytest.mark.timeout(60)

FUZZ = settings(max_examples=100, deadline=1000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FEW = settings(FUZZ, max_examples=40)
ONCE_IN_A_WHILE = settings(FUZZ, max_examples=12)


# =============================================================================================
# The stream decoders, uniformly
# =============================================================================================
@dataclass(frozen=True)
class Codec:
    """One incremental decoder: how to build it, how to frame a payload for it
    with the *other* side's encoder, and how to read a decoded item back."""

    name: str
    make: Callable[[], Any]
    #: payload (from the ``payloads`` strategy) → wire bytes, made by the peer's encoder
    frame: Callable[[Any], bytes]
    payloads: Any
    #: decoded item → comparable value (``None`` for items that are error objects)
    value: Callable[[Any], Any]
    #: what ``value`` should give for the payload
    expect: Callable[[Any], Any]
    #: single-bit flips in bytes [lo, len-hi) are always detected (checksummed body)
    checked_body: tuple[int, int] | None = None
    #: bytes that bias random garbage towards this protocol's framing
    alphabet: bytes = b""
    #: how to forget a partial frame (the driver does it before each request)
    reset: Callable[[Any], Any] = lambda dec: dec.reset()


def _items(codec: Codec, dec: Any, data: bytes) -> list[Any]:
    """Feed ``data``; typed errors raised are swallowed, anything else propagates."""
    try:
        return list(dec.feed(data))
    except ExamHwError:
        return []


def _values(codec: Codec, items: list[Any]) -> list[Any]:
    return [v for v in (codec.value(i) for i in items) if v is not None]


def _not_error(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def wrapped(item: Any) -> Any:
        if isinstance(item, Exception):
            assert isinstance(item, ExamHwError), f"untyped error object {item!r}"
            return None
        return fn(item)
    return wrapped


def _nut_sim_value(line: str | None) -> Any:
    """The 4th word of a ``GET VAR ups1 <w>`` line; other lines give a marker."""
    if line is None:
        return None
    try:
        words = nut_sim.words_of(line)
    except nut_sim.BadRequest:
        return ("bad request",)
    return words[3] if len(words) == 4 and words[:3] == ["GET", "VAR", "ups1"] else ("other", line)

CODECS = [
    # driver decoders fed by the simulators' encoders
    Codec("sam-driver<-sim", lambda: sam.SamDecoder(), lambda b: sam_sim.build_frame(b"\x00\x00" + b),
          st.binary(min_size=1, max_size=60), _not_error(lambda f: f.body), lambda b: b"\x00\x00" + b,
          checked_body=(7, 0), alphabet=b"\xaa\x96\x69\x00\x04\x90"),
    Codec("gate-driver<-sim", lambda: gate.ReplyDecoder(),
          lambda f: gate_sim.build_reply(firmware=f[0], address=f[1], fault=f[2], gate=f[3], alarm=f[4],
                                         left=f[5], right=f[6], ir=f[7], result=f[8], voltage=f[9]),
          st.tuples(*[st.integers(0, 255)] * 5, st.integers(0, 2**24 - 1), st.integers(0, 2**24 - 1),
                    *[st.integers(0, 255)] * 3),
          _not_error(lambda r: (r.firmware, r.address, r.fault, r.gate, r.alarm, r.count_left, r.count_right,
                                r.ir, r.result, r.voltage_raw)),
          lambda f: tuple(f), checked_body=(1, 0), alphabet=b"\x7f\x00\x55\xff"),
    Codec("stu-driver<-sim", lambda: stu.FrameDecoder(), lambda p: pad_sim.frame(p[0], p[1]),
          st.tuples(st.integers(0, 255), st.binary(max_size=40)),
          _not_error(lambda f: (f.report_id, f.payload)), lambda p: (p[0], p[1]),
          checked_body=(2, 0), alphabet=b"\x80\xc0\x7f\x00\x01"),
    Codec("nut-driver<-sim", lambda: nut.ReplyDecoder(),
          lambda v: nut_sim.line("VAR", "ups1", "ups.status", nut_sim.q(v)),
          st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=40),
          _not_error(lambda r: r.value if isinstance(r, nut.VarReply) else ("other", r)), lambda v: v,
          alphabet=b"\n\r \"\\VARBEGINLISTEND"),
    Codec("evolis-driver<-sim", lambda: evo.ReplyDecoder(), lambda t: card_sim.reply(t),
          st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=60),
          lambda r: None if r.kind is evo.ReplyKind.INVALID else r.text, lambda t: t,
          alphabet=b"\r\n\x00\x1bOKACKN"),
    # simulator decoders fed by the drivers' encoders
    Codec("sam-sim<-driver", lambda: sam_sim.FrameReader(),
          lambda p: sam.encode_request(p[0], p[1], p[2]),
          st.tuples(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=40)),
          _not_error(lambda f: f.body), lambda p: bytes([p[0], p[1]]) + p[2],
          checked_body=(7, 0), alphabet=b"\xaa\x96\x69\x00\x03\x20\x01"),
    Codec("gate-sim<-driver", lambda: gate_sim.RequestParser(),
          lambda p: gate.encode_request(*p), st.tuples(st.integers(1, 255), *[st.integers(0, 255)] * 4),
          _not_error(lambda r: (r.address, r.cmd, r.d0, r.d1, r.d2)), lambda p: tuple(p),
          checked_body=(1, 0), alphabet=b"\x7e\x00\x01\x10\xff"),
    Codec("stu-sim<-driver", lambda: pad_sim.FrameReader(), lambda p: stu.encode(p[0], p[1]),
          st.tuples(st.integers(0, 255), st.binary(max_size=40)),
          _not_error(lambda t: (t[0], t[1])), lambda p: (p[0], p[1]),
          checked_body=(2, 0), alphabet=b"\x80\xc0\x7f\x00\x01"),
    Codec("nut-sim<-driver", lambda: nut_sim.LineSplitter(),
          lambda w: nut.encode_command("GET", "VAR", "ups1", w),
          st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"),
                  max_size=40),
          lambda line: _nut_sim_value(line), lambda w: w,
          alphabet=b"\n\r \"\\GETVAR", reset=lambda dec: dec.feed(b"\n")),
    Codec("evolis-sim<-driver", lambda: card_sim.CommandParser(), lambda p: evo.encode_command("Pmi", *p),
          st.lists(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E,
                                                  blacklist_characters=";"), max_size=8), max_size=4),
          lambda c: None if isinstance(c, card_sim.Malformed) else (c.name, c.params),
          lambda p: ("Pmi", tuple(p)), alphabet=b"\x1b\r;DbcRst0129k"),
]
CODEC_IDS = [c.name for c in CODECS]


def _garbage(codec: Codec) -> Any:
    biased = st.lists(st.sampled_from(sorted(set(codec.alphabet + b"\xff\x00"))), max_size=200).map(bytes)
    return st.lists(st.one_of(st.binary(max_size=200), biased), max_size=6)


@pytest.mark.parametrize("codec", CODECS, ids=CODEC_IDS)
def test_random_and_biased_garbage_gives_only_typed_errors(codec):
    """Random bytes and protocol-flavoured garbage, fed in chunks: only frames,
    typed error objects or raised ExamHwError; afterwards (reset) the decoder
    still decodes a valid frame exactly."""
    @settings(FUZZ, max_examples=30)
    @given(chunks=_garbage(codec), payload=codec.payloads)
    def run(chunks, payload):
        dec = codec.make()
        for chunk in chunks:
            for item in _items(codec, dec, chunk):
                codec.value(item)                      # error objects must be ExamHwError
        codec.reset(dec)
        assert _values(codec, _items(codec, dec, codec.frame(payload))) == [codec.expect(payload)]
    run()


@pytest.mark.parametrize("codec", CODECS, ids=CODEC_IDS)
def test_peer_frame_split_at_every_position_decodes_once(codec):
    """A frame built by the other side's encoder, cut in two at every position
    (and into 1-byte pieces), decodes to exactly the payload, once."""
    @FEW
    @given(payload=codec.payloads)
    def run(payload):
        wire = codec.frame(payload)
        want = [codec.expect(payload)]
        for cut in range(len(wire) + 1):
            dec = codec.make()
            got = _values(codec, _items(codec, dec, wire[:cut]) + _items(codec, dec, wire[cut:]))
            assert got == want, (cut, wire)
        dec = codec.make()
        got = [v for b in wire for v in _values(codec, _items(codec, dec, bytes([b])))]
        assert got == want
    run()


@pytest.mark.parametrize("codec", CODECS, ids=CODEC_IDS)
def test_frame_after_garbage_and_a_run_of_frames_is_found(codec):
    """Without a reset: garbage, then the same valid frame many times over
    (more bytes than any frame may be long): the decoder resynchronises and
    decodes the payload."""
    @settings(FUZZ, max_examples=20)
    @given(garbage=st.binary(max_size=120), payload=codec.payloads)
    def run(garbage, payload):
        assume(codec.name != "evolis-sim<-driver" or b"Db" not in garbage)      # a Db opens an 82 KB payload
        wire = codec.frame(payload)
        dec = codec.make()
        got = _values(codec, _items(codec, dec, garbage))
        repeats = 4200 // len(wire) + 2
        for _ in range(repeats):
            got += _values(codec, _items(codec, dec, wire))
        assert codec.expect(payload) in got
    run()


@pytest.mark.parametrize("codec", [c for c in CODECS if c.checked_body], ids=lambda c: c.name)
def test_single_bit_flip_in_checked_body_never_yields_a_wrong_frame(codec):
    """A bit flipped anywhere in a checksummed part of a frame never produces a
    frame with different content (it is a typed error, or nothing)."""
    @FEW
    @given(payload=codec.payloads, data=st.data())
    def run(payload, data):
        wire = bytearray(codec.frame(payload))
        lo, hi = codec.checked_body
        pos = data.draw(st.integers(lo, len(wire) - 1 - hi))
        wire[pos] ^= 1 << data.draw(st.integers(0, 7))
        dec = codec.make()
        got = _values(codec, _items(codec, dec, bytes(wire)))
        assert not got, (pos, got)
    run()


# =============================================================================================
# Huge and impossible lengths
# =============================================================================================
@pytest.mark.parametrize("length", [0, 1, 2, 3, 4097, 0x7FFF, 0xFFFF])
def test_sam_driver_rejects_impossible_len_at_once(length):
    """A LEN outside 4…4096 is a FrameError as soon as LEN is read (no waiting
    for 64 KB of body); a frame right behind it is still found."""
    dec = sam.SamDecoder()
    with pytest.raises(ProtocolError):
        dec.feed(sam.PREAMBLE + struct.pack(">H", length))
    good = sam_sim.build_reply(0x90)
    assert [f.sw3 for f in _swallow(dec.feed, good)] == [0x90]


def test_sam_sim_rejects_long_requests_and_recovers():
    """The simulated SAM answers a LEN above 256 with an error item and finds the next request."""
    reader = sam_sim.FrameReader()
    items = reader.feed(bytes(sam_sim.SYNC))
    items += reader.feed(b"\xff\xff" + sam.encode_request(0x20, 0x01))
    assert any(isinstance(i, ExamHwError) for i in items)
    assert [i.body for i in items if isinstance(i, sam_sim.RawFrame)] == [b"\x20\x01"]


@pytest.mark.parametrize("n", [8191, 2000, 294])
def test_stu_decoders_reject_huge_encoded_lengths(n):
    """STU headers claiming more than 256 raw bytes are errors at once on both sides; the next frame decodes."""
    head = bytes([0xC0 | (n >> 7), n & 0x7F])
    good_drv, good_sim = pad_sim.frame(0x03, b"\x00\x00\x00\x00"), stu.encode(0x20, b"\x00")
    drv = stu.FrameDecoder().feed(head + b"\x01" * 10 + good_drv)
    sim = pad_sim.FrameReader().feed(head + b"\x01" * 10 + good_sim)
    assert isinstance(drv[0], ProtocolError) and drv[-1] == stu.Frame(0x03, b"\x00\x00\x00\x00")
    assert isinstance(sim[0], ProtocolError) and sim[-1] == (0x20, b"\x00")


def test_nut_driver_over_long_line_resyncs():
    """R-DEV-POWER: a reply line over 64 KB is a FrameError; decoding resumes after its LF."""
    dec = nut.ReplyDecoder()
    with pytest.raises(ProtocolError):
        dec.feed(b"X" * (nut.MAX_LINE + 10))
    assert dec.feed(b"tail of the long line\nOK\n") == [nut.OkReply()]


def test_evolis_driver_over_long_reply_resyncs():
    """R-DEV-DESK: a reply over 256 bytes is INVALID; decoding resumes after its CR."""
    dec = evo.ReplyDecoder()
    items = dec.feed(b"A" * 300) + dec.feed(b"more\rOK\r")
    assert [i.kind for i in items] == [evo.ReplyKind.INVALID, evo.ReplyKind.OK]


def _swallow(fn: Callable[[bytes], Any], data: bytes) -> list[Any]:
    try:
        return list(fn(data))
    except ExamHwError:
        return []


# =============================================================================================
# Bounded memory under endless streams
# =============================================================================================
def _footprint(obj: Any, depth: int = 2) -> int:
    """Bytes held by an object's attributes (containers followed ``depth`` levels)."""
    seen: set[int] = set()

    def size(x: Any, d: int) -> int:
        if id(x) in seen:
            return 0
        seen.add(id(x))
        n = sys.getsizeof(x)
        if d > 0 and isinstance(x, (list, tuple, set, frozenset)):
            n += sum(size(i, d - 1) for i in x)
        elif d > 0 and isinstance(x, dict):
            n += sum(size(k, d - 1) + size(v, d - 1) for k, v in x.items())
        return n

    return sum(size(v, depth) for v in vars(obj).values())


def _retained_after(make: Callable[[], Any], chunks: list[bytes]) -> int:
    """Bytes a decoder holds after being fed ``chunks`` (outputs dropped)."""
    dec = make()
    for chunk in chunks:
        _swallow(dec.feed, chunk)
    return _footprint(dec)


ENDLESS = {
    "sam-driver": (sam.SamDecoder, [sam.PREAMBLE + b"\x10\x00" + b"\x01" * 4000, b"\x02" * 60000]),
    "sam-sim": (sam_sim.FrameReader, [bytes(sam_sim.SYNC) + b"\x01\x00" + b"\x01" * 200, b"\x02" * 60000]),
    "gate-driver": (gate.ReplyDecoder, [b"\x7f" * 30000, b"\x7f\x00" * 30000]),
    "gate-sim": (gate_sim.RequestParser, [b"\x7e" * 30000, b"\x01" * 30000]),
    "stu-driver": (stu.FrameDecoder, [b"\xc0\x20" + b"\x01" * 60000]),
    "stu-sim": (pad_sim.FrameReader, [b"\xc0\x20" + b"\x01" * 60000]),
    "nut-driver-line": (nut.ReplyDecoder, [b"A" * 60000] * 3),
    "nut-sim-line": (nut_sim.LineSplitter, [b"A" * 60000] * 3),
    "evolis-driver": (evo.ReplyDecoder, [b"A" * 60000] * 3),
    "evolis-sim": (card_sim.CommandParser, [b"\x1bRst" + b"A" * 60000, b"A" * 60000]),
}


@pytest.mark.parametrize("name", sorted(ENDLESS))
def test_endless_garbage_keeps_memory_bounded(name):
    """Up to 180 KB of never-completing input (fed twice) leaves
    at most a bounded buffer behind (< 80 KB: one maximal frame or line)."""
    make, chunks = ENDLESS[name]
    assert _retained_after(make, chunks * 2) < 80_000


def test_nut_list_without_end_is_bounded():
    """R-DEV-POWER: a broken or hostile upsd sends ``BEGIN LIST VAR`` and then
    items forever. The decoder must give up with a FrameError after a bounded
    number of items/bytes (real lists hold a few hundred variables), not keep
    them all (here 1.2 MB of items)."""
    dec = nut.ReplyDecoder()
    dec.feed(b"BEGIN LIST VAR ups1\n")
    chunk = b"VAR ups1 a b\n" * 4000                          # 52 KB
    with pytest.raises(ProtocolError):
        for _ in range(24):
            dec.feed(chunk)


# =============================================================================================
# Text parsers fed unicode garbage
# =============================================================================================
unicode_words = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
NUT_HEADS = ["VAR", "TYPE", "DESC", "CMDDESC", "UPSDESC", "NUMLOGINS", "ERR", "OK", "BEGIN", "END", "UPS",
             "RW", "CMD", "ENUM", "RANGE", "CLIENT", "LIST", "\"", "\\"]


@FUZZ
@given(text=st.text(max_size=200))
def test_nut_text_helpers_on_any_text(text):
    """split_words, parse_line and the sim's words_of take any str: words or a
    typed error (the sim's BadRequest is documented)."""
    for fn in (nut.split_words, nut.parse_line):
        try:
            fn(text)
        except ExamHwError:
            pass
    try:
        nut_sim.words_of(text)
    except nut_sim.BadRequest:
        pass


@FUZZ
@given(words=st.lists(st.one_of(st.sampled_from(NUT_HEADS), unicode_words), min_size=1, max_size=6),
       quote=st.booleans())
def test_nut_reply_decoder_on_keyword_salad(words, quote):
    """Lines built from NUT keywords and unicode words (some quoted), through the
    incremental decoder: only replies or ProtocolError."""
    text = " ".join(nut_sim.q(w) if quote and i > 1 else w for i, w in enumerate(words))
    dec = nut.ReplyDecoder()
    for data in (text.encode("utf-8", "surrogatepass") + b"\n", b"END LIST VAR ups1\n", b"OK\n"):
        _swallow(dec.feed, data)


@pytest.mark.parametrize("count", ["²", "①"])
def test_nut_numlogins_with_unicode_digit_is_typed(count):
    """'²'.isdigit() is True but int('²') fails: a typed FrameError is due."""
    dec = nut.ReplyDecoder()
    try:
        dec.feed(f"NUMLOGINS ups1 {count}\n".encode())
    except ExamHwError:
        pass


@FUZZ
@given(text=st.text(max_size=300))
def test_devdump_parse_never_raises_on_plain_lines(text):
    """parse_dump is documented never to raise on odd lines (except ``#RW:``
    metadata, covered below)."""
    assume("#RW:" not in text)
    devdump.parse_dump(text)


def test_devdump_rw_maxlen_with_unicode_digit():
    """R-DEV-POWER: a dump whose #RW maxlen is '²' is read (maxlen unknown), not a crash."""
    dump = devdump.parse_dump("#RW:ups.id:STRING:²\nups.id: x\n")
    assert dump.vars == {"ups.id": "x"}


@FUZZ
@given(tokens=st.lists(st.one_of(st.sampled_from(sorted(KNOWN_TOKENS)), unicode_words), max_size=8))
def test_ups_status_any_token_mix(tokens):
    """BR-21: any mix of known and unknown tokens gives a flag set; unknown
    tokens are kept; OL+OB is never mains."""
    text = " ".join(tokens)
    parsed = parse_status(text)
    assert parsed.flags == frozenset(text.split())
    if "OB" in parsed.flags:
        assert parsed.source.value != "mains"


@FUZZ
@given(text=st.text(max_size=80))
def test_evolis_status_words_any_text(text):
    """Any Rst text gives status words or a FrameError."""
    try:
        evo.parse_status(text)
    except ExamHwError:
        pass


# =============================================================================================
# Whole-body parsers (IPP both sides)
# =============================================================================================
def _ipp_body(draw: Any) -> bytes:
    g = ippd.Group(ippd.GroupTag.OPERATION)
    g.add("attributes-charset", ippd.ValueTag.CHARSET, "utf-8")
    g.add("attributes-natural-language", ippd.ValueTag.LANGUAGE, "en")
    g.add("printer-uri", ippd.ValueTag.URI, "ipp://127.0.0.1/ipp/print")
    g.add("job-name", ippd.ValueTag.NAME, draw(st.text(max_size=20)))
    g.add("copies", ippd.ValueTag.INTEGER, draw(st.integers(-2**31, 2**31 - 1)))
    g.add("job-hold", ippd.ValueTag.BOOLEAN, draw(st.booleans()))
    g.add("res", ippd.ValueTag.RESOLUTION, (600, 600, 3))
    g.add("range", ippd.ValueTag.RANGE, (1, 9))
    g.add("lang", ippd.ValueTag.TEXT_LANG, ("en", draw(st.text(max_size=10))))
    g.add("none", ippd.ValueTag.NO_VALUE, None)
    g.add("col", ippd.ValueTag.BEG_COLLECTION, [("m", [ippd.Value(ippd.ValueTag.KEYWORD, "k")])])
    return ippd.encode(ippd.Message(code=0x000B, request_id=draw(st.integers(1, 2**31)), groups=[g],
                                    data=draw(st.binary(max_size=20))))


@FUZZ
@given(data=st.data())
def test_ipp_mutated_bodies_give_frame_errors_only(data):
    """A valid IPP body with random bit flips, truncation or insertion: the
    driver's decode and the simulator's parse give a message or FrameError."""
    body = bytearray(_ipp_body(data.draw))
    for _ in range(data.draw(st.integers(0, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = data.draw(st.integers(0, max(0, len(body) - 1)))
        if op == "flip" and body:
            body[pos] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "cut":
            del body[pos:]
        else:
            body[pos:pos] = data.draw(st.binary(min_size=1, max_size=4))
    for parse in (ippd.decode, ipp_sim.parse):
        try:
            parse(bytes(body))
        except ExamHwError:
            pass


@FUZZ
@given(body=st.binary(max_size=400))
def test_ipp_random_bodies(body):
    """R-OPS-SCORE: random bodies give a message or FrameError on both sides."""
    for parse in (ippd.decode, ipp_sim.parse):
        try:
            parse(body)
        except ExamHwError:
            pass


@ONCE_IN_A_WHILE
@given(data=st.data())
def test_ipp_every_truncation_is_a_frame_error(data):
    """Every prefix of a valid body that stops before the end-of-attributes tag
    is a FrameError on both sides (an IPP body has no length of its own)."""
    body = _ipp_body(data.draw)
    msg = ippd.decode(body)
    end = len(body) - len(msg.data)                  # just after the end tag
    for cut in range(end):
        for parse in (ippd.decode, ipp_sim.parse):
            with pytest.raises(ProtocolError):
                parse(body[:cut])


def test_ipp_huge_lengths_are_frame_errors():
    """Name/value lengths past the end of the body and endless collections are FrameErrors."""
    head = struct.pack(">BBHI", 1, 1, 0x000B, 1) + b"\x01"
    for tail in (b"\x45\xff\xff", b"\x45\x00\x01a\xff\xff" + b"x" * 10, b"\x34\x00\x00\x00\x00" * 20):
        for parse in (ippd.decode, ipp_sim.parse):
            with pytest.raises(ProtocolError):
                parse(head + tail)


def test_ipp_deeply_nested_collections_are_refused_not_recursed():
    """5000 nested collections: FrameError (depth limit), no RecursionError."""
    head = struct.pack(">BBHI", 1, 1, 0x000B, 1) + b"\x01"
    nest = b"\x34\x00\x01c\x00\x00" + (b"\x4a\x00\x00\x00\x01m\x34\x00\x00\x00\x00") * 5000
    for parse in (ippd.decode, ipp_sim.parse):
        with pytest.raises(ProtocolError):
            parse(head + nest + b"\x03")


# =============================================================================================
# Pure decoders of fields and reports
# =============================================================================================
@FUZZ
@given(data=st.binary(max_size=40), rid=st.integers(0, 255))
def test_stu_report_decoders_any_payload(data, rid):
    """R-DEV-DESK: any payload of any report: decoded or FrameError."""
    for fn in (stu_reports.decode_status, stu_reports.decode_information, stu_reports.decode_capability,
               stu_reports.decode_uid2, stu_reports.decode_set_result,
               lambda p: stu_reports.decode_pen(rid, p)):
        try:
            fn(data)
        except ExamHwError:
            pass


@FUZZ
@given(data=st.binary(max_size=64))
def test_septet_unpackers_any_bytes(data):
    """7-bit unpacking of any bytes (both sides): bytes or FrameError."""
    for fn in (stu.unpack7, pad_sim.from_septets):
        try:
            fn(data)
        except ExamHwError:
            pass


@FUZZ
@given(data=st.binary(max_size=300))
def test_card_sim_decompress_any_bytes(data):
    """Dbc panel decompression of any bytes: a full panel or FrameError."""
    try:
        out = card_sim.decompress_mono(data)
        assert len(out) == card_sim.LINES * card_sim.LINE_BYTES
    except ExamHwError:
        pass


@FUZZ
@given(data=st.binary(max_size=1400), fp=st.booleans())
def test_sam_read_data_and_number_any_bytes(data, fp):
    """R-OPS-CHECKIN: read-reply splitting and SAM-number parsing of any bytes."""
    for fn in (lambda d: sam.split_read_data(d, with_fingerprint=fp), sam.parse_sam_number):
        try:
            fn(data)
        except ExamHwError:
            pass


def _text_block(draw: Any) -> bytes:
    """A 256-byte text block: a real card layout with random UCS-2 in its fields."""
    kind = draw(st.sampled_from(["resident", "J", "I", "Y"]))
    number = "USA110090010101" if kind == "I" else "110101199001010011"
    block = bytearray(encode_text(SimCard(name="示例", sex="1", nation="01", birth=datetime(1990, 1, 1).date(),
                                          address="x", id_number=number, authority="y",
                                          valid_from=datetime(2020, 1, 1).date(), valid_to=None,
                                          card_type=kind, english_name="A", nationality="USA")))
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, 127)) * 2
        ch = draw(st.characters(max_codepoint=0xFFFF, blacklist_categories=("Cs",)))
        block[at:at + 2] = ch.encode("utf-16-le")
    return bytes(block)


@FEW
@given(data=st.data())
def test_sam_text_block_with_random_characters(data):
    """R-OPS-CHECKIN: a card text block with random characters in any field
    decodes (maybe with warnings) or is a FrameError."""
    block = _text_block(data.draw)
    assume(not any("0" <= c <= "9" or c.isdigit() for c in block[154:156].decode("utf-16-le", "replace")))
    try:
        parse_text(block)
    except ExamHwError:
        pass


@pytest.mark.parametrize("digit", ["²", "①"])
def test_sam_text_id_number_with_unicode_digit(digit):
    """R-OPS-CHECKIN / R-SEC-TAMPER: a forged card whose ID number has a
    non-ASCII 'digit' at position 17 gives a warning (or FrameError), not an
    untyped ValueError."""
    number = "1101011990010100" + digit + "1"
    block = encode_text(SimCard(name="示例", sex="1", nation="01", birth=datetime(1990, 1, 1).date(),
                                address="x", id_number=number, authority="y",
                                valid_from=datetime(2020, 1, 1).date(), valid_to=None))
    try:
        fields = parse_text(block)
    except ExamHwError:
        return
    assert not fields.id_number_valid


# =============================================================================================
# Camera: SOAP timestamps, Digest headers, camera clock
# =============================================================================================
@FUZZ
@given(text=st.text(max_size=40))
def test_camera_sim_parse_created_any_text_is_value_error(text):
    """BR-15: any Created text gives a datetime or ValueError (as documented)."""
    from examhw_simulators.camera.soap import parse_created
    try:
        parse_created(text)
    except ValueError:
        pass


@pytest.mark.parametrize("created", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_camera_sim_parse_created_out_of_range(created):
    """BR-15: a Created beyond the datetime range in UTC is a ValueError like any bad timestamp."""
    from examhw_simulators.camera.soap import parse_created
    with pytest.raises(ValueError):
        parse_created(created)


@FUZZ
@given(header=st.text(alphabet=st.characters(max_codepoint=127), max_size=200))
def test_camera_sim_digest_check_any_header(header):
    """BR-17: the snapshot Digest check answers ok/missing/stale/bad for any
    (ASCII) header value."""
    from examhw_simulators.camera.http_digest import DigestAuthority
    auth = DigestAuthority("admin", "pw")
    assert auth.check("GET", "/onvif/snapshot", "Digest " + header) in ("missing", "stale", "bad")


def test_camera_sim_digest_check_non_ascii_response():
    """BR-17: a Digest response field with non-ASCII characters is 'bad', not a TypeError."""
    from examhw_simulators.camera.http_digest import DigestAuthority
    auth = DigestAuthority("admin", "pw")
    header = 'Digest username="admin", realm="examhw-camera", uri="/s", nonce="n", response="\udce9"'
    assert auth.check("GET", "/s", header) == "bad"


@FUZZ
@given(values=st.lists(st.text(max_size=120), max_size=4))
def test_driver_parse_challenges_any_text(values):
    """BR-17: any WWW-Authenticate values give (scheme, params) pairs."""
    from examhw.transports.onvif import parse_challenges
    for scheme, params in parse_challenges(values):
        assert scheme and isinstance(params, dict)


def _sysdate(year: Any, month: Any = 1, day: Any = 1, hour: Any = 0) -> Any:
    stamp = SimpleNamespace(Date=SimpleNamespace(Year=year, Month=month, Day=day),
                            Time=SimpleNamespace(Hour=hour, Minute=0, Second=0))
    return SimpleNamespace(UTCDateTime=stamp, LocalDateTime=None)


@FUZZ
@given(year=st.integers(-10**4, 10**4), month=st.integers(-1, 14), day=st.integers(-1, 33),
       hour=st.integers(-1, 25))
def test_driver_camera_time_any_small_fields(year, month, day, hour):
    """BR-15: any date the camera reports gives a CameraTime or ProtocolError."""
    from examhw.transports.onvif import camera_time_from
    try:
        camera_time_from(_sysdate(year, month, day, hour), datetime.now(timezone.utc))
    except ExamHwError:
        pass


def test_driver_camera_time_huge_year_is_protocol_error():
    """BR-15 / R-DEV-SEAT: a camera reporting a 20-digit year gives ProtocolError, not OverflowError."""
    from examhw.transports.onvif import camera_time_from
    with pytest.raises(ProtocolError):
        camera_time_from(_sysdate(10**20), datetime.now(timezone.utc))


# =============================================================================================
# Simulator protocol sessions fed well-framed garbage (no transport: the session itself)
# =============================================================================================
class _Link:
    """Stands in for a ByteLink: collects what the session writes."""

    def __init__(self) -> None:
        self.out = bytearray()

    def write(self, data: bytes) -> None:
        self.out += data

    def write_now(self, data: bytes) -> None:
        self.out += data


def _mix(draw: Any, frames: list[bytes]) -> bytes:
    out = bytearray()
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["frame", "flipped", "noise"]))
        if kind == "noise":
            out += draw(st.binary(max_size=30))
            continue
        frame = bytearray(draw(st.sampled_from(frames)))
        if kind == "flipped" and frame:
            frame[draw(st.integers(0, len(frame) - 1))] ^= 1 << draw(st.integers(0, 7))
        out += frame
    return bytes(out)


def _feed_in_pieces(session: Any, data: bytes, step: int) -> None:
    for i in range(0, len(data), step):
        session.feed(data[i:i + step])


SAM_REQUESTS = [sam.encode_request(c, p) for c, p in [(0x20, 1), (0x20, 2), (0x30, 1), (0x30, 0x10), (0x30, 3),
                                                       (0x10, 0xFF), (0x11, 0xFF), (0x12, 0xFF), (0x60, 0),
                                                       (0x99, 0x99)]] + [sam.encode_request(0x30, 1, b"xyz")]
GATE_REQUESTS = [gate.encode_request(a, c, 1, 2, 3) for a in (1, 2) for c in
                 (0x10, 0x20, 0x21, 0x35, 0x80, 0x81, 0x82, 0x83, 0x84, 0x88, 0x89, 0x8F, 0x96, 0xA0, 0xA1, 0x00)]
PAD_REQUESTS = [stu.encode(r, p) for r in (0x03, 0x04, 0x08, 0x09, 0x0B, 0x20, 0x21, 0x32, 0x80, 0x81, 0x77)
                for p in (b"", b"\x00", b"\x01\x02", b"\x03\x00\x00\x00\x00")]
EVOLIS_REQUESTS = [evo.encode_command(n, *p) for n, p in
                   [("Rst", ()), ("Rco", ("c",)), ("Ss", ()), ("Sr", ()), ("Se", ()), ("Srs", ()), ("Pem", ("1",)),
                    ("Pmi", ("F",)), ("Dm", ("1", "x")), ("Rse", ("o",)), ("Rlr", ("p",)), ("Zz", ())]] + \
                  [b"\x1bDbc;k;2;5;\x00\x00\x00\x00\x00\r", b"\x1bDbc;k;2;3;\x05\x01\x02\r"]
NUT_REQUESTS = [nut.encode_command(*w.split(" ")) for w in
                ["VER", "NETVER", "LIST UPS", "LIST VAR ups1", "GET VAR ups1 ups.status", "LIST ENUM ups1 x",
                 "USERNAME a", "PASSWORD b", "LOGIN ups1", "GET TYPE ups1 ups.status", "LIST CLIENT ups1",
                 "GET NUMLOGINS ups1", "LIST RW ups1", "LIST CMD ups1", "GET UPSDESC ups1", "SET VAR ups1 x"]]


@settings(FUZZ, max_examples=25)
@given(data=st.data())
def test_sim_sessions_survive_well_framed_garbage(tmp_path_factory, data):
    """Each simulator session, fed a mix of valid requests, bit-flipped ones and
    noise in random pieces, never raises (the endpoint would drop the line) and
    keeps answering a valid request afterwards."""
    step = data.draw(st.sampled_from([1, 3, 17, 4096]))
    streams = [_mix(data.draw, frames) for frames in
               (SAM_REQUESTS, GATE_REQUESTS, PAD_REQUESTS, EVOLIS_REQUESTS, NUT_REQUESTS)]
    run_dir = tmp_path_factory.getbasetemp() / "fuzz-sims"
    run_dir.mkdir(exist_ok=True)
    asyncio.run(_sessions(run_dir, streams, step))


async def _sessions(run_dir: Path, streams: list[bytes], step: int) -> None:
    from examhw.clock import ScaledClock
    from examhw.sim.base import SimContext
    from examhw_simulators.card_printer import SIMULATOR as EVO
    from examhw_simulators.card_printer.simulator import EvolisSession
    from examhw_simulators.gate.model import GateModel
    from examhw_simulators.gate.simulator import GateSession
    from examhw_simulators.idcard.model import IdCardModel
    from examhw_simulators.idcard.simulator import _Session as SamSession
    from examhw_simulators.sigpad import SIMULATOR as PAD
    from examhw_simulators.sigpad.simulator import PadSession
    from examhw_simulators.ups import SIMULATOR as UPS
    from examhw_simulators.ups.server import NutSession

    def ctx(role: str) -> SimContext:
        return SimContext(role=role, run_dir=run_dir, clock=ScaledClock(100.0))

    idcard = IdCardModel()
    idcard.present_card(SimCard(name="示例", sex="1", nation="01", birth=datetime(1990, 1, 1).date(),
                                address="x", id_number="110101199001010011", authority="y",
                                valid_from=datetime(2020, 1, 1).date(), valid_to=None))
    pad, evolis, ups = PAD.factory(ctx("pad")), EVO.factory(ctx("evo")), UPS.factory(ctx("ups"))
    cases = [
        (lambda link: SamSession(link, idcard, 0.0), "reader", sam.encode_request(0x11, 0xFF)),
        (lambda link: GateSession(link, GateModel(ScaledClock(100.0))), "parser", gate.encode_request(1, 0x10)),
        (lambda link: PadSession(pad.model, link), None, stu.encode(0x80, b"\x03")),
        (lambda link: EvolisSession(link, evolis.model), "parser", evo.encode_command("Rfv")),
        (lambda link: NutSession(link, ups, "127.0.0.1", lambda: None), None, b"\n" + nut.encode_command("VER")),
    ]
    for (make, parser, probe), stream in zip(cases, streams):
        link = _Link()
        session = make(link)
        try:
            _feed_in_pieces(session, stream, step)
            if getattr(session, "done", False):
                continue                                   # LOGOUT: the session hung up, as upsd does
            if parser is not None:
                getattr(session, parser).reset()           # drop a partial frame left by the garbage
            before = len(link.out)
            session.feed(probe)
            assert len(link.out) > before, f"{type(session).__name__} stopped answering"
        finally:
            session.closed()


# =============================================================================================
# Asyncio hygiene: a parser fuzz must never leave the loop blocked
# =============================================================================================
def test_decoding_cost_grows_linearly_with_adversarial_input():
    """Adversarial bytes must cost each driver decoder time in proportion to
    their length (a quadratic decoder would stall the event loop, and every
    other device with it, on a few large reads). Checked as a ratio — the best
    of three timings of 64 KB against 8 KB: linear costs about 8×, quadratic
    64× — not as an absolute time."""
    import time
    streams = {
        sam.SamDecoder: (sam.PREAMBLE + b"\xff\xff") * 9362,
        gate.ReplyDecoder: b"\x7f" * 65536,
        stu.FrameDecoder: b"\xc0\x20" * 32768,
        nut.ReplyDecoder: b"A" * 65536,
        evo.ReplyDecoder: b"\x01\r" * 32768,
    }

    def cost(make, data: bytes) -> float:
        best = float("inf")
        for _ in range(3):
            dec = make()
            t0 = time.perf_counter()
            _swallow(dec.feed, data)
            best = min(best, time.perf_counter() - t0)
        return best

    for make, adversarial in streams.items():
        small, large = cost(make, adversarial[:8192]), cost(make, adversarial[:65536])
        assert large < 24 * max(small, 1e-4), f"{make.__module__}: 8 KB {small:.4f} s, 64 KB {large:.4f} s"
