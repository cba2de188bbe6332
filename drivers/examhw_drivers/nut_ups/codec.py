"""Client-side codec of the NUT network protocol (docs/protocols/nut.md).

Pure code: no I/O. :class:`ReplyDecoder` turns the bytes a ``upsd`` sends into
typed replies (single lines, whole ``BEGIN LIST``…``END LIST`` blocks, ``ERR``
lines). :func:`encode_command` builds one request line. :func:`split_words`
and :func:`quote` implement the quoting rules (§1.1).
"""
from __future__ import annotations

from dataclasses import dataclass

from examhw.errors import FrameError

#: longest reply line accepted without an LF (bytes); longer → FrameError + resync.
MAX_LINE = 64 * 1024
#: most items one LIST may hold (real lists hold a few hundred) and most bytes of its lines
MAX_LIST_ITEMS = 20_000
MAX_LIST_BYTES = 1 << 20


# ---------------------------------------------------------------------------
# words and quoting

def split_words(line: str) -> list[str]:
    """Split one line into words (§1.1): blanks separate, ``"…"`` groups,
    a backslash escapes the next character. Raises :class:`FrameError` on an
    unterminated quote or a trailing lone backslash."""
    words: list[str] = []
    cur: list[str] = []
    in_word = False
    in_quote = False
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if ch == "\\":
            if i + 1 >= n:
                raise FrameError(f"NUT line ends in a lone backslash: {line[:80]!r}")
            cur.append(line[i + 1])
            in_word = True
            i += 2
            continue
        if in_quote:
            if ch == '"':
                in_quote = False
            else:
                cur.append(ch)
        elif ch == '"':
            in_quote = True
            in_word = True
        elif ch in " \t":
            if in_word:
                words.append("".join(cur))
                cur.clear()
                in_word = False
        else:
            cur.append(ch)
            in_word = True
        i += 1
    if in_quote:
        raise FrameError(f"NUT line has an unterminated quote: {line[:80]!r}")
    if in_word:
        words.append("".join(cur))
    return words


