"""The simulator's own IPP codec (RFC 8010), printer side.

Written from docs/protocols/ipp.md, separately from the driver's codec:
:func:`parse` reads a request body into :class:`IppRequest`;
:class:`ResponseWriter` writes a response attribute by attribute.
Every malformed body raises :class:`~examhw.errors.FrameError`.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from examhw.errors import FrameError

# delimiter tags
OPERATION_GROUP = 0x01
JOB_GROUP = 0x02
END_OF_ATTRIBUTES = 0x03
PRINTER_GROUP = 0x04
UNSUPPORTED_GROUP = 0x05

# value tags
UNSUPPORTED = 0x10
UNKNOWN = 0x12
NO_VALUE = 0x13
INTEGER = 0x21
BOOLEAN = 0x22
ENUM = 0x23
OCTET_STRING = 0x30
DATE_TIME = 0x31
RESOLUTION = 0x32
RANGE_OF_INTEGER = 0x33
BEG_COLLECTION = 0x34
TEXT_WITH_LANGUAGE = 0x35
NAME_WITH_LANGUAGE = 0x36
END_COLLECTION = 0x37
TEXT = 0x41
NAME = 0x42
KEYWORD = 0x44
URI = 0x45
URI_SCHEME = 0x46
CHARSET = 0x47
NATURAL_LANGUAGE = 0x48
MIME_MEDIA_TYPE = 0x49
MEMBER_ATTR_NAME = 0x4A

# operations
PRINT_JOB = 0x0002
VALIDATE_JOB = 0x0004
CANCEL_JOB = 0x0008
GET_JOB_ATTRIBUTES = 0x0009
GET_JOBS = 0x000A
GET_PRINTER_ATTRIBUTES = 0x000B

# status codes
OK = 0x0000
OK_IGNORED = 0x0001
BAD_REQUEST = 0x0400
NOT_POSSIBLE = 0x0404
NOT_FOUND = 0x0406
FORMAT_NOT_SUPPORTED = 0x040A
ATTRIBUTES_NOT_SUPPORTED = 0x040B
INTERNAL_ERROR = 0x0500
OPERATION_NOT_SUPPORTED = 0x0501
VERSION_NOT_SUPPORTED = 0x0503

_NUMERIC = (INTEGER, ENUM)
_STRINGS = (TEXT, NAME, KEYWORD, URI, URI_SCHEME, CHARSET, NATURAL_LANGUAGE, MIME_MEDIA_TYPE,
            MEMBER_ATTR_NAME)
_EMPTY = (UNSUPPORTED, 0x11, UNKNOWN, NO_VALUE, 0x15, 0x16, 0x17)
_FIXED = {INTEGER: 4, ENUM: 4, BOOLEAN: 1, DATE_TIME: 11, RESOLUTION: 9, RANGE_OF_INTEGER: 8}


@dataclass
class IppRequest:
    """A parsed request. ``groups`` is a list of ``(group tag, {name: [(value tag,
    value), …]})``; a collection value is a dict ``{member: [(tag, value), …]}``."""

    version: tuple[int, int]
    operation: int
    request_id: int
    groups: list[tuple[int, dict[str, list[tuple[int, Any]]]]] = field(default_factory=list)
    document: bytes = b""

    def attrs(self, group: int = OPERATION_GROUP) -> dict[str, list[tuple[int, Any]]]:
        merged: dict[str, list[tuple[int, Any]]] = {}
        for tag, attrs in self.groups:
            if tag == group:
                merged.update(attrs)
        return merged

    def get(self, name: str, default: Any = None, group: int = OPERATION_GROUP) -> Any:
        values = self.attrs(group).get(name)
        return values[0][1] if values else default

    def get_all(self, name: str, group: int = OPERATION_GROUP) -> list[Any]:
        return [v for _, v in self.attrs(group).get(name, [])]

    def first_operation_names(self, n: int) -> list[str]:
        for tag, attrs in self.groups:
            if tag == OPERATION_GROUP:
                return list(attrs)[:n]
        return []


class _Cursor:
    def __init__(self, body: bytes) -> None:
        self.view = memoryview(body)
        self.pos = 0

    def left(self) -> int:
        return len(self.view) - self.pos

    def bytes_(self, n: int) -> bytes:
        if n > self.left():
            raise FrameError(f"IPP request truncated: {n} bytes wanted at offset {self.pos}, "
                             f"{self.left()} left")
        out = self.view[self.pos:self.pos + n].tobytes()
        self.pos += n
        return out

    def short(self) -> int:
        return int.from_bytes(self.bytes_(2), "big")

    def peek(self) -> int:
        if self.left() < 1:
            raise FrameError("IPP request ends before end-of-attributes-tag")
        return self.view[self.pos]


def _value(tag: int, raw: bytes) -> Any:
    want = _FIXED.get(tag)
    if want is not None and len(raw) != want:
        raise FrameError(f"value tag 0x{tag:02x} needs {want} bytes, got {len(raw)}")
    if tag in _EMPTY:
        return None
    if tag in _NUMERIC:
        return int.from_bytes(raw, "big", signed=True)
    if tag == BOOLEAN:
        if raw not in (b"\x00", b"\x01"):
            raise FrameError(f"boolean value {raw!r}")
        return raw == b"\x01"
    if tag == RESOLUTION:
        return struct.unpack(">iib", raw)
    if tag == RANGE_OF_INTEGER:
        return struct.unpack(">ii", raw)
    if tag in (TEXT_WITH_LANGUAGE, NAME_WITH_LANGUAGE):
        c = _Cursor(raw)
        lang = c.bytes_(c.short()).decode("ascii", "replace")
        text = c.bytes_(c.short()).decode("utf-8", "replace")
        if c.left():
            raise FrameError("trailing bytes after text-with-language")
        return lang, text
    if tag in _STRINGS:
        return raw.decode("utf-8", "replace")
    return raw


def _attribute(c: _Cursor) -> tuple[int, str, bytes]:
    tag = c.bytes_(1)[0]
    if tag == 0x7F:
        raise FrameError("extended value tag 0x7F not supported")
    name = c.bytes_(c.short()).decode("ascii", "replace")
    raw = c.bytes_(c.short())
    return tag, name, raw


def _collection(c: _Cursor, depth: int) -> dict[str, list[tuple[int, Any]]]:
    if depth > 16:
        raise FrameError("collection nesting deeper than 16")
    members: dict[str, list[tuple[int, Any]]] = {}
    current: str | None = None
    while True:
        if c.peek() < 0x10:
            raise FrameError("delimiter tag inside a collection")
        tag, name, raw = _attribute(c)
        if name:
            raise FrameError("named attribute inside a collection")
        if tag == END_COLLECTION:
            return members
        if tag == MEMBER_ATTR_NAME:
            current = raw.decode("ascii", "replace")
            members[current] = []
        elif current is None:
            raise FrameError("collection member value without memberAttrName")
        elif tag == BEG_COLLECTION:
            members[current].append((tag, _collection(c, depth + 1)))
        else:
            members[current].append((tag, _value(tag, raw)))


def parse(body: bytes) -> IppRequest:
    """Parse one request body (header, groups, end tag, document data).
    Raises FrameError on any malformation."""
    c = _Cursor(body)
    head = c.bytes_(8)
    req = IppRequest(version=(head[0], head[1]), operation=int.from_bytes(head[2:4], "big"),
                     request_id=int.from_bytes(head[4:8], "big"))
    attrs: dict[str, list[tuple[int, Any]]] | None = None
    last: str | None = None
    while True:
        t = c.peek()
        if t == END_OF_ATTRIBUTES:
            c.pos += 1
            break
        if t < 0x10:
            if t == 0x00:
                raise FrameError("reserved delimiter tag 0x00")
            c.pos += 1
            attrs = {}
            req.groups.append((t, attrs))
            last = None
            continue
        tag, name, raw = _attribute(c)
        if attrs is None:
            raise FrameError("attribute outside any attribute group")
        if tag in (END_COLLECTION, MEMBER_ATTR_NAME):
            raise FrameError(f"collection tag 0x{tag:02x} outside a collection")
        value = _collection(c, 1) if tag == BEG_COLLECTION else _value(tag, raw)
        if name:
            last = name
            attrs.setdefault(name, []).append((tag, value))
        elif last is None:
            raise FrameError("additional value without a preceding attribute")
        else:
            attrs[last].append((tag, value))
    req.document = c.bytes_(c.left())
    return req


def header_of(body: bytes) -> tuple[tuple[int, int], int] | None:
    """(version, request-id) of a body too broken to parse, if it has a header."""
    if len(body) < 8:
        return None
    return (body[0], body[1]), int.from_bytes(body[4:8], "big")


#: largest value (and name) a 2-byte IPP length can carry
MAX_VALUE = 0xFFFF


def _cut_utf8(raw: bytes, limit: int) -> bytes:
    """``raw`` cut to at most ``limit`` bytes without splitting a UTF-8 sequence."""
    cut = raw[:limit]
    return cut.decode("utf-8", "ignore").encode("utf-8") if len(raw) > limit else cut


class ResponseWriter:
    """Writes a response: header, then groups and attributes in call order.
    Every response starts with charset + natural-language (done here)."""

    def __init__(self, version: tuple[int, int], status: int, request_id: int,
                 message: str | None = None) -> None:
        self._out = bytearray(bytes([version[0] & 0xFF, version[1] & 0xFF]))
        self._out += status.to_bytes(2, "big") + (request_id & 0xFFFFFFFF).to_bytes(4, "big")
        self.group(OPERATION_GROUP)
        self.attr("attributes-charset", CHARSET, "utf-8")
        self.attr("attributes-natural-language", NATURAL_LANGUAGE, "en")
        if message:
            self.attr("status-message", TEXT, message)

    def group(self, tag: int) -> "ResponseWriter":
        self._out.append(tag)
        return self

    def _put(self, tag: int, name: str, raw: bytes) -> None:
        """One value with its 2-byte length. A text value over 65535 bytes (e.g. a
        status-message echoing a huge request value) is cut at a UTF-8 character
        boundary; any other over-long value raises :class:`FrameError`."""
        if len(raw) > MAX_VALUE:
            if tag not in _STRINGS:
                raise FrameError(f"value of {len(raw)} bytes for {name or 'additional value'!r} "
                                 f"does not fit a 16-bit length")
            raw = _cut_utf8(raw, MAX_VALUE)
        n = name.encode("ascii")
        self._out.append(tag)
        self._out += len(n).to_bytes(2, "big") + n + len(raw).to_bytes(2, "big") + raw

    @staticmethod
    def _raw(tag: int, value: Any) -> bytes:
        if tag in _EMPTY:
            return b""
        if tag in _NUMERIC:
            return int(value).to_bytes(4, "big", signed=True)
        if tag == BOOLEAN:
            return b"\x01" if value else b"\x00"
        if tag == RESOLUTION:
            return struct.pack(">iib", *value)
        if tag == RANGE_OF_INTEGER:
            return struct.pack(">ii", *value)
        if tag in (TEXT_WITH_LANGUAGE, NAME_WITH_LANGUAGE):
            lang, text = value[0].encode("ascii"), value[1].encode("utf-8")
            text = _cut_utf8(text, MAX_VALUE - 4 - len(lang))
            return len(lang).to_bytes(2, "big") + lang + len(text).to_bytes(2, "big") + text
        if tag in _STRINGS:
            return str(value).encode("utf-8")
        return bytes(value)

    def attr(self, name: str, tag: int, *values: Any) -> "ResponseWriter":
        """One attribute with one or more values of the same tag."""
        for i, v in enumerate(values):
            self._put(tag, name if i == 0 else "", self._raw(tag, v))
        return self

    def collection(self, name: str, members: dict[str, tuple[int, Any]]) -> "ResponseWriter":
        """A collection attribute; ``members`` maps member name to (tag, value)
        where a value of tag BEG_COLLECTION is itself such a dict."""
        self._write_collection(name, members)
        return self

    def _write_collection(self, name: str, members: dict[str, tuple[int, Any]]) -> None:
        self._put(BEG_COLLECTION, name, b"")
        for member, (tag, value) in members.items():
            self._put(MEMBER_ATTR_NAME, "", member.encode("ascii"))
            if tag == BEG_COLLECTION:
                self._write_collection("", value)
            else:
                self._put(tag, "", self._raw(tag, value))
        self._put(END_COLLECTION, "", b"")

    def finish(self) -> bytes:
        return bytes(self._out) + bytes([END_OF_ATTRIBUTES])
