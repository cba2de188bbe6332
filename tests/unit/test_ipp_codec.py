"""IPP/1.1 codecs, both sides (R-OPS-SCORE score sheets, R-DEV-DESK document
printer). The driver codec (examhw_drivers.ipp_printer.codec) and the
simulator codec (examhw_simulators.doc_printer.ipp) were written separately
from docs/protocols/ipp.md; here they meet hand-built RFC 8010 byte vectors,
each other, truncation and random bytes."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from examhw.errors import FrameError
from examhw_drivers.ipp_printer import codec as drv
from examhw_simulators.doc_printer import ipp as sim

URI = "ipp://127.0.0.1:631/ipp/print"


def attr(tag: int, name: str, value: bytes) -> bytes:
    n = name.encode()
    return bytes([tag]) + struct.pack(">H", len(n)) + n + struct.pack(">H", len(value)) + value


# Get-Printer-Attributes, request-id 1 (docs/protocols/ipp.md §7), built by hand.
GPA_REQUEST = (bytes.fromhex("0101 000b 00000001") + b"\x01"
               + attr(0x47, "attributes-charset", b"utf-8")
               + attr(0x48, "attributes-natural-language", b"en")
               + attr(0x45, "printer-uri", URI.encode())
               + attr(0x44, "requested-attributes", b"printer-state")
               + attr(0x44, "", b"printer-state-reasons")
               + b"\x03")

GPA_RESPONSE = (bytes.fromhex("0101 0000 00000001") + b"\x01"
                + attr(0x47, "attributes-charset", b"utf-8")
                + attr(0x48, "attributes-natural-language", b"en")
                + b"\x04"
                + attr(0x23, "printer-state", b"\x00\x00\x00\x03")
                + attr(0x44, "printer-state-reasons", b"none")
                + b"\x03")


def test_vector_lengths_match_the_doc():
    assert GPA_REQUEST[9:12] == b"\x47\x00\x12"               # "attributes-charset" is 18 bytes
    assert b"\x00\x1d" + URI.encode() in GPA_REQUEST           # the URI is 29 bytes


def test_driver_encodes_the_request_vector():
    g = drv.Group(drv.GroupTag.OPERATION)
    g.add("attributes-charset", drv.ValueTag.CHARSET, "utf-8")
    g.add("attributes-natural-language", drv.ValueTag.LANGUAGE, "en")
    g.add("printer-uri", drv.ValueTag.URI, URI)
    g.add("requested-attributes", drv.ValueTag.KEYWORD, "printer-state", "printer-state-reasons")
    msg = drv.Message(code=drv.Op.GET_PRINTER_ATTRIBUTES, request_id=1, groups=[g])
    assert drv.encode(msg) == GPA_REQUEST


def test_sim_parses_the_request_vector():
    req = sim.parse(GPA_REQUEST)
    assert req.version == (1, 1) and req.operation == 0x000B and req.request_id == 1
    assert req.get("printer-uri") == URI
    assert req.get_all("requested-attributes") == ["printer-state", "printer-state-reasons"]
    assert req.first_operation_names(2) == ["attributes-charset", "attributes-natural-language"]
    assert req.document == b""


def test_sim_writes_the_response_vector():
    w = sim.ResponseWriter((1, 1), sim.OK, 1).group(sim.PRINTER_GROUP)
    w.attr("printer-state", sim.ENUM, 3).attr("printer-state-reasons", sim.KEYWORD, "none")
    assert w.finish() == GPA_RESPONSE


def test_driver_decodes_the_response_vector():
    msg = drv.decode(GPA_RESPONSE)
    assert msg.code == 0 and msg.request_id == 1 and msg.version == (1, 1)
    assert msg.value("printer-state", tag=drv.GroupTag.PRINTER) == 3
    assert msg.find("printer-state-reasons").all() == ["none"]
    assert msg.value("attributes-charset") == "utf-8"


def test_print_job_carries_document_bytes():
    pdf = b"%PDF-1.4\n\x00\x03\xff binary \x03 end"
    g = drv.operation_group(URI, job_name=(drv.ValueTag.NAME, "Score sheet 0001 – 张三"),
                            document_format=(drv.ValueTag.MIME, "application/pdf"))
    body = drv.encode(drv.Message(code=drv.Op.PRINT_JOB, request_id=7, groups=[g], data=pdf))
    req = sim.parse(body)
    assert req.document == pdf
    assert req.get("job-name") == "Score sheet 0001 – 张三"
    assert list(req.attrs())[:4] == ["attributes-charset", "attributes-natural-language", "printer-uri",
                                     "requesting-user-name"]


def test_job_id_follows_printer_uri():
    g = drv.operation_group(URI, job_id=5)
    assert [a.name for a in g.attributes][:4] == ["attributes-charset", "attributes-natural-language",
                                                  "printer-uri", "job-id"]


def every_type_response() -> bytes:
    w = sim.ResponseWriter((2, 0), sim.OK_IGNORED, 0x7FFFFFFF, "hello").group(sim.PRINTER_GROUP)
    w.attr("i", sim.INTEGER, -5, 2**31 - 1)
    w.attr("b", sim.BOOLEAN, True, False)
    w.attr("e", sim.ENUM, 9)
    w.attr("o", sim.OCTET_STRING, b"\x00\x01")
    w.attr("dt", sim.DATE_TIME, bytes(range(11)))
    w.attr("res", sim.RESOLUTION, (600, 300, 3))
    w.attr("rng", sim.RANGE_OF_INTEGER, (1, 99))
    w.attr("tl", sim.TEXT_WITH_LANGUAGE, ("zh-cn", "成绩单"))
    w.attr("nl", sim.NAME_WITH_LANGUAGE, ("en", "n"))
    w.attr("t", sim.TEXT, "ü")
    w.attr("kw", sim.KEYWORD, "a", "b", "c")
    w.attr("nv", sim.NO_VALUE, None)
    w.collection("media-col", {"media-size": (sim.BEG_COLLECTION, {"x-dimension": (sim.INTEGER, 21000),
                                                                    "y-dimension": (sim.INTEGER, 29700)}),
                               "media-type": (sim.KEYWORD, "stationery")})
    w.group(sim.JOB_GROUP).attr("job-id", sim.INTEGER, 1)
    return w.finish()


def test_sim_writer_to_driver_decoder_all_types():
    msg = drv.decode(every_type_response())
    assert msg.version == (2, 0) and msg.code == 1 and msg.request_id == 0x7FFFFFFF
    v = lambda n: msg.find(n).all()  # noqa: E731
    assert msg.value("status-message") == "hello"
    assert v("i") == [-5, 2**31 - 1] and v("b") == [True, False] and v("e") == [9]
    assert v("o") == [b"\x00\x01"] and v("dt") == [bytes(range(11))]
    assert v("res") == [(600, 300, 3)] and v("rng") == [(1, 99)]
    assert v("tl") == [("zh-cn", "成绩单")] and v("nl") == [("en", "n")] and v("t") == ["ü"]
    assert v("kw") == ["a", "b", "c"] and v("nv") == [None]
    (col,) = v("media-col")
    members = dict(col)
    size = dict(members["media-size"][0].value)
    assert size["x-dimension"][0].value == 21000 and size["y-dimension"][0].value == 29700
    assert members["media-type"][0].value == "stationery"
    assert msg.value("job-id", tag=drv.GroupTag.JOB) == 1


def test_driver_round_trip_including_collections():
    col = [("media-size", [drv.Value(drv.ValueTag.BEG_COLLECTION,
                                     [("x-dimension", [drv.Value(drv.ValueTag.INTEGER, 21000)])])]),
           ("media-source", [drv.Value(drv.ValueTag.KEYWORD, "main")])]
    g = drv.operation_group(URI)
    g.attributes.append(drv.Attribute("media-col", [drv.Value(drv.ValueTag.BEG_COLLECTION, col)]))
    g.add("flags", drv.ValueTag.BOOLEAN, True)
    msg = drv.Message(code=2, request_id=3, groups=[g, drv.Group(drv.GroupTag.JOB).add("copies", 0x21, 1)],
                      data=b"doc")
    again = drv.decode(drv.encode(msg))
    assert again == msg
    # and the simulator reads the same collection
    req = sim.parse(drv.encode(msg))
    assert req.get("media-col")["media-source"] == [(sim.KEYWORD, "main")]
    assert req.get("media-col")["media-size"][0][1]["x-dimension"] == [(sim.INTEGER, 21000)]
    assert req.get("copies", group=sim.JOB_GROUP) == 1


# -- malformed bodies -----------------------------------------------------------------

BAD = {
    "short header": b"\x01\x01\x00",
    "no end tag": GPA_REQUEST[:-1],
    "attribute before group": bytes.fromhex("0101000b00000001") + attr(0x21, "x", bytes(4)) + b"\x03",
    "integer of 3 bytes": bytes.fromhex("0101000b00000001") + b"\x01" + attr(0x21, "x", bytes(3)) + b"\x03",
    "boolean of 2 bytes": bytes.fromhex("0101000b00000001") + b"\x01" + attr(0x22, "x", bytes(2)) + b"\x03",
    "boolean value 2": bytes.fromhex("0101000b00000001") + b"\x01" + attr(0x22, "x", b"\x02") + b"\x03",
    "range of 7 bytes": bytes.fromhex("0101000b00000001") + b"\x01" + attr(0x33, "x", bytes(7)) + b"\x03",
    "additional value first": bytes.fromhex("0101000b00000001") + b"\x01" + attr(0x44, "", b"k") + b"\x03",
    "value length past end": bytes.fromhex("0101000b00000001") + b"\x01\x44\x00\x01x\x00\x10ab",
    "extension tag": bytes.fromhex("0101000b00000001") + b"\x01" + attr(0x7F, "x", bytes(4)) + b"\x03",
    "reserved delimiter 0": bytes.fromhex("0101000b00000001") + b"\x00\x03",
    "unclosed collection": bytes.fromhex("0101000b00000001") + b"\x01" + attr(0x34, "c", b"") + b"\x03",
    "member value first": (bytes.fromhex("0101000b00000001") + b"\x01" + attr(0x34, "c", b"")
                           + attr(0x21, "", bytes(4)) + attr(0x37, "", b"") + b"\x03"),
    "end collection alone": bytes.fromhex("0101000b00000001") + b"\x01" + attr(0x37, "", b"") + b"\x03",
    "bad text-with-language": (bytes.fromhex("0101000b00000001") + b"\x01"
                               + attr(0x35, "t", b"\x00\x05en") + b"\x03"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_both_decoders_reject_malformed(name):
    with pytest.raises(FrameError):
        drv.decode(BAD[name])
    with pytest.raises(FrameError):
        sim.parse(BAD[name])


@pytest.mark.parametrize("body", [GPA_REQUEST, GPA_RESPONSE, every_type_response()],
                         ids=["request", "response", "all-types"])
def test_truncation_at_every_position_is_frame_error(body):
    for cut in range(len(body)):
        with pytest.raises(FrameError):
            drv.decode(body[:cut])
        with pytest.raises(FrameError):
            sim.parse(body[:cut])


@given(st.binary(max_size=300))
@settings(max_examples=400, deadline=None)
def test_random_bytes_give_message_or_frame_error(data):
    for fn in (drv.decode, sim.parse):
        try:
            fn(data)
        except FrameError:
            pass


@given(st.binary(max_size=120))
@settings(max_examples=300, deadline=None)
def test_random_bytes_after_a_valid_header_and_group(data):
    body = bytes.fromhex("0101000200000009") + b"\x01" + data
    for fn in (drv.decode, sim.parse):
        try:
            fn(body)
        except FrameError:
            pass


@given(st.lists(st.tuples(st.sampled_from([0x21, 0x23, 0x44, 0x41, 0x42, 0x45, 0x22]),
                          st.text(alphabet="abcdefghij-", min_size=1, max_size=12),
                          st.integers(min_value=1, max_value=3)), max_size=8, unique_by=lambda a: a[1]),
       st.binary(max_size=64))
@settings(max_examples=100, deadline=None)
def test_driver_encode_sim_parse_agree(attrs, data):
    g = drv.operation_group(URI)
    for tag, name, count in attrs:
        if tag in (0x21, 0x23):
            values = list(range(count))
        elif tag == 0x22:
            values = [bool(i % 2) for i in range(count)]
        else:
            values = [f"{name}{i}" for i in range(count)]
        g.add(f"x-{name}", tag, *values)
    body = drv.encode(drv.Message(code=2, request_id=1, groups=[g], data=data))
    req = sim.parse(body)
    assert req.document == data
    for a in g.attributes:
        assert req.attrs()[a.name] == [(v.tag, v.value) for v in a.values]


def test_status_names():
    assert drv.status_name(0x0000) == "successful-ok"
    assert drv.status_name(0x040A) == "client-error-document-format-not-supported"
    assert drv.status_name(0x0999) == "status-0x0999"
