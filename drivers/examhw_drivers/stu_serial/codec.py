"""STU serial framing (host side): CRC-16/ARC, 8→7-bit packing, frames.

See docs/protocols/stu-serial.md §1. A frame is
``[0x80 | crc<<6 | encLen>>7] [encLen & 0x7F] pack7(report + crc16_le)``.
The decoder is incremental, resynchronises on the header byte (the only
byte with bit 7 set) and returns corrupted frames as typed errors.
"""
from __future__ import annotations

from dataclasses import dataclass

from examhw.errors import ChecksumError, FrameError, ProtocolError

#: largest encLen the 13-bit length field can hold
MAX_ENC_LEN = 8191
#: largest raw payload (report ID + payload + CRC) we accept; our reports are
#: < 32 bytes, the format allows 7167 (a longer length is taken as corruption)
MAX_RAW_LEN = 256


def _make_table() -> tuple[int, ...]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_TABLE = _make_table()


def crc16(data: bytes, init: int = 0x0000) -> int:
    """CRC-16 "ANSI" (poly 0x8005 reflected, init 0x0000 = CRC-16/ARC).
    ``crc16(b"123456789") == 0xBB3D``."""
    crc = init
    for b in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ b) & 0xFF]
    return crc


def enc_len(raw_len: int) -> int:
    """Encoded (7-bit) length of ``raw_len`` raw bytes."""
    full, rest = divmod(raw_len, 7)
    return full * 8 + (rest + 1 if rest else 0)


def pack7(data: bytes) -> bytes:
    """Pack 8-bit bytes into 7-bit bytes (bit 7 clear), 7 in → 8 out, MSB
    first; a final partial group of k bytes gives k+1 bytes, zero padded."""
    out = bytearray()
    for i in range(0, len(data), 7):
        group = data[i:i + 7]
        n_out = len(group) + 1
        value = int.from_bytes(group, "big") << (7 * n_out - 8 * len(group))
        for shift in range(7 * (n_out - 1), -1, -7):
            out.append((value >> shift) & 0x7F)
    return bytes(out)


def unpack7(data: bytes) -> bytes:
    """Inverse of :func:`pack7`. Raises :class:`FrameError` for an
    impossible length (``len % 8 == 1``), a byte with bit 7 set, or
    non-zero padding bits."""
    if len(data) % 8 == 1:
        raise FrameError(f"7-bit length {len(data)} cannot encode whole bytes")
    out = bytearray()
    for i in range(0, len(data), 8):
        group = data[i:i + 8]
        value = 0
        for b in group:
            if b & 0x80:
                raise FrameError("encoded byte has bit 7 set")
            value = (value << 7) | b
        n_raw = len(group) - 1
        pad = 7 * len(group) - 8 * n_raw
        if value & ((1 << pad) - 1):
            raise FrameError("non-zero padding bits in 7-bit data")
        out += (value >> pad).to_bytes(n_raw, "big")
    return bytes(out)


@dataclass(frozen=True)
class Frame:
    """One decoded report: its ID and payload (without ID and CRC)."""

    report_id: int
    payload: bytes

    @property
    def raw(self) -> bytes:
        return bytes([self.report_id]) + self.payload


def encode(report_id: int, payload: bytes = b"") -> bytes:
    """Frame one report (CRC always appended). Raises :class:`FrameError`
    if it does not fit the 13-bit length."""
    if not 0 <= report_id <= 0xFF:
        raise FrameError(f"report id {report_id} out of range")
    raw = bytes([report_id]) + bytes(payload)
    crc = crc16(raw)
    body = pack7(raw + bytes([crc & 0xFF, crc >> 8]))
    n = len(body)
    if n > MAX_ENC_LEN:
        raise FrameError(f"report too long for a frame ({len(raw)} bytes)")
    return bytes([0x80 | 0x40 | ((n >> 7) & 0x3F), n & 0x7F]) + body


class FrameDecoder:
    """Incremental frame decoder.

    :meth:`feed` returns, in stream order, decoded :class:`Frame` objects and
    :class:`ChecksumError` / :class:`FrameError` instances for frames that
    arrived corrupted (it never raises for bad input). Bytes before a header
    are skipped and counted in :attr:`skipped`.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.skipped = 0
        self.errors = 0

    def reset(self) -> None:
        """Forget any partial frame."""
        self._buf.clear()

    def feed(self, data: bytes) -> list[Frame | ProtocolError]:
        self._buf += data
        out: list[Frame | ProtocolError] = []
        buf = self._buf
        while True:
            # 1. find a header byte
            start = next((i for i, b in enumerate(buf) if b & 0x80), -1)
            if start < 0:
                self.skipped += len(buf)
                buf.clear()
                return out
            if start:
                self.skipped += start
                del buf[:start]
            if len(buf) < 2:
                return out
            h1, h2 = buf[0], buf[1]
            if h2 & 0x80:
                out.append(self._err(FrameError("header byte 2 has bit 7 set")))
                del buf[:1]
                continue
            n = ((h1 & 0x3F) << 7) | h2
            if not h1 & 0x40:
                out.append(self._err(FrameError("frame without CRC")))
                del buf[:1]
                continue
            if n < 4 or n % 8 == 1 or n > enc_len(MAX_RAW_LEN):
                out.append(self._err(FrameError(f"impossible encoded length {n}")))
                del buf[:1]
                continue
            # 2. collect the body; a header byte inside means truncation
            avail = min(len(buf), 2 + n)
            cut = next((i for i in range(2, avail) if buf[i] & 0x80), -1)
            if cut >= 0:
                out.append(self._err(FrameError(f"frame truncated after {cut - 2} of {n} bytes")))
                del buf[:cut]
                continue
            if len(buf) < 2 + n:
                return out
            body = bytes(buf[2:2 + n])
            del buf[:2 + n]
            try:
                raw = unpack7(body)
            except FrameError as exc:
                out.append(self._err(exc))
                continue
            report, crc_bytes = raw[:-2], raw[-2:]
            got = crc_bytes[0] | (crc_bytes[1] << 8)
            want = crc16(report)
            if got != want:
                out.append(self._err(ChecksumError(
                    f"CRC {got:04X} != {want:04X} for report 0x{report[0]:02X}")))
                continue
            out.append(Frame(report[0], bytes(report[1:])))

    def _err(self, exc: ProtocolError) -> ProtocolError:
        self.errors += 1
        return exc
