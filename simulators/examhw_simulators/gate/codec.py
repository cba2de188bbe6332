"""Board side of the gate "7E/7F" protocol, written from
docs/protocols/gate-7e7f.md (independent of the driver's codec).

:class:`RequestParser` turns host bytes into :class:`Request` objects
(8 bytes, start 0x7E, checksum ``~sum``); :func:`build_reply` packs the
18-byte 0x7F reply.
"""
from __future__ import annotations

from dataclasses import dataclass

from examhw.errors import ChecksumError, FrameError

REQ_HEAD = 0x7E
REQ_SIZE = 8
REPLY_HEAD = 0x7F
REPLY_SIZE = 18
COUNTER_MASK = 0xFFFFFF


def _complement_of_sum(data: bytes) -> int:
    total = 0
    for byte in data:
        total = (total + byte) & 0xFF
    return 0xFF - total


@dataclass(frozen=True)
class Request:
    """A request addressed to some machine number."""

    address: int
    cmd: int
    d0: int
    d1: int
    d2: int
    reserved: int = 0


def parse_request(frame: bytes) -> Request:
    """Parse exactly 8 bytes. Raises :class:`FrameError` or :class:`ChecksumError`."""
    if len(frame) != REQ_SIZE:
        raise FrameError(f"request must be {REQ_SIZE} bytes, not {len(frame)}")
    if frame[0] != REQ_HEAD:
        raise FrameError(f"request starts with 0x{frame[0]:02X}, not 0x7E")
    if _complement_of_sum(frame[:7]) != frame[7]:
        raise ChecksumError(f"request checksum 0x{frame[7]:02X} != 0x{_complement_of_sum(frame[:7]):02X}")
    return Request(address=frame[2], cmd=frame[3], d0=frame[4], d1=frame[5], d2=frame[6],
                   reserved=frame[1])


class RequestParser:
    """Incremental request framer with resynchronisation on 0x7E.

    ``feed`` returns the requests completed so far. A candidate with a bad
    checksum is skipped one byte at a time; when a call finds no request but
    skipped at least one bad candidate it raises :class:`ChecksumError`
    (state already advanced). ``rejected`` counts bad candidates.
    """

    def __init__(self) -> None:
        self._pending = b""
        self.rejected = 0

    def reset(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[Request]:
        buf = self._pending + bytes(data)
        pos = 0
        found: list[Request] = []
        error: ChecksumError | None = None
        while True:
            head = buf.find(bytes((REQ_HEAD,)), pos)
            if head < 0:
                pos = len(buf)
                break
            if len(buf) - head < REQ_SIZE:
                pos = head
                break
            try:
                found.append(parse_request(buf[head:head + REQ_SIZE]))
                pos = head + REQ_SIZE
            except ChecksumError as exc:
                self.rejected += 1
                error = exc
                pos = head + 1
        self._pending = buf[pos:]
        if not found and error is not None:
            raise error
        return found


def build_reply(*, firmware: int, address: int, fault: int, gate: int, alarm: int,
                left: int, right: int, ir: int, result: int, voltage: int) -> bytes:
    """Pack the 18-byte reply; counters are reduced modulo 2^24.

    Raises :class:`FrameError` when a byte field is out of range.
    """
    fields = (firmware, address, fault, gate, alarm, ir, result, voltage)
    if any(not 0 <= v <= 0xFF for v in fields):
        raise FrameError(f"reply byte field out of range: {fields}")
    body = bytearray((REPLY_HEAD, firmware, address, fault, gate, alarm))
    body += (left & COUNTER_MASK).to_bytes(3, "big")
    body += (right & COUNTER_MASK).to_bytes(3, "big")
    body += bytes((ir, result, voltage, 0x00, 0x00))
    body.append(_complement_of_sum(bytes(body)))
    return bytes(body)
