"""IPP/1.1 binary encoding (RFC 8010), client side — the driver's own codec.

Written from docs/protocols/ipp.md. An IPP message has no length of its
own (HTTP delimits the body), so :func:`decode` takes a whole body.
Malformed bodies raise :class:`~examhw.errors.FrameError`; nothing else
escapes :func:`decode`.
"""
from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field
from typing import Any, Iterable

from examhw.errors import FrameError


class GroupTag(enum.IntEnum):
    OPERATION = 0x01
    JOB = 0x02
    END = 0x03
    PRINTER = 0x04
    UNSUPPORTED = 0x05


class ValueTag(enum.IntEnum):
    UNSUPPORTED = 0x10
    UNKNOWN = 0x12
    NO_VALUE = 0x13
    INTEGER = 0x21
    BOOLEAN = 0x22
    ENUM = 0x23
    OCTET_STRING = 0x30
    DATE_TIME = 0x31
    RESOLUTION = 0x32
    RANGE = 0x33
    BEG_COLLECTION = 0x34
    TEXT_LANG = 0x35
    NAME_LANG = 0x36
    END_COLLECTION = 0x37
    TEXT = 0x41
    NAME = 0x42
    KEYWORD = 0x44
    URI = 0x45
    URI_SCHEME = 0x46
    CHARSET = 0x47
    LANGUAGE = 0x48
    MIME = 0x49
    MEMBER_NAME = 0x4A


class Op(enum.IntEnum):
    PRINT_JOB = 0x0002
    CANCEL_JOB = 0x0008
    GET_JOB_ATTRIBUTES = 0x0009
    GET_PRINTER_ATTRIBUTES = 0x000B


STATUS_NAMES: dict[int, str] = {
    0x0000: "successful-ok",
    0x0001: "successful-ok-ignored-or-substituted-attributes",
    0x0002: "successful-ok-conflicting-attributes",
    0x0400: "client-error-bad-request",
    0x0401: "client-error-forbidden",
    0x0402: "client-error-not-authenticated",
    0x0403: "client-error-not-authorized",
    0x0404: "client-error-not-possible",
    0x0405: "client-error-timeout",
    0x0406: "client-error-not-found",
    0x0407: "client-error-gone",
    0x0408: "client-error-request-entity-too-large",
    0x040A: "client-error-document-format-not-supported",
    0x040B: "client-error-attributes-or-values-not-supported",
    0x0500: "server-error-internal-error",
    0x0501: "server-error-operation-not-supported",
    0x0502: "server-error-service-unavailable",
    0x0503: "server-error-version-not-supported",
    0x0504: "server-error-device-error",
    0x0505: "server-error-temporary-error",
    0x0506: "server-error-not-accepting-jobs",
    0x0507: "server-error-busy",
    0x0508: "server-error-job-canceled",
}

JOB_STATES = {3: "pending", 4: "pending-held", 5: "processing", 6: "processing-stopped",
              7: "canceled", 8: "aborted", 9: "completed"}
PRINTER_STATES = {3: "idle", 4: "processing", 5: "stopped"}

_OUT_OF_BAND = frozenset({0x10, 0x11, 0x12, 0x13, 0x15, 0x16, 0x17})
_INT_TAGS = frozenset({ValueTag.INTEGER, ValueTag.ENUM})
_UTF8_TAGS = frozenset({ValueTag.TEXT, ValueTag.NAME})
_ASCII_TAGS = frozenset({ValueTag.KEYWORD, ValueTag.URI, ValueTag.URI_SCHEME, ValueTag.CHARSET,
                         ValueTag.LANGUAGE, ValueTag.MIME, ValueTag.MEMBER_NAME})


def status_name(code: int) -> str:
    return STATUS_NAMES.get(code, f"status-0x{code:04x}")


@dataclass(frozen=True)
class Value:
    """One attribute value. Python form by tag: int (integer/enum), bool,
    str (text/name/keyword/uri/…), bytes (octetString, dateTime, unknown
    tags), ``(lang, text)`` for *WithLanguage, ``(x, y, units)`` resolution,
    ``(lo, hi)`` range, ``None`` out-of-band, list of
    ``(member name, [Value…])`` for a collection."""

    tag: int
    value: Any = None


@dataclass
class Attribute:
    name: str
    values: list[Value] = field(default_factory=list)

    @property
    def first(self) -> Any:
        return self.values[0].value if self.values else None

    def all(self) -> list[Any]:
        return [v.value for v in self.values]


@dataclass
class Group:
    tag: int
    attributes: list[Attribute] = field(default_factory=list)

    def get(self, name: str) -> Attribute | None:
        for a in self.attributes:
            if a.name == name:
                return a
        return None

    def add(self, name: str, tag: int, *values: Any) -> "Group":
        self.attributes.append(Attribute(name, [Value(int(tag), v) for v in values]))
        return self


