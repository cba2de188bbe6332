"""Evolis escape-command codec, host side (see docs/protocols/evolis-escape.md).

Pure functions and one incremental reply decoder: no I/O here.

* :func:`encode_command` builds ``ESC name;p1;…CR``;
* :func:`encode_panel` builds the length-aware ``Db;<panel>;2;<data>CR``;
* :class:`ReplyDecoder` turns the printer's CR-terminated ASCII replies into
  :class:`Reply` objects (``OK`` / ``ACK`` / ``NACK <c>`` / ``ERR <c>`` / data);
  a malformed line becomes a reply of kind ``INVALID`` carrying a
  :class:`~examhw.errors.FrameError`, so ``feed`` itself never raises;
* :func:`parse_status` decodes the five status words of ``Rst``.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from examhw.errors import FrameError

ESC = 0x1B
CR = 0x0D

#: Panel geometry at 300 dpi: dots per line (short card edge) and lines.
PANEL_DOTS = 648
PANEL_LINES = 1016
#: Bytes of one 2-level (1 bit per dot) panel: 1016 lines × 81 bytes.
K_PANEL_BYTES = PANEL_DOTS * PANEL_LINES // 8

#: Longest reply text accepted before its CR.
MAX_REPLY = 256

_PANELS = frozenset("ymcko")


def _check_param(p: str) -> str:
    if any(c in ";\r\x1b" or not (0x20 <= ord(c) <= 0x7E) for c in p):
        raise ValueError(f"parameter {p!r} must be printable ASCII without ';'")
    return p


def encode_command(name: str, *params: object) -> bytes:
    """``ESC name;p1;…;pn CR``. ``name`` is 1–4 ASCII letters; parameters are
    printed with ``str()`` and must be printable ASCII without ``;``.
    Raises :class:`ValueError` for a bad name or parameter (a caller bug)."""
    if not (1 <= len(name) <= 4 and name.isascii() and name.isalpha()):
        raise ValueError(f"bad command name {name!r}")
    text = ";".join([name, *(_check_param(str(p)) for p in params)])
    return bytes([ESC]) + text.encode("ascii") + bytes([CR])


def encode_panel(panel: str, data: bytes) -> bytes:
    """``ESC Db;<panel>;2;<data> CR`` for a 2-level panel (``k`` or ``o``).
    ``data`` must be exactly :data:`K_PANEL_BYTES` bytes (raises ValueError)."""
    if panel not in ("k", "o"):
        raise ValueError("only 2-level k/o panels are sent by this driver")
    if len(data) != K_PANEL_BYTES:
        raise ValueError(f"panel data must be {K_PANEL_BYTES} bytes, got {len(data)}")
    return bytes([ESC]) + f"Db;{panel};2;".encode("ascii") + bytes(data) + bytes([CR])


def encode_mag(track: int, data: str) -> bytes:
    """``ESC Dm;<track>;<data> CR`` (track 1–3, printable ASCII data)."""
    if track not in (1, 2, 3):
        raise ValueError("magnetic track must be 1, 2 or 3")
    return encode_command("Dm", track, data)


class ReplyKind(str, enum.Enum):
    OK = "ok"            # default mode success
    ACK = "ack"          # ACK/NACK mode success
    NACK = "nack"        # ACK/NACK mode failure, ``code`` set
    ERR = "err"          # default mode failure (or Rlr data starting with ERR)
    DATA = "data"        # answer of a read command
    INVALID = "invalid"  # malformed line; ``error`` holds the FrameError


@dataclass(frozen=True)
class Reply:
    """One printer reply. ``text`` is the line without its CR."""

    kind: ReplyKind
    text: str
    code: str = ""
    error: FrameError | None = None

    @property
    def success(self) -> bool:
        return self.kind in (ReplyKind.OK, ReplyKind.ACK)

    @property
    def failure(self) -> bool:
        return self.kind in (ReplyKind.NACK, ReplyKind.ERR)


def classify(text: str) -> Reply:
    """Classify one reply line by syntax alone."""
    if text == "OK":
        return Reply(ReplyKind.OK, text)
    if text == "ACK":
        return Reply(ReplyKind.ACK, text)
    if text == "NACK" or text.startswith("NACK "):
        return Reply(ReplyKind.NACK, text, code=text[5:].strip() or "?")
    if text.startswith("ERR "):
        return Reply(ReplyKind.ERR, text, code=text[4:].strip())
    return Reply(ReplyKind.DATA, text)


_NON_PRINTABLE = re.compile(rb"[^\x20-\x7e]")


class ReplyDecoder:
    """Incremental decoder of CR-terminated replies.

    NUL and LF before a reply are skipped. A line with a non-printable byte,
    or longer than :data:`MAX_REPLY`, yields an ``INVALID`` reply (with a
    :class:`FrameError`) and the decoder resynchronises after the next CR.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._discarding = False
        #: lines dropped as malformed since creation (for diagnostics)
        self.invalid = 0

    def reset(self) -> None:
        self._buf.clear()
        self._discarding = False

    def feed(self, data: bytes) -> list[Reply]:
        """Decode every complete reply in the buffer. Linear in the input: the
        buffer is scanned with a moving index and trimmed once at the end."""
        out: list[Reply] = []
        buf = self._buf
        buf += data
        pos, end = 0, len(buf)
        while True:
            if self._discarding:
                i = buf.find(CR, pos)
                if i < 0:
                    pos = end
                    break
                pos = i + 1
                self._discarding = False
            while pos < end and buf[pos] in (0x00, 0x0A):     # padding before a reply
                pos += 1
            i = buf.find(CR, pos)
            if i < 0:
                if end - pos > MAX_REPLY:
                    out.append(self._invalid(f"reply longer than {MAX_REPLY} bytes without CR"))
                    pos = end
                    self._discarding = True
                break
            line = bytes(buf[pos:i])
            pos = i + 1
            if len(line) > MAX_REPLY:
                out.append(self._invalid(f"reply longer than {MAX_REPLY} bytes"))
            elif _NON_PRINTABLE.search(line):
                out.append(self._invalid(f"non-printable byte in reply {line[:32]!r}"))
            else:
                out.append(classify(line.decode("ascii")))
        del buf[:pos]
        return out

    def _invalid(self, why: str) -> Reply:
        self.invalid += 1
        return Reply(ReplyKind.INVALID, "", error=FrameError(why))


