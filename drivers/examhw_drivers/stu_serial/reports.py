"""STU report layer (host side): report IDs, result codes and payload
encode/decode. Layouts: docs/protocols/stu-serial.md §3 (big-endian)."""
from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from examhw.errors import FrameError


class ReportId(enum.IntEnum):
    """Report IDs of the subset we use."""

    PEN_DATA = 0x01
    STATUS = 0x03
    RESET = 0x04
    INFORMATION = 0x08
    CAPABILITY = 0x09
    UID2 = 0x0B
    CLEAR_SCREEN = 0x20
    INKING_MODE = 0x21
    PEN_DATA_OPTION_MODE = 0x32
    PEN_DATA_TIME_COUNT_SEQUENCE = 0x34
    GET_REPORT = 0x80
    SET_RESULT = 0x81


class PenDataOption(enum.IntEnum):
    NONE = 0
    TIME_COUNT = 1
    SEQUENCE_NUMBER = 2
    TIME_COUNT_SEQUENCE = 3


#: SetResult / Status.lastResultCode values → names used as DeviceFault codes.
RESULT_NAMES: dict[int, str] = {
    0x00: "None",
    0x01: "WrongReportId",
    0x02: "WrongState",
    0x03: "CRC",
    0x04: "BadParameter",
    0x10: "GraphicsWrongEncodingType",
    0x11: "GraphicsImageTooLong",
    0x12: "GraphicsZlibError",
    0x15: "GraphicsWrongParameters",
    0x20: "PadNotExist",
    0x33: "RomError33",
    0x34: "RomError34",
    0x35: "RomError35",
}
RESULT_OK = 0x00
RESULT_CRC = 0x03

STATUS_NAMES: dict[int, str] = {
    0x00: "Ready", 0x01: "Image", 0x02: "Capture", 0x03: "Calculation",
    0x04: "Image_Boot", 0x05: "RomBusy", 0xFF: "SystemReset",
}


def result_name(code: int) -> str:
    """Name of a result code (``"0x42"`` style for unknown codes)."""
    return RESULT_NAMES.get(code, f"0x{code:02X}")


def _need(payload: bytes, n: int, what: str) -> None:
    if len(payload) != n:
        raise FrameError(f"{what} payload is {len(payload)} bytes, expected {n}")


@dataclass(frozen=True)
class PenSample:
    """One pen report. ``time_count``/``sequence`` are ``None`` for plain
    PenData (0x01). x, y in tablet units; pressure 0..tabletMaxPressure."""

    rdy: bool
    sw: int
    pressure: int
    x: int
    y: int
    time_count: int | None = None
    sequence: int | None = None

    @property
    def down(self) -> bool:
        return self.rdy and self.sw != 0


def decode_pen(report_id: int, payload: bytes) -> PenSample:
    """Decode PenData (0x01, 6 bytes) or PenDataTimeCountSequence (0x34,
    10 bytes). Raises :class:`FrameError` for a wrong length or ID."""
    if report_id == ReportId.PEN_DATA:
        _need(payload, 6, "PenData")
    elif report_id == ReportId.PEN_DATA_TIME_COUNT_SEQUENCE:
        _need(payload, 10, "PenDataTimeCountSequence")
    else:
        raise FrameError(f"report 0x{report_id:02X} is not pen data")
    b0 = payload[0]
    pressure = ((b0 & 0x0F) << 8) | payload[1]
    x, y = struct.unpack_from(">HH", payload, 2)
    tc = seq = None
    if report_id == ReportId.PEN_DATA_TIME_COUNT_SEQUENCE:
        tc, seq = struct.unpack_from(">HH", payload, 6)
    return PenSample(bool(b0 & 0x80), (b0 >> 4) & 0x07, pressure, x, y, tc, seq)


@dataclass(frozen=True)
class Status:
    status_code: int
    last_result: int
    status_word: int

    @property
    def status_name(self) -> str:
        return STATUS_NAMES.get(self.status_code, f"0x{self.status_code:02X}")


def decode_status(payload: bytes) -> Status:
    _need(payload, 4, "Status")
    code, last, word = struct.unpack(">BBH", payload)
    return Status(code, last, word)


@dataclass(frozen=True)
class Information:
    model: str
    fw_major: int
    fw_minor: int
    secure_ic: int
    secure_ic_version: bytes

    @property
    def firmware(self) -> str:
        return f"{self.fw_major}.{self.fw_minor}"


def decode_information(payload: bytes) -> Information:
    _need(payload, 16, "Information")
    name = payload[:9].split(b"\0", 1)[0].decode("ascii", "replace").strip()
    return Information(name, payload[9], payload[10], payload[11], bytes(payload[12:16]))


@dataclass(frozen=True)
class Capability:
    tablet_max_x: int
    tablet_max_y: int
    tablet_max_pressure: int
    screen_width: int
    screen_height: int
    max_report_rate: int
    resolution: int
    encoding_flag: int


_CAP = struct.Struct(">HHHHHBHB")


def decode_capability(payload: bytes) -> Capability:
    _need(payload, _CAP.size, "Capability")
    cap = Capability(*_CAP.unpack(payload))
    if not (cap.tablet_max_x and cap.tablet_max_y and cap.screen_width and cap.screen_height):
        raise FrameError(f"Capability has a zero dimension: {cap}")
    return cap


def decode_uid2(payload: bytes) -> str:
    """Uid2 as 20 upper-case hex digits."""
    _need(payload, 10, "Uid2")
    return payload.hex().upper()


@dataclass(frozen=True)
class SetResult:
    report_id: int
    result: int

    @property
    def ok(self) -> bool:
        return self.result == RESULT_OK

    @property
    def name(self) -> str:
        return result_name(self.result)


def decode_set_result(payload: bytes) -> SetResult:
    _need(payload, 2, "SetResult")
    return SetResult(payload[0], payload[1])


# -- host → pad payloads -------------------------------------------------------

def get_report(report_id: int) -> tuple[int, bytes]:
    """GetReport (0x80) asking for ``report_id``."""
    return ReportId.GET_REPORT, bytes([report_id])


def clear_screen() -> tuple[int, bytes]:
    return ReportId.CLEAR_SCREEN, b"\x00"


def inking_mode(on: bool) -> tuple[int, bytes]:
    return ReportId.INKING_MODE, b"\x01" if on else b"\x00"


def pen_data_option_mode(mode: PenDataOption) -> tuple[int, bytes]:
    return ReportId.PEN_DATA_OPTION_MODE, bytes([int(mode)])


def reset(hard: bool = False) -> tuple[int, bytes]:
    return ReportId.RESET, b"\x01" if hard else b"\x00"
