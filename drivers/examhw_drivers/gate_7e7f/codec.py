"""Host side of the gate-board "7E/7F" protocol (docs/protocols/gate-7e7f.md).

Pure code: :func:`encode_request` builds the 8-byte requests, :class:`ReplyDecoder`
turns the byte stream from the board into :class:`Reply` objects (keeping
partial frames, resynchronising on ``0x7F``), and the tables at the bottom map
the status bytes to names. The bit maps are examhw's *assumed* ones (no public
source gives them); they are module constants so a site can swap them.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from examhw.errors import ChecksumError, FrameError

REQUEST_START = 0x7E
REPLY_START = 0x7F
REQUEST_LEN = 8
REPLY_LEN = 18
RESULT_OK = 0x55
COUNTER_MOD = 1 << 24


class Cmd(enum.IntEnum):
    """Request command codes (0xA0/0xA1 are examhw extensions)."""

    STATUS = 0x10
    RESET_LEFT = 0x20
    RESET_RIGHT = 0x21
    RESTART = 0x35
    OPEN_LEFT = 0x80
    HOLD_LEFT = 0x81
    OPEN_RIGHT = 0x82
    HOLD_RIGHT = 0x83
    CLOSE = 0x84
    FORBID_LEFT = 0x88
    FORBID_RIGHT = 0x89
    CLEAR_RESTRICTIONS = 0x8F
    SET_PARAM = 0x96
    EMERGENCY = 0xA0
    SOUND_ALARM = 0xA1


RESTART_KEY = 0x60
#: result codes other than 0x55 (assumed; see the protocol document §4.4)
RESULT_NAMES = {0x55: "ok", 0x01: "failed", 0x02: "unknown command",
                0x03: "invalid parameter", 0x04: "refused in current state"}


def _sum8(data: bytes | bytearray) -> int:
    return sum(data) & 0xFF


def request_checksum(head: bytes) -> int:
    """Checksum of the first 7 request bytes: ``~sum & 0xFF``."""
    return (~_sum8(head)) & 0xFF


def encode_request(address: int, cmd: int, d0: int = 0, d1: int = 0, d2: int = 0) -> bytes:
    """The 8-byte request ``7E 00 addr cmd d0 d1 d2 chk``.

    Raises :class:`FrameError` when a field does not fit in a byte or the
    address is 0.
    """
    for name, value in (("address", address), ("cmd", cmd), ("data0", d0), ("data1", d1), ("data2", d2)):
        if not isinstance(value, int) or not 0 <= value <= 0xFF:
            raise FrameError(f"gate request field {name}={value!r} is not a byte")
    if address == 0:
        raise FrameError("gate machine number must be 1-255")
    head = bytes((REQUEST_START, 0x00, address, int(cmd), d0, d1, d2))
    return head + bytes((request_checksum(head),))


def reply_is_valid(frame: bytes) -> bool:
    """True when the 18 bytes start with 0x7F and ``(sum + 1) & 0xFF == 0``."""
    return len(frame) == REPLY_LEN and frame[0] == REPLY_START and (sum(frame) + 1) & 0xFF == 0


@dataclass(frozen=True)
class Reply:
    """One decoded 18-byte reply. Counters are 24-bit, voltage in volts."""

    firmware: int
    address: int
    fault: int
    gate: int
    alarm: int
    count_left: int
    count_right: int
    ir: int
    result: int
    voltage_raw: int
    raw: bytes

    @property
    def ok(self) -> bool:
        return self.result == RESULT_OK

    @property
    def supply_v(self) -> float:
        """Supply voltage in volts (byte × 0.2 V, assumed unit)."""
        return round(self.voltage_raw * 0.2, 1)


def decode_reply(frame: bytes) -> Reply:
    """Decode exactly one 18-byte reply.

    Raises :class:`FrameError` (wrong length or start byte) or
    :class:`ChecksumError`.
    """
    frame = bytes(frame)
    if len(frame) != REPLY_LEN:
        raise FrameError(f"gate reply must be {REPLY_LEN} bytes, got {len(frame)}")
    if frame[0] != REPLY_START:
        raise FrameError(f"gate reply must start with 0x7F, got 0x{frame[0]:02X}")
    if (sum(frame) + 1) & 0xFF != 0:
        raise ChecksumError(f"gate reply checksum mismatch: {frame.hex(' ')}")
    return Reply(
        firmware=frame[1], address=frame[2], fault=frame[3], gate=frame[4], alarm=frame[5],
        count_left=int.from_bytes(frame[6:9], "big"), count_right=int.from_bytes(frame[9:12], "big"),
        ir=frame[12], result=frame[13], voltage_raw=frame[14], raw=frame,
    )


class ReplyDecoder:
    """Incremental decoder of board replies.

    :meth:`feed` returns every valid reply completed by the new bytes. Bytes
    before a ``0x7F`` are discarded; a candidate with a bad checksum loses its
    start byte and the scan goes on. If a call yields no reply but rejected at
    least one candidate, it raises :class:`ChecksumError` (after updating its
    buffer, so feeding can continue). The buffer never holds more than one
    partial frame (< 18 bytes).
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.garbage_bytes = 0
        self.checksum_errors = 0

    def reset(self) -> None:
        """Forget any partial frame."""
        self._buf.clear()

    @property
    def pending(self) -> int:
        """Bytes held for an incomplete frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Reply]:
        self._buf += data
        out: list[Reply] = []
        bad: bytes | None = None
        while True:
            start = self._buf.find(REPLY_START)
            if start < 0:
                self.garbage_bytes += len(self._buf)
                self._buf.clear()
                break
            if start:
                self.garbage_bytes += start
                del self._buf[:start]
            if len(self._buf) < REPLY_LEN:
                break
            candidate = bytes(self._buf[:REPLY_LEN])
            if reply_is_valid(candidate):
                del self._buf[:REPLY_LEN]
                out.append(decode_reply(candidate))
            else:
                self.checksum_errors += 1
                bad = candidate
                del self._buf[:1]
        if not out and bad is not None:
            raise ChecksumError(f"gate reply checksum mismatch: {bad.hex(' ')}")
        return out


# -- assumed status maps (protocol document §5) ----------------------------

class GateState(enum.IntEnum):
    """Gate status byte, bits 0-3 (assumed)."""

    CLOSED = 0x0
    OPENING_LEFT = 0x1
    OPEN_LEFT = 0x2
    OPENING_RIGHT = 0x3
    OPEN_RIGHT = 0x4
    CLOSING = 0x5
    HELD_LEFT = 0x6
    HELD_RIGHT = 0x7
    HELD_BOTH = 0x8
    EMERGENCY = 0x9


GATE_STATE_MASK = 0x0F
GATE_FORBID_LEFT = 0x10
GATE_FORBID_RIGHT = 0x20

FAULT_BITS: dict[int, str] = {0x01: "motor", 0x02: "ir_sensor", 0x04: "limit", 0x08: "low_voltage"}
ALARM_BITS: dict[int, str] = {0x01: "tailgating", 0x02: "reverse_intrusion", 0x04: "forced_entry",
                              0x08: "climb", 0x10: "pinch", 0x20: "buzzer"}
ALARM_TAILGATING = 0x01
ALARM_REVERSE = 0x02
ALARM_FORCED = 0x04
ALARM_CLIMB = 0x08
ALARM_PINCH = 0x10


def bit_names(value: int, table: dict[int, str]) -> frozenset[str]:
    """Names of the set bits; unknown bits appear as ``bitN``."""
    names = set()
    for bit in range(8):
        mask = 1 << bit
        if value & mask:
            names.add(table.get(mask, f"bit{bit}"))
    return frozenset(names)


def gate_state(gate: int) -> GateState | None:
    """State code of a gate status byte, ``None`` when not in the table."""
    try:
        return GateState(gate & GATE_STATE_MASK)
    except ValueError:
        return None


def open_sides(state: GateState | None) -> tuple[bool, bool]:
    """(left open, right open) for a state (opening counts as open)."""
    if state in (GateState.OPENING_LEFT, GateState.OPEN_LEFT, GateState.HELD_LEFT):
        return True, False
    if state in (GateState.OPENING_RIGHT, GateState.OPEN_RIGHT, GateState.HELD_RIGHT):
        return False, True
    if state in (GateState.HELD_BOTH, GateState.EMERGENCY):
        return True, True
    return False, False


def counter_delta(before: int, after: int) -> int:
    """Passages between two readings of a 24-bit counter (handles the wrap)."""
    return (after - before) % COUNTER_MOD
