"""STU serial framing, pad side (written from docs/protocols/stu-serial.md
§1, independently of the driver's codec).

Frame: two header bytes (only the first has bit 7 set; 13-bit count of
encoded bytes; bit 6 of the first = CRC present) then the report bytes plus
a little-endian CRC-16/ARC, re-cut from 8-bit into 7-bit bytes.
"""
from __future__ import annotations

from examhw.errors import ChecksumError, FrameError, ProtocolError

SYNC = 0x80
CRC_FLAG = 0x40
#: longest raw payload (ID + report + CRC) the pad accepts
LONGEST_RAW = 256


def crc16_arc(data: bytes) -> int:
    """CRC-16/ARC, bit by bit: reflected poly 0x8005 (0xA001), init 0."""
    reg = 0
    for byte in data:
        reg ^= byte
        for _ in range(8):
            lsb = reg & 1
            reg >>= 1
            if lsb:
                reg ^= 0xA001
    return reg


def to_septets(data: bytes) -> bytes:
    """8-bit → 7-bit bytes through a bit accumulator (MSB first); each group
    of 7 input bytes is closed with zero padding to a whole septet."""
    out = bytearray()
    for start in range(0, len(data), 7):
        acc = 0
        nbits = 0
        for byte in data[start:start + 7]:
            acc = (acc << 8) | byte
            nbits += 8
            while nbits >= 7:
                nbits -= 7
                out.append((acc >> nbits) & 0x7F)
            acc &= (1 << nbits) - 1
        if nbits:
            out.append((acc << (7 - nbits)) & 0x7F)
    return bytes(out)


def from_septets(septets: bytes) -> bytes:
    """7-bit → 8-bit bytes; raises FrameError on a dangling septet, a set
    bit 7 or non-zero padding."""
    out = bytearray()
    for start in range(0, len(septets), 8):
        chunk = septets[start:start + 8]
        if len(chunk) == 1:
            raise FrameError("dangling 7-bit byte at the end of a frame")
        acc = 0
        nbits = 0
        for s in chunk:
            if s > 0x7F:
                raise FrameError("sync bit inside frame body")
            acc = (acc << 7) | s
            nbits += 7
            if nbits >= 8:
                nbits -= 8
                out.append((acc >> nbits) & 0xFF)
                acc &= (1 << nbits) - 1
        if acc:
            raise FrameError("padding bits are not zero")
    return bytes(out)


def frame(report_id: int, payload: bytes = b"") -> bytes:
    """One report framed for the wire, CRC included."""
    raw = bytes([report_id & 0xFF]) + payload
    c = crc16_arc(raw)
    body = to_septets(raw + bytes((c & 0xFF, (c >> 8) & 0xFF)))
    count = len(body)
    if count >= 1 << 13:
        raise FrameError("report too long for the 13-bit length")
    return bytes((SYNC | CRC_FLAG | (count >> 7), count & 0x7F)) + body


class FrameReader:
    """Incremental reader. ``feed`` returns ``(report_id, payload)`` tuples
    and, for frames that arrived corrupted, ChecksumError/FrameError
    instances. Noise before a header is skipped (counted in ``noise``)."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self.noise = 0

    def reset(self) -> None:
        self._pending = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes] | ProtocolError]:
        buf = self._pending + data
        results: list[tuple[int, bytes] | ProtocolError] = []
        pos = 0
        end = len(buf)
        while pos < end:
            if not buf[pos] & SYNC:
                self.noise += 1
                pos += 1
                continue
            if pos + 1 >= end:
                break                       # header byte 2 not here yet
            h1, h2 = buf[pos], buf[pos + 1]
            if h2 & SYNC:
                results.append(FrameError("second header byte carries the sync bit"))
                pos += 1
                continue
            count = ((h1 & 0x3F) << 7) | h2
            if not h1 & CRC_FLAG:
                results.append(FrameError("frame has no CRC"))
                pos += 1
                continue
            raw_len = (count // 8) * 7 + max(0, count % 8 - 1)
            if count % 8 == 1 or raw_len < 3 or raw_len > LONGEST_RAW:
                results.append(FrameError(f"bad encoded length {count}"))
                pos += 1
                continue
            body_end = pos + 2 + count
            stop = min(body_end, end)
            sync_at = next((j for j in range(pos + 2, stop) if buf[j] & SYNC), None)
            if sync_at is not None:
                results.append(FrameError("frame cut short by a new header"))
                pos = sync_at
                continue
            if body_end > end:
                break                       # wait for the rest
            try:
                raw = from_septets(bytes(buf[pos + 2:body_end]))
            except FrameError as exc:
                results.append(exc)
                pos = body_end
                continue
            pos = body_end
            report, tail = raw[:-2], raw[-2:]
            if crc16_arc(report) != tail[0] | tail[1] << 8:
                results.append(ChecksumError(f"bad CRC on report 0x{report[0]:02X}"))
                continue
            results.append((report[0], bytes(report[1:])))
        self._pending = bytearray(buf[pos:])
        return results