# -- status words ------------------------------------------------------------

INF_BUSY = 0x00000001
INF_ENCODING_RUNNING = 0x00000040
INF_PRINTING_RUNNING = 0x00000080
INF_CLEANING = 0x00020000
INF_RIBBON_LOW = 0x00080000
INF_CARD_PRINT = 0x02000000
INF_CARD_FEEDER = 0x20000000

WAR_NO_RIBBON = 0x00010000
WAR_COVER_OPEN = 0x00020000
WAR_RIBBON_ENDED = 0x00080000
WAR_HOPPER_FULL = 0x00100000
WAR_COOLING = 0x00200000
WAR_FEEDER_EMPTY = 0x01000000

ERR_WRITE_MAGNETIC = 0x00010000
ERR_HOPPER_FULL = 0x00100000
ERR_RIBBON_ENDED = 0x00200000
ERR_MECHANICAL = 0x01000000
ERR_COVER_OPEN = 0x02000000
ERR_RIBBON_ERROR = 0x04000000
ERR_FEEDER_ERROR = 0x08000000
ERR_HEAD_TEMP = 0x20000000

EX1_INF_FEEDER_NEAR_EMPTY = 0x00000100

#: ERR bit → examhw error name, in priority order (first match names a failed job).
ERROR_NAMES: tuple[tuple[int, str], ...] = (
    (ERR_MECHANICAL, "jam"),
    (ERR_COVER_OPEN, "cover_open"),
    (ERR_RIBBON_ENDED, "ribbon_out"),
    (ERR_RIBBON_ERROR, "ribbon_out"),
    (ERR_FEEDER_ERROR, "feeder_empty"),
    (ERR_HOPPER_FULL, "hopper_full"),
    (ERR_WRITE_MAGNETIC, "mag_write_error"),
    (ERR_HEAD_TEMP, "head_overheat"),
)
#: WAR bits that stop printing → examhw error names.
BLOCKING_WARNINGS: tuple[tuple[int, str], ...] = (
    (WAR_COVER_OPEN, "cover_open"),
    (WAR_RIBBON_ENDED, "ribbon_out"),
    (WAR_NO_RIBBON, "ribbon_out"),
    (WAR_FEEDER_EMPTY, "feeder_empty"),
    (WAR_HOPPER_FULL, "hopper_full"),
)

#: NACK/ERR code → examhw error name (docs §3.1).
NACK_NAMES: dict[str, str] = {
    "1": "command_error", "2": "parameter_error", "T": "jam", "C": "cover_open",
    "F": "feeder_empty", "R": "ribbon_out", "K": "mag_checksum", "D": "mag_data_error",
    "W": "mag_write_error",
}


@dataclass(frozen=True)
class StatusWords:
    """The five 32-bit words of ``Rst``."""

    cfg: int
    inf: int
    war: int
    err: int
    ex1: int

    @property
    def busy(self) -> bool:
        return bool(self.inf & (INF_BUSY | INF_PRINTING_RUNNING | INF_ENCODING_RUNNING))

    def errors(self) -> frozenset[str]:
        """Every error name raised (latched ERR bits and blocking warnings)."""
        names = {n for bit, n in ERROR_NAMES if self.err & bit}
        names |= {n for bit, n in BLOCKING_WARNINGS if self.war & bit}
        if self.err and not names:
            names.add("printer_error")
        return frozenset(names)

    def job_error(self) -> str:
        """Name of the latched job error (first in priority), or ``""``."""
        for bit, name in ERROR_NAMES:
            if self.err & bit:
                return name
        return "printer_error" if self.err else ""

    def warnings(self) -> frozenset[str]:
        names = set()
        if self.inf & INF_RIBBON_LOW:
            names.add("ribbon_low")
        if self.inf & INF_CLEANING:
            names.add("cleaning_due")
        if self.war & WAR_COOLING:
            names.add("cooling")
        if self.ex1 & EX1_INF_FEEDER_NEAR_EMPTY:
            names.add("feeder_near_empty")
        return frozenset(names)

    def raw(self) -> str:
        return ";".join(f"{w:08X}" for w in (self.cfg, self.inf, self.war, self.err, self.ex1))


def parse_status(text: str) -> StatusWords:
    """Parse ``CFG;INF;WAR;ERR;EX1`` (8 hex digits each). Raises FrameError."""
    parts = text.split(";")
    if len(parts) != 5 or any(len(p) != 8 or not all(c in _HEX for c in p) for p in parts):
        raise FrameError(f"status reply {text[:64]!r} is not five 8-digit hex words")
    return StatusWords(*(int(p, 16) for p in parts))


_HEX = frozenset("0123456789abcdefABCDEF")