@dataclass
class Message:
    """A request (``code`` = operation-id) or response (``code`` = status)."""

    code: int
    request_id: int
    groups: list[Group] = field(default_factory=list)
    data: bytes = b""
    version: tuple[int, int] = (1, 1)

    def group(self, tag: int) -> Group | None:
        for g in self.groups:
            if g.tag == tag:
                return g
        return None

    def find(self, name: str, tag: int | None = None) -> Attribute | None:
        for g in self.groups:
            if tag is None or g.tag == tag:
                a = g.get(name)
                if a is not None:
                    return a
        return None

    def value(self, name: str, default: Any = None, tag: int | None = None) -> Any:
        a = self.find(name, tag)
        return default if a is None or not a.values else a.first


def operation_group(printer_uri: str, user: str = "examhw", job_id: int | None = None,
                    **extra: tuple[int, Any]) -> Group:
    """The operation group of a request, in RFC 8011 order: charset,
    language, the target (printer-uri [+ job-id]), requesting-user-name,
    then ``extra`` given as ``name=(tag, value or list of values)`` with
    ``_`` in names standing for ``-``."""
    g = Group(GroupTag.OPERATION)
    g.add("attributes-charset", ValueTag.CHARSET, "utf-8")
    g.add("attributes-natural-language", ValueTag.LANGUAGE, "en")
    g.add("printer-uri", ValueTag.URI, printer_uri)
    if job_id is not None:
        g.add("job-id", ValueTag.INTEGER, job_id)
    g.add("requesting-user-name", ValueTag.NAME, user)
    for name, (tag, value) in extra.items():
        values = value if isinstance(value, list) else [value]
        g.add(name.replace("_", "-"), tag, *values)
    return g


# -- encoding -----------------------------------------------------------------

def _encode_value(tag: int, value: Any) -> bytes:
    if tag in _OUT_OF_BAND:
        return b""
    if tag in _INT_TAGS:
        return struct.pack(">i", int(value))
    if tag == ValueTag.BOOLEAN:
        return b"\x01" if value else b"\x00"
    if tag in _UTF8_TAGS:
        return str(value).encode("utf-8")
    if tag in _ASCII_TAGS:
        return str(value).encode("ascii")
    if tag in (ValueTag.TEXT_LANG, ValueTag.NAME_LANG):
        lang, text = (str(value[0]).encode("ascii"), str(value[1]).encode("utf-8"))
        return struct.pack(">H", len(lang)) + lang + struct.pack(">H", len(text)) + text
    if tag == ValueTag.RESOLUTION:
        return struct.pack(">iib", *value)
    if tag == ValueTag.RANGE:
        return struct.pack(">ii", *value)
    return bytes(value)


def _encode_attr(out: bytearray, name: str, values: Iterable[Value]) -> None:
    first = True
    for v in values:
        nm = name.encode("ascii") if first else b""
        first = False
        if v.tag == ValueTag.BEG_COLLECTION:
            out += bytes([ValueTag.BEG_COLLECTION]) + struct.pack(">H", len(nm)) + nm + b"\x00\x00"
            for member, member_values in v.value:
                mn = member.encode("ascii")
                out += bytes([ValueTag.MEMBER_NAME]) + b"\x00\x00" + struct.pack(">H", len(mn)) + mn
                _encode_attr(out, "", member_values)
            out += bytes([ValueTag.END_COLLECTION]) + b"\x00\x00\x00\x00"
            continue
        body = _encode_value(v.tag, v.value)
        if len(body) > 0xFFFF:
            raise ValueError(f"value of {name!r} longer than 65535 bytes")
        out += bytes([v.tag]) + struct.pack(">H", len(nm)) + nm + struct.pack(">H", len(body)) + body


def encode(msg: Message) -> bytes:
    """Serialise ``msg``. Raises ValueError for values IPP cannot carry."""
    out = bytearray(struct.pack(">BBHI", msg.version[0], msg.version[1], msg.code, msg.request_id))
    for g in msg.groups:
        out.append(g.tag)
        for a in g.attributes:
            _encode_attr(out, a.name, a.values)
    out.append(GroupTag.END)
    out += msg.data
    return bytes(out)


# -- decoding -----------------------------------------------------------------

class _Reader:
    def __init__(self, body: bytes) -> None:
        self.b = body
        self.i = 0

    def take(self, n: int, what: str) -> bytes:
        if self.i + n > len(self.b):
            raise FrameError(f"IPP body truncated in {what} (need {n} bytes at offset {self.i})")
        chunk = self.b[self.i:self.i + n]
        self.i += n
        return chunk

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u16(self, what: str) -> int:
        return struct.unpack(">H", self.take(2, what))[0]


