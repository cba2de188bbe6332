"""Frame codec of the SAM serial protocol (host side).

Pure code, no I/O: :func:`encode_request` builds request frames, :class:`SamDecoder`
turns received bytes into reply frames. See ``docs/protocols/sam-serial.md`` §2.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from examhw.errors import ChecksumError, FrameError, ProtocolError

PREAMBLE = b"\xAA\xAA\xAA\x96\x69"
#: smallest LEN of a reply: SW1 SW2 SW3 + CHK
MIN_REPLY_LEN = 4
#: largest LEN the driver accepts (assumption; the largest real reply has LEN 0x090A)
MAX_REPLY_LEN = 4096

# (CMD, PARA) of the requests the driver sends
RESET = (0x10, 0xFF)
SAM_STATUS = (0x11, 0xFF)
SAM_NUMBER = (0x12, 0xFF)
FIND = (0x20, 0x01)
SELECT = (0x20, 0x02)
READ_BASE = (0x30, 0x01)
READ_FINGERPRINT = (0x30, 0x10)
READ_NEW_ADDRESS = (0x30, 0x03)

# SW3 values
SW_OK = 0x90
SW_NO_CONTENT = 0x91
SW_FOUND = 0x9F
SW_NO_CARD = 0x80
SW_SELECT_FAILED = 0x81
SW_READ_FAILED = 0x41

STATUS_TEXT: dict[int, str] = {
    0x90: "success",
    0x91: "no content for this item",
    0x9F: "card found",
    0x10: "checksum error in host frame",
    0x11: "length error in host frame",
    0x21: "command error",
    0x23: "unauthorised operation",
    0x24: "unrecognised error",
    0x31: "card failed to authenticate the SAM",
    0x32: "SAM failed to authenticate the card",
    0x33: "information verification error",
    0x40: "unrecognised card type",
    0x41: "read failed",
    0x47: "random number failed",
    0x60: "SAM self-test failed",
    0x66: "SAM not authorised",
    0x80: "no card found",
    0x81: "select failed",
}


def status_text(sw3: int) -> str:
    """Human text for a SW3 code (``"unknown status 0xNN"`` when not in the table)."""
    return STATUS_TEXT.get(sw3, f"unknown status 0x{sw3:02X}")


def xor_of(data: bytes) -> int:
    """XOR of all bytes of ``data`` (0 for empty input)."""
    acc = 0
    for b in data:
        acc ^= b
    return acc


def encode_frame(body: bytes) -> bytes:
    """Preamble + LEN + ``body`` + CHK. Raises :class:`FrameError` if too long."""
    length = len(body) + 1
    if length > 0xFFFF:
        raise FrameError(f"frame body of {len(body)} bytes does not fit a 16-bit LEN")
    head = struct.pack(">H", length)
    return PREAMBLE + head + body + bytes([xor_of(head + body)])


def encode_request(cmd: int, para: int, data: bytes = b"") -> bytes:
    """Request frame ``CMD PARA DATA`` (e.g. ``encode_request(0x20, 0x01)`` is find card)."""
    return encode_frame(bytes([cmd & 0xFF, para & 0xFF]) + bytes(data))


@dataclass(frozen=True)
class SamFrame:
    """One reply frame: ``body`` is everything between LEN and CHK."""

    body: bytes

    @property
    def sw1(self) -> int:
        return self.body[0]

    @property
    def sw2(self) -> int:
        return self.body[1]

    @property
    def sw3(self) -> int:
        return self.body[2]

    @property
    def data(self) -> bytes:
        return self.body[3:]

    def to_bytes(self) -> bytes:
        return encode_frame(self.body)


class SamDecoder:
    """Incremental reply decoder.

    ``feed(data)`` returns the complete frames found so far and keeps partial frames and
    any bytes after the last frame (a trailing stray byte stays in :attr:`buffered`).
    Garbage before a preamble is skipped. A LEN outside ``[min_len, max_len]`` raises
    :class:`FrameError`, an XOR mismatch :class:`ChecksumError`; either way only the
    preamble is dropped and hunting resumes after it. If frames were already decoded in
    the same call, they are returned first and the error is raised by the next call.
    """

    def __init__(self, *, min_len: int = MIN_REPLY_LEN, max_len: int = MAX_REPLY_LEN) -> None:
        self.min_len = min_len
        self.max_len = max_len
        self._buf = bytearray()
        self._pending: ProtocolError | None = None
        #: bytes skipped while hunting for a preamble (diagnostics)
        self.skipped = 0

    @property
    def buffered(self) -> bytes:
        """Bytes received but not yet part of a returned frame."""
        return bytes(self._buf)

    def reset(self) -> None:
        """Forget buffered bytes and any pending error."""
        self._buf.clear()
        self._pending = None

    def feed(self, data: bytes) -> list[SamFrame]:
        """Add ``data``; return the frames completed. Raises ChecksumError/FrameError."""
        self._buf += data
        if self._pending is not None:
            err, self._pending = self._pending, None
            raise err
        frames: list[SamFrame] = []
        while True:
            try:
                frame = self._next()
            except ProtocolError as exc:
                if frames:
                    self._pending = exc
                    return frames
                raise
            if frame is None:
                return frames
            frames.append(frame)

    def _next(self) -> SamFrame | None:
        buf = self._buf
        at = buf.find(PREAMBLE)
        if at < 0:
            keep = len(PREAMBLE) - 1
            if len(buf) > keep:
                self.skipped += len(buf) - keep
                del buf[:len(buf) - keep]
            return None
        if at:
            self.skipped += at
            del buf[:at]
        if len(buf) < 7:
            return None
        length = (buf[5] << 8) | buf[6]
        if not self.min_len <= length <= self.max_len:
            del buf[:len(PREAMBLE)]
            raise FrameError(f"frame LEN {length} outside {self.min_len}..{self.max_len}")
        total = 7 + length
        if len(buf) < total:
            return None
        expected = xor_of(buf[5:total - 1])
        stored = buf[total - 1]
        if expected != stored:
            del buf[:len(PREAMBLE)]
            raise ChecksumError(f"frame checksum mismatch: XOR 0x{expected:02X}, CHK 0x{stored:02X} "
                                f"(LEN {length})")
        body = bytes(buf[7:total - 1])
        del buf[:total]
        return SamFrame(body)


@dataclass(frozen=True)
class ReadBlocks:
    """The blocks of a read reply (``30 01`` or ``30 10``)."""

    text: bytes
    photo: bytes
    fingerprint: bytes


def split_read_data(data: bytes, *, with_fingerprint: bool) -> ReadBlocks:
    """Split the DATA of a successful read reply by its BE length fields.

    ``30 01`` has two length fields (text, photo), ``30 10`` three (text, photo,
    fingerprint). Raises :class:`FrameError` when the lengths do not match the data.
    """
    count = 3 if with_fingerprint else 2
    head = 2 * count
    if len(data) < head:
        raise FrameError(f"read reply too short for its length fields ({len(data)} bytes)")
    lengths = struct.unpack(f">{count}H", data[:head])
    if head + sum(lengths) != len(data):
        raise FrameError(f"read reply lengths {lengths} do not add up to {len(data) - head} bytes")
    text_len, photo_len = lengths[0], lengths[1]
    if text_len != 256:
        raise FrameError(f"text block is {text_len} bytes, expected 256")
    p = head
    text = data[p:p + text_len]
    p += text_len
    photo = data[p:p + photo_len]
    p += photo_len
    fingerprint = data[p:] if with_fingerprint else b""
    return ReadBlocks(text, photo, fingerprint)


@dataclass(frozen=True)
class SamNumber:
    """The SAM management number: raw 16 bytes and examhw's one formatting."""

    raw: bytes
    text: str


def parse_sam_number(data: bytes) -> SamNumber:
    """Decode the 16-byte SAM number (docs §5.3). Raises :class:`FrameError` otherwise."""
    if len(data) != 16:
        raise FrameError(f"SAM number is {len(data)} bytes, expected 16")
    a, b, c, d, e = struct.unpack("<HHIII", data)
    return SamNumber(bytes(data), f"{a:02d}.{b:02d}-{c:08d}-{d:09d}-{e:09d}")
