"""The simulated SAM's own frame codec (reader side).

Written from ``docs/protocols/sam-serial.md`` independently of the driver: the parser is
a byte-at-a-time state machine that hands back typed results instead of raising, so the
simulator can answer every bad request with the right status.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from examhw.errors import ChecksumError, FrameError

SYNC = (0xAA, 0xAA, 0xAA, 0x96, 0x69)
#: LEN limits of requests the simulated SAM accepts (larger/smaller → status 11)
REQUEST_LEN_MIN = 3
REQUEST_LEN_MAX = 256


@dataclass(frozen=True)
class RawFrame:
    """A frame that passed the length and XOR checks; ``body`` excludes LEN and CHK."""

    body: bytes


@dataclass(frozen=True)
class SamRequest:
    """A host request: command byte, parameter byte and optional data."""

    cmd: int
    para: int
    data: bytes = b""


Parsed = Union[RawFrame, ChecksumError, FrameError]


def _xor(values: bytes | bytearray) -> int:
    out = 0
    for v in values:
        out ^= v
    return out


class FrameReader:
    """Incremental frame parser: ``feed(bytes) -> [RawFrame | ChecksumError | FrameError]``.

    States: hunting the 5 sync bytes, reading the 2 LEN bytes, reading LEN body bytes.
    A bad LEN or bad XOR yields an error item; the bytes after the sync pattern are then
    scanned again so a following good frame is still found. Never raises.
    """

    def __init__(self, *, min_len: int = REQUEST_LEN_MIN, max_len: int = REQUEST_LEN_MAX) -> None:
        self.min_len = min_len
        self.max_len = max_len
        self._matched = 0              # sync bytes matched so far
        self._len_bytes = bytearray()
        self._need = 0
        self._body = bytearray()       # LEN bytes + body + CHK collected so far
        self._state = "hunt"

    @property
    def idle(self) -> bool:
        """True when no partial frame is held."""
        return self._state == "hunt" and self._matched == 0

    def reset(self) -> None:
        self._matched = 0
        self._len_bytes.clear()
        self._body.clear()
        self._state = "hunt"

    def feed(self, data: bytes) -> list[Parsed]:
        out: list[Parsed] = []
        queue = list(data)
        i = 0
        while i < len(queue):
            byte = queue[i]
            i += 1
            if self._state == "hunt":
                self._hunt(byte)
            elif self._state == "len":
                self._len_bytes.append(byte)
                if len(self._len_bytes) == 2:
                    length = (self._len_bytes[0] << 8) | self._len_bytes[1]
                    if length < self.min_len or length > self.max_len:
                        out.append(FrameError(f"request LEN {length} out of range"))
                        queue[i:i] = list(self._len_bytes)      # rescan after the sync bytes
                        self.reset()
                    else:
                        self._need = length
                        self._body = bytearray(self._len_bytes)
                        self._state = "body"
            else:
                self._body.append(byte)
                if len(self._body) == 2 + self._need:
                    frame = bytes(self._body)
                    if _xor(frame[:-1]) == frame[-1]:
                        out.append(RawFrame(frame[2:-1]))
                        self.reset()
                    else:
                        out.append(ChecksumError("request checksum mismatch"))
                        queue[i:i] = list(frame)                # rescan after the sync bytes
                        self.reset()
        return out

    def _hunt(self, byte: int) -> None:
        if byte == SYNC[self._matched]:
            self._matched += 1
            if self._matched == len(SYNC):
                self._matched = 0
                self._len_bytes.clear()
                self._state = "len"
            return
        # mismatch: the longest sync prefix ending in this byte
        if byte == 0xAA:
            self._matched = 3 if self._matched == 3 else 1
        else:
            self._matched = 0


def as_request(frame: RawFrame) -> SamRequest:
    """Interpret a frame body as ``CMD PARA DATA``."""
    return SamRequest(frame.body[0], frame.body[1], frame.body[2:])


def build_frame(body: bytes) -> bytes:
    """Sync + LEN + body + XOR."""
    size = len(body) + 1
    head = bytes([(size >> 8) & 0xFF, size & 0xFF])
    return bytes(SYNC) + head + body + bytes([_xor(head + body)])


def build_reply(sw3: int, data: bytes = b"", *, sw1: int = 0, sw2: int = 0) -> bytes:
    """A reply frame ``SW1 SW2 SW3 DATA``."""
    return build_frame(bytes([sw1, sw2, sw3]) + data)


def build_request(cmd: int, para: int, data: bytes = b"") -> bytes:
    """A request frame (used by tests acting as the host)."""
    return build_frame(bytes([cmd, para]) + data)
