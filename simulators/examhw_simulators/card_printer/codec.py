"""Printer-side parser of the Evolis escape-command stream.

Written from docs/protocols/evolis-escape.md, independently of the driver.
:class:`CommandParser` is incremental and never raises: it yields
:class:`Command` items and :class:`Malformed` items (each holding a
:class:`~examhw.errors.FrameError`), skips noise and resynchronises on ESC.
``Db`` / ``Dbc`` payloads are read by length, so binary bytes equal to ESC
or CR never end a command early.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from examhw.errors import FrameError

ESC = 0x1B
CR = 0x0D
LF = 0x0A
NUL = 0x00

LINE_DOTS = 648
LINES = 1016
LINE_BYTES = LINE_DOTS // 8
MAX_TEXT = 1024

#: bits per dot for each ``levels`` value of ``Db``
BITS_PER_LEVELS = {2: 1, 32: 5, 64: 6, 128: 7}
MONO_PANELS = ("k", "o")
COLOUR_PANELS = ("y", "m", "c")

_NAME = re.compile(rb"[A-Za-z]{1,4}")


def db_payload_length(panel: str, levels: str) -> int:
    """Payload bytes of ``Db;<panel>;<levels>;`` or raise FrameError."""
    if not (levels.isascii() and levels.isdigit()) or int(levels) not in BITS_PER_LEVELS:
        raise FrameError(f"Db levels {levels!r} not one of 2/32/64/128")
    lv = int(levels)
    if panel in MONO_PANELS and lv != 2:
        raise FrameError(f"panel {panel} only takes 2 levels")
    if panel not in MONO_PANELS + COLOUR_PANELS:
        raise FrameError(f"unknown panel {panel!r}")
    return LINE_DOTS * LINES * BITS_PER_LEVELS[lv] // 8


@dataclass(frozen=True)
class Command:
    """One command: ``name``, text ``params`` and the binary ``payload``
    (``Db``/``Dbc`` only)."""

    name: str
    params: tuple[str, ...] = ()
    payload: bytes | None = None


@dataclass(frozen=True)
class Malformed:
    """Bytes that did not form a valid command."""

    error: FrameError
    raw: bytes = field(default=b"", repr=False)


class CommandParser:
    """Incremental ESC…CR parser (see module docstring)."""

    _IDLE, _TEXT, _BINARY, _AFTER_BINARY = range(4)

    def __init__(self) -> None:
        self.reset()
        self.noise_bytes = 0

    def reset(self) -> None:
        self._state = self._IDLE
        self._text = bytearray()
        self._payload = bytearray()
        self._need = 0
        self._after_cr = True

    def feed(self, data: bytes) -> list[Command | Malformed]:
        out: list[Command | Malformed] = []
        i, n = 0, len(data)
        while i < n:
            if self._state == self._BINARY:
                take = min(self._need, n - i)
                self._payload += data[i:i + take]
                self._need -= take
                i += take
                if self._need == 0:
                    self._state = self._AFTER_BINARY
                continue
            b = data[i]
            i += 1
            if self._state == self._IDLE:
                if b == ESC:
                    self._begin()
                elif b == CR:
                    self._after_cr = True
                elif b in (NUL, LF):
                    pass
                elif self._after_cr and (0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A):
                    self._begin()
                    self._text.append(b)      # ESC may be omitted right after a CR
                else:
                    self.noise_bytes += 1
                    self._after_cr = False
            elif self._state == self._TEXT:
                if b == CR:
                    out.append(self._finish_text())
                    self._state = self._IDLE
                    self._after_cr = True
                elif b == ESC:
                    out.append(Malformed(FrameError("ESC inside a command"), bytes(self._text)))
                    self._begin()
                else:
                    self._text.append(b)
                    if len(self._text) > MAX_TEXT:
                        out.append(Malformed(FrameError(f"command longer than {MAX_TEXT} bytes"),
                                             bytes(self._text[:64])))
                        self._state = self._IDLE
                        self._after_cr = False
                    elif b == 0x3B:               # ';' may open a binary payload
                        bad = self._maybe_binary()
                        if bad is not None:
                            out.append(bad)
                            self._state = self._IDLE
                            self._after_cr = False
            else:  # _AFTER_BINARY
                if b == CR:
                    out.append(self._finish_binary())
                    self._state = self._IDLE
                    self._after_cr = True
                else:
                    out.append(Malformed(FrameError("panel payload not followed by CR (bad length)"),
                                         bytes(self._text)))
                    self._state = self._IDLE
                    self._after_cr = False
                    i -= 1                        # re-examine this byte as a possible ESC
        return out

    # -- internals -------------------------------------------------------------
    def _begin(self) -> None:
        self._state = self._TEXT
        self._text = bytearray()
        self._payload = bytearray()

    def _maybe_binary(self) -> Malformed | None:
        fields = bytes(self._text).split(b";")
        name = fields[0]
        try:
            if name == b"Db" and len(fields) == 4:
                self._need = db_payload_length(fields[1].decode("ascii", "replace"),
                                               fields[2].decode("ascii", "replace"))
            elif name == b"Dbc" and len(fields) == 5:
                db_payload_length(fields[1].decode("ascii", "replace"), fields[2].decode("ascii", "replace"))
                count = fields[3].decode("ascii", "replace")
                if not (count.isascii() and count.isdigit()) or not 0 < int(count) <= LINES * (LINE_BYTES + 1) * 8:
                    raise FrameError(f"Dbc byte count {count!r} invalid")
                self._need = int(count)
            else:
                return None
        except FrameError as exc:
            return Malformed(exc, bytes(self._text))
        self._state = self._BINARY
        return None

    def _finish_text(self) -> Command | Malformed:
        raw = bytes(self._text)
        fields = raw.split(b";")
        if not _NAME.fullmatch(fields[0]):
            return Malformed(FrameError(f"bad command name {fields[0][:16]!r}"), raw)
        if any(c < 0x20 or c > 0x7E for c in raw):
            return Malformed(FrameError("non-printable byte in command"), raw)
        name = fields[0].decode("ascii")
        if name in ("Db", "Dbc"):
            return Malformed(FrameError(f"{name} without payload"), raw)
        return Command(name, tuple(f.decode("ascii") for f in fields[1:]))

    def _finish_binary(self) -> Command:
        fields = bytes(self._text).split(b";")[:-1]
        return Command(fields[0].decode("ascii"), tuple(f.decode("ascii", "replace") for f in fields[1:]),
                       bytes(self._payload))


def reply(text: str) -> bytes:
    """One reply line: ASCII text + CR."""
    return text.encode("ascii", "replace") + b"\r"


def decompress_mono(data: bytes) -> bytes:
    """Expand ``Dbc`` K/O line coding into 1016 × 81 bytes.
    Raises FrameError on a truncated or over-long stream."""
    out = bytearray()
    i = 0
    while i < len(data):
        first = data[i]
        i += 1
        if first == 0x00:
            out += bytes(LINE_BYTES)
        elif first == 0xFF:
            out += b"\xff" * LINE_BYTES
        elif first <= LINE_BYTES:
            chunk = data[i:i + first]
            if len(chunk) != first:
                raise FrameError("compressed line truncated")
            out += chunk + bytes(LINE_BYTES - first)
            i += first
        else:
            raise FrameError(f"compressed line length {first} > {LINE_BYTES}")
        if len(out) > LINES * LINE_BYTES:
            raise FrameError("compressed panel has more than 1016 lines")
    return bytes(out) + bytes(LINES * LINE_BYTES - len(out))
