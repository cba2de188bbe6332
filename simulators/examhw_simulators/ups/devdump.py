"""Parser of NUT DDL ``.dev`` dumps (``upsc`` output; docs/protocols/nut.md §7).

Values are read the way NUT's ``dummy-ups`` reads them: words separated by
blanks are joined by single spaces, double quotes group and are removed, a
backslash escapes the next character and ``#`` outside quotes starts a comment
(so ``#BAD: …`` / ``#COMMENT: …`` tails vanish). Empty values are ``""``.
``#RW:`` and ``#CMD:`` comments are kept as metadata.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class RwSpec:
    """A writable variable from ``#RW:<var>:<TYPE>[:<arg>]`` lines."""

    name: str
    type: str                       # "STRING", "ENUM", "RANGE", … (as written)
    maxlen: int | None = None       # STRING:<maxlen>
    values: tuple[str, ...] = ()    # ENUM values, in file order


@dataclass(frozen=True)
class DevDump:
    """One parsed dump. ``vars`` keeps file order; the last line for a name wins."""

    name: str
    vars: dict[str, str]
    rw: dict[str, RwSpec] = field(default_factory=dict)
    commands: tuple[str, ...] = ()
    #: report URLs from ``# DEVICE:URL:REPORT:`` lines
    reports: tuple[str, ...] = ()
    #: (line number, text) of data lines that could not be read
    skipped: tuple[tuple[int, str], ...] = ()


def split_value_words(text: str) -> list[str]:
    """dummy-ups style word split of one data line (see module doc). An
    unterminated quote ends at the line end."""
    words: list[str] = []
    cur: list[str] = []
    have = False
    quoted = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur.append(text[i + 1])
            have = True
            i += 2
            continue
        if quoted:
            if ch == '"':
                quoted = False
            else:
                cur.append(ch)
        elif ch == '"':
            quoted = True
            have = True
        elif ch == "#":
            break
        elif ch.isspace():
            if have:
                words.append("".join(cur))
                cur = []
                have = False
        else:
            cur.append(ch)
            have = True
        i += 1
    if have:
        words.append("".join(cur))
    return words


def _meta(line: str, rw: dict[str, RwSpec], cmds: list[str], reports: list[str]) -> None:
    body = line.lstrip("#").strip()
    if line.startswith("#RW:"):
        parts = line[4:].strip().split(":", 2)
        if len(parts) < 2 or not parts[0]:
            return
        name, typ = parts[0], parts[1].strip()
        arg = parts[2].strip() if len(parts) > 2 else ""
        old = rw.get(name)
        if typ == "ENUM":
            value = arg[1:-1] if len(arg) >= 2 and arg[0] == arg[-1] == '"' else arg
            values = (old.values if old else ()) + (value,)
            rw[name] = RwSpec(name, "ENUM", None, values)
        else:
            maxlen = int(arg) if arg.isascii() and arg.isdigit() else None
            rw[name] = RwSpec(name, typ, maxlen, old.values if old else ())
    elif line.startswith("#CMD:"):
        cmd = line[5:].strip()
        if cmd and cmd not in cmds:
            cmds.append(cmd)
    elif body.startswith("DEVICE:URL:REPORT:"):
        url = body[len("DEVICE:URL:REPORT:"):].strip()
        if url:
            reports.append(url)


def parse_dump(text: str, name: str = "") -> DevDump:
    """Parse the text of a ``.dev`` file (never raises on odd lines; they go
    to :attr:`DevDump.skipped`)."""
    vars: dict[str, str] = {}
    rw: dict[str, RwSpec] = {}
    cmds: list[str] = []
    reports: list[str] = []
    skipped: list[tuple[int, str]] = []
    for no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            _meta(line, rw, cmds, reports)
            continue
        words = split_value_words(line)
        if not words:
            continue                      # e.g. a line holding only a quoted empty string
        key = words[0]
        if not key.endswith(":") or len(key) < 2:
            skipped.append((no, raw))
            continue
        vars[key[:-1]] = " ".join(words[1:])
    return DevDump(name=name, vars=vars, rw=rw, commands=tuple(cmds), reports=tuple(reports),
                   skipped=tuple(skipped))


def decode_dump_bytes(data: bytes) -> str:
    """UTF-8, or Latin-1 when that fails (device strings are not always UTF-8)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def load_dump(path: Path | str) -> DevDump:
    """Read and parse a ``.dev`` file. Raises ``OSError`` if unreadable."""
    p = Path(path)
    return parse_dump(decode_dump_bytes(p.read_bytes()), name=p.name)
