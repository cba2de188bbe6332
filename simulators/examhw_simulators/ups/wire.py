"""Server-side codec of the NUT network protocol (docs/protocols/nut.md §1).

Written independently of the driver's codec. Pure code: request lines in,
reply bytes out.
"""
from __future__ import annotations

#: request lines longer than this (bytes, without LF) are dropped
MAX_REQUEST = 64 * 1024


class BadRequest(ValueError):
    """A request line that cannot be split into words (unterminated quote,
    lone trailing backslash). The server answers ``ERR INVALID-ARGUMENT``."""


class LineSplitter:
    """Cuts the byte stream from a client into request lines.

    ``feed(bytes)`` returns complete lines (LF removed, one trailing CR
    removed, decoded as UTF-8 with Latin-1 fallback). An over-long line is
    returned as ``None`` once, and its remaining bytes are skipped up to the LF.
    """

    def __init__(self, limit: int = MAX_REQUEST) -> None:
        self.limit = limit
        self._pending = bytearray()
        self._discarding = False

    def feed(self, data: bytes) -> list[str | None]:
        out: list[str | None] = []
        self._pending.extend(data)
        while True:
            at = self._pending.find(b"\n")
            if at < 0:
                if len(self._pending) > self.limit:
                    if not self._discarding:
                        out.append(None)
                    self._discarding = True
                    self._pending.clear()
                return out
            chunk = bytes(self._pending[:at])
            del self._pending[:at + 1]
            if self._discarding:
                self._discarding = False
                continue
            if len(chunk) > self.limit:
                out.append(None)
                continue
            if chunk[-1:] == b"\r":
                chunk = chunk[:-1]
            try:
                out.append(chunk.decode("utf-8"))
            except UnicodeDecodeError:
                out.append(chunk.decode("latin-1"))


def words_of(line: str) -> list[str]:
    """Split a request line: blanks separate words, double quotes group,
    backslash escapes. Raises :class:`BadRequest`."""
    result: list[str] = []
    token = ""
    started = False
    in_q = False
    escaped = False
    for ch in line:
        if escaped:
            token += ch
            started = True
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_q:
            if ch == '"':
                in_q = False
            else:
                token += ch
        elif ch == '"':
            in_q = True
            started = True
        elif ch in (" ", "\t"):
            if started:
                result.append(token)
                token = ""
                started = False
        else:
            token += ch
            started = True
    if escaped or in_q:
        raise BadRequest("unterminated quote or escape")
    if started:
        result.append(token)
    return result


def q(text: str) -> str:
    """A value/description as sent by upsd: quoted, ``\\`` and ``"`` escaped."""
    escaped = "".join("\\" + c if c in '"\\' else c for c in text)
    return f'"{escaped}"'


def line(*parts: str) -> bytes:
    """Join already-formatted parts into one reply line."""
    return (" ".join(parts) + "\n").encode("utf-8")


def err(token: str) -> bytes:
    return line("ERR", token)


def block(query: list[str], items: list[bytes]) -> bytes:
    """A whole ``BEGIN LIST``…``END LIST`` reply."""
    head = " ".join(query)
    return b"".join([line("BEGIN LIST", head), *items, line("END LIST", head)])