def quote(value: str) -> str:
    """``value`` in double quotes with ``\\`` and ``"`` escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _needs_quotes(word: str) -> bool:
    return word == "" or any(c in word for c in ' \t"\\')


def encode_command(*words: str) -> bytes:
    """One request line (LF-terminated). Words are quoted only when needed.
    Raises :class:`FrameError` if a word holds CR, LF or NUL."""
    if not words:
        raise FrameError("empty NUT command")
    for w in words:
        if any(c in w for c in "\r\n\0"):
            raise FrameError("NUT command word holds CR, LF or NUL")
    text = " ".join(quote(w) if _needs_quotes(w) else w for w in words)
    return (text + "\n").encode("utf-8")


# ---------------------------------------------------------------------------
# typed replies

@dataclass(frozen=True)
class ErrReply:
    """``ERR <token> [extra]``."""
    token: str
    extra: str = ""


@dataclass(frozen=True)
class OkReply:
    """``OK`` or ``OK <text>`` (e.g. ``OK Goodbye``)."""
    text: str = ""


@dataclass(frozen=True)
class VarReply:
    """``VAR <ups> <var> "<value>"``."""
    ups: str
    name: str
    value: str


@dataclass(frozen=True)
class TypeReply:
    """``TYPE <ups> <var> <type words…>``."""
    ups: str
    name: str
    types: tuple[str, ...]


@dataclass(frozen=True)
class DescReply:
    """``DESC``/``UPSDESC``/``CMDDESC`` replies: ``kind`` is the keyword,
    ``args`` the names between it and the quoted text."""
    kind: str
    args: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class NumLoginsReply:
    """``NUMLOGINS <ups> <n>``."""
    ups: str
    count: int


@dataclass(frozen=True)
class TextReply:
    """A free-text line (replies to ``VER``, ``NETVER``, ``HELP``)."""
    text: str


@dataclass(frozen=True)
class ListReply:
    """A whole ``BEGIN LIST <query>`` … ``END LIST <query>`` block; ``items``
    holds the words of each item line."""
    query: tuple[str, ...]
    items: tuple[tuple[str, ...], ...]

    @property
    def kind(self) -> str:
        return self.query[0] if self.query else ""

    def vars(self) -> dict[str, str]:
        """``LIST VAR``/``LIST RW`` items as ``{name: value}``."""
        return {it[2]: it[3] for it in self.items}

    def names(self) -> list[str]:
        """The name column (UPS names for ``LIST UPS``, commands for ``LIST CMD``)."""
        return [it[1] if self.kind == "UPS" else it[2] for it in self.items]


Reply = ErrReply | OkReply | VarReply | TypeReply | DescReply | NumLoginsReply | TextReply | ListReply

# item word → minimum/maximum word count of an item line
_ITEM_SHAPE: dict[str, tuple[int, int]] = {
    "UPS": (3, 3), "VAR": (4, 4), "RW": (4, 4), "CMD": (3, 3), "ENUM": (4, 4),
    "RANGE": (5, 5), "CLIENT": (3, 3),
}


def _check_chars(line: str) -> None:
    for ch in line:
        if ch < " " and ch != "\t":
            raise FrameError(f"NUT reply holds control byte 0x{ord(ch):02x}: {line[:80]!r}")
        if ch == "\x7f":
            raise FrameError(f"NUT reply holds DEL: {line[:80]!r}")


def parse_line(line: str) -> Reply:
    """Type one complete single-line reply (no LF). Raises :class:`FrameError`
    when a known keyword has the wrong shape. List framing lines are not
    accepted here (see :class:`ReplyDecoder`)."""
    _check_chars(line)
    head = line.split(" ", 1)[0]
    if head == "ERR":
        parts = line.split(None, 2)
        if len(parts) < 2:
            raise FrameError("NUT ERR line without a token")
        return ErrReply(parts[1], parts[2] if len(parts) > 2 else "")
    if head == "OK":
        return OkReply(line[2:].strip())
    if head == "VAR":
        w = split_words(line)
        if len(w) != 4:
            raise FrameError(f"NUT VAR reply has {len(w)} words, expected 4: {line[:80]!r}")
        return VarReply(w[1], w[2], w[3])
    if head == "TYPE":
        w = split_words(line)
        if len(w) < 4:
            raise FrameError(f"NUT TYPE reply too short: {line[:80]!r}")
        return TypeReply(w[1], w[2], tuple(w[3:]))
    if head in ("DESC", "CMDDESC", "UPSDESC"):
        w = split_words(line)
        want = 3 if head == "UPSDESC" else 4
        if len(w) != want:
            raise FrameError(f"NUT {head} reply has {len(w)} words, expected {want}: {line[:80]!r}")
        return DescReply(head, tuple(w[1:-1]), w[-1])
    if head == "NUMLOGINS":
        w = split_words(line)
        if len(w) != 3 or not (w[2].isascii() and w[2].isdigit()):
            raise FrameError(f"bad NUT NUMLOGINS reply: {line[:80]!r}")
        return NumLoginsReply(w[1], int(w[2]))
    if head in ("BEGIN", "END"):
        raise FrameError(f"NUT list framing line out of place: {line[:80]!r}")
    return TextReply(line)


def _decode_text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class ReplyDecoder:
    """Incremental decoder: ``feed(bytes) -> list[Reply]``.

    Keeps partial lines and open lists between calls. A malformed line raises
    :class:`FrameError` (a :class:`~examhw.errors.ProtocolError`); the bad
    line and any list open at that moment are dropped, replies decoded
    before it in the same chunk are returned by the next :meth:`feed` call,
    and decoding resumes at the next line (resync). A list longer than
    ``max_items`` items or ``max_list_bytes`` bytes of lines raises
    :class:`FrameError`; its remaining lines are skipped up to its ``END LIST``.
    """

    def __init__(self, max_line: int = MAX_LINE, max_items: int = MAX_LIST_ITEMS,
                 max_list_bytes: int = MAX_LIST_BYTES) -> None:
        self.max_line = max_line
        self.max_items = max_items
        self.max_list_bytes = max_list_bytes
        self.reset()

    def reset(self) -> None:
        """Forget partial input, open lists and undelivered replies."""
        self._buf = bytearray()
        self._skip_to_lf = False
        self._open: tuple[str, ...] | None = None
        self._items: list[tuple[str, ...]] = []
        self._list_bytes = 0
        self._skip_list = False       # an over-long list was dropped: skip to its END LIST
        self._ready: list[Reply] = []

    @property
    def in_list(self) -> bool:
        """True while a ``BEGIN LIST`` awaits its ``END LIST``."""
        return self._open is not None

    def feed(self, data: bytes) -> list[Reply]:
        self._buf += data
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > self.max_line:
                    self._buf.clear()
                    self._skip_to_lf = True
                    self._abort_list()
                    raise FrameError(f"NUT reply line longer than {self.max_line} bytes")
                break
            raw = bytes(self._buf[:nl])
            del self._buf[:nl + 1]
            if self._skip_to_lf:          # tail of an over-long line
                self._skip_to_lf = False
                continue
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            try:
                self._line(_decode_text(raw))
            except FrameError:
                self._abort_list()
                raise
        out, self._ready = self._ready, []
        return out

    def _abort_list(self) -> None:
        self._open = None
        self._items = []
        self._list_bytes = 0

    def _line(self, line: str) -> None:
        if self._skip_list:
            if line.startswith("END LIST"):
                self._skip_list = False
            return
        if self._open is not None:
            self._list_line(line)
            return
        if line.startswith("BEGIN LIST"):
            _check_chars(line)
            w = split_words(line)
            if len(w) < 3 or w[1] != "LIST":
                raise FrameError(f"bad NUT BEGIN line: {line[:80]!r}")
            self._open = tuple(w[2:])
            self._items = []
            self._list_bytes = 0
            return
        self._ready.append(parse_line(line))

    def _list_line(self, line: str) -> None:
        _check_chars(line)
        w = split_words(line)
        assert self._open is not None
        if len(w) >= 2 and w[0] == "END" and w[1] == "LIST":
            if tuple(w[2:]) != self._open:
                raise FrameError(f"NUT END LIST {' '.join(w[2:])!r} does not close "
                                 f"BEGIN LIST {' '.join(self._open)!r}")
            self._ready.append(ListReply(self._open, tuple(self._items)))
            self._abort_list()
            return
        kind = self._open[0]
        if not w or w[0] != kind:
            raise FrameError(f"unexpected line inside NUT LIST {kind}: {line[:80]!r}")
        lo, hi = _ITEM_SHAPE.get(kind, (2, 64))
        if not lo <= len(w) <= hi:
            raise FrameError(f"NUT {kind} item has {len(w)} words: {line[:80]!r}")
        self._list_bytes += len(line) + 1
        if len(self._items) >= self.max_items or self._list_bytes > self.max_list_bytes:
            self._skip_list = True
            raise FrameError(f"NUT LIST {kind} longer than {self.max_items} items or "
                             f"{self.max_list_bytes} bytes: dropped up to its END LIST")
        self._items.append(tuple(w))