def _decode_value(tag: int, raw: bytes, name: str) -> Any:
    def need(n: int) -> None:
        if len(raw) != n:
            raise FrameError(f"{name}: value of tag 0x{tag:02x} must be {n} bytes, got {len(raw)}")

    if tag in _OUT_OF_BAND:
        return None
    if tag in _INT_TAGS:
        need(4)
        return struct.unpack(">i", raw)[0]
    if tag == ValueTag.BOOLEAN:
        need(1)
        if raw[0] > 1:
            raise FrameError(f"{name}: boolean value {raw[0]}")
        return raw[0] == 1
    if tag == ValueTag.DATE_TIME:
        need(11)
        return raw
    if tag == ValueTag.RESOLUTION:
        need(9)
        return struct.unpack(">iib", raw)
    if tag == ValueTag.RANGE:
        need(8)
        return struct.unpack(">ii", raw)
    if tag in (ValueTag.TEXT_LANG, ValueTag.NAME_LANG):
        r = _Reader(raw)
        lang = r.take(r.u16("language length"), "language")
        text = r.take(r.u16("text length"), "text")
        if r.i != len(raw):
            raise FrameError(f"{name}: trailing bytes in text-with-language")
        return (lang.decode("ascii", "replace"), text.decode("utf-8", "replace"))
    if tag in _UTF8_TAGS:
        return raw.decode("utf-8", "replace")
    if tag in _ASCII_TAGS:
        return raw.decode("ascii", "replace")
    return bytes(raw)


def _read_one(r: _Reader) -> tuple[int, str, bytes] | None:
    """Next (value-tag, name, raw value), or None at a group delimiter
    (which is left unread)."""
    tag = r.b[r.i] if r.i < len(r.b) else None
    if tag is None:
        raise FrameError("IPP body ends without end-of-attributes-tag")
    if tag < 0x10:
        return None
    r.i += 1
    if tag == 0x7F:
        raise FrameError("extended value tags (0x7F) are not supported")
    name = r.take(r.u16("name length"), "name")
    value = r.take(r.u16("value length"), "value")
    return tag, name.decode("ascii", "replace"), value


def _read_collection(r: _Reader, depth: int) -> list[tuple[str, list[Value]]]:
    if depth > 16:
        raise FrameError("collections nested too deeply")
    members: list[tuple[str, list[Value]]] = []
    while True:
        item = _read_one(r)
        if item is None:
            raise FrameError("group delimiter inside a collection")
        tag, name, raw = item
        if name:
            raise FrameError(f"collection member value with a name ({name!r})")
        if tag == ValueTag.END_COLLECTION:
            return members
        if tag == ValueTag.MEMBER_NAME:
            members.append((raw.decode("ascii", "replace"), []))
            continue
        if not members:
            raise FrameError("collection value before any memberAttrName")
        if tag == ValueTag.BEG_COLLECTION:
            members[-1][1].append(Value(tag, _read_collection(r, depth + 1)))
        else:
            members[-1][1].append(Value(tag, _decode_value(tag, raw, members[-1][0])))


def decode(body: bytes) -> Message:
    """Parse a whole IPP message. Raises FrameError when malformed."""
    r = _Reader(bytes(body))
    major, minor = r.u8("version"), r.u8("version")
    code = r.u16("operation/status code")
    request_id = struct.unpack(">I", r.take(4, "request-id"))[0]
    msg = Message(code=code, request_id=request_id, version=(major, minor))
    group: Group | None = None
    while True:
        if r.i >= len(r.b):
            raise FrameError("IPP body ends without end-of-attributes-tag")
        tag = r.b[r.i]
        if tag < 0x10:
            r.i += 1
            if tag == GroupTag.END:
                break
            if tag == 0x00:
                raise FrameError("reserved delimiter tag 0x00")
            group = Group(tag)
            msg.groups.append(group)
            continue
        item = _read_one(r)
        assert item is not None
        vtag, name, raw = item
        if group is None:
            raise FrameError("attribute before the first group tag")
        if vtag in (ValueTag.END_COLLECTION, ValueTag.MEMBER_NAME):
            raise FrameError(f"tag 0x{vtag:02x} outside a collection")
        if vtag == ValueTag.BEG_COLLECTION:
            value = Value(vtag, _read_collection(r, 1))
        else:
            value = Value(vtag, _decode_value(vtag, raw, name or "additional value"))
        if name:
            group.attributes.append(Attribute(name, [value]))
        elif group.attributes:
            group.attributes[-1].values.append(value)
        else:
            raise FrameError("additional value with no attribute before it")
    msg.data = r.b[r.i:]
    return msg
