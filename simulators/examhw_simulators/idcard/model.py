"""State of a simulated SAM card reader: the card on it, the find/select/read state
machine, injected statuses, and the replies to each request.

Pure (no I/O): :meth:`IdCardModel.handle` takes one parsed request (or a parse error)
and returns the reply bytes. Protocol: docs/protocols/sam-serial.md §3–§5, §9.
"""
from __future__ import annotations

import collections
import enum
import struct
from dataclasses import dataclass
from datetime import date
from typing import Any, Mapping

from examhw.errors import ChecksumError, FrameError
from examhw.sim import SimModel, action

from .codec import RawFrame, SamRequest, as_request, build_reply
from .photo import lcg_bytes, make_photo_block

CARD_TYPES = ("resident", "J", "I", "Y")
FINGERPRINT_SIZES = (0, 512, 1024)
LONG_TERM = "长期"

# SW3 codes the simulator sends
OK, NO_CONTENT, FOUND = 0x90, 0x91, 0x9F
BAD_CHECKSUM, BAD_LENGTH, BAD_COMMAND = 0x10, 0x11, 0x21
READ_FAILED, NO_CARD, SELECT_FAILED = 0x41, 0x80, 0x81

#: default SAM number: u16 5, u16 1, u32 20200101, u32 123456, u32 987654321 (LE)
DEFAULT_SAM_NUMBER = struct.pack("<HHIII", 5, 1, 20200101, 123456, 987654321)

#: which request an injected status replaces by default
_STATUS_TARGET = {0x80: "find", 0x81: "select", 0x41: "read", 0x47: "read", 0x31: "read",
                  0x32: "read", 0x33: "read", 0x40: "read"}
#: expected DATA length of each known command
_DATA_LEN = {0x10: 0, 0x11: 0, 0x12: 0, 0x20: 0, 0x30: 0, 0x60: 0, 0x61: 1}


def synthetic_fingerprint(size: int) -> bytes:
    """Filler fingerprint data of ``size`` bytes (LCG seed 2, as in the test vectors)."""
    return lcg_bytes(2, size)


@dataclass
class SimCard:
    """A card to put on the simulated reader.

    ``valid_to=None`` means long-term (长期). ``card_type`` is ``"resident"``, ``"J"``
    (HK/Macau/Taiwan permit: ``pass_number``, ``issue_count``), ``"I"`` (2017 foreigner
    card: ``english_name``, ``nationality``, ``card_version``; ``authority`` is the
    4-character authority code; ``name`` the Chinese name) or ``"Y"`` (2023 foreigner
    card: ``english_name`` up to 46 chars, ``nationality``, ``renewal_count``,
    ``previous_number``). ``face_image`` is an encoded image (PNG/JPEG) or ``None`` for a
    synthetic WLT photo; ``fingerprint`` is 0, 512 or 1024 bytes.
    """

    name: str
    sex: str
    nation: str
    birth: date
    address: str
    id_number: str
    authority: str
    valid_from: date
    valid_to: date | None
    card_type: str = "resident"
    face_image: bytes | None = None
    fingerprint: bytes = b""
    appended_address: str | None = None
    pass_number: str = ""
    issue_count: str = ""
    english_name: str = ""
    nationality: str = ""
    card_version: str = ""
    renewal_count: str = ""
    previous_number: str = ""

    def __post_init__(self) -> None:
        if self.card_type not in CARD_TYPES:
            raise ValueError(f"card_type must be one of {CARD_TYPES}")
        if len(self.fingerprint) not in FINGERPRINT_SIZES:
            raise ValueError(f"fingerprint must be {FINGERPRINT_SIZES} bytes long")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SimCard":
        """Build from JSON-like data (dates as ``YYYY-MM-DD``/``YYYYMMDD``, ``valid_to``
        ``None`` or ``"长期"`` for long-term)."""
        values = dict(data)
        for key in ("birth", "valid_from", "valid_to"):
            raw = values.get(key)
            if isinstance(raw, str):
                values[key] = None if raw == LONG_TERM else _parse_day(raw)
        return cls(**values)


def _parse_day(text: str) -> date:
    digits = text.replace("-", "")
    return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))


def encode_text(card: SimCard) -> bytes:
    """The card's 256-byte UCS-2LE text block, fields padded with spaces.
    Raises ValueError when a field does not fit its slot."""
    block = bytearray(" ".encode("utf-16-le") * 128)

    def put(offset: int, size: int, value: str, what: str) -> None:
        raw = value.encode("utf-16-le")
        if len(raw) > size:
            raise ValueError(f"{what} is longer than {size // 2} characters")
        block[offset:offset + len(raw)] = raw

    def day(value: date | None) -> str:
        return LONG_TERM if value is None else value.strftime("%Y%m%d")

    kind = card.card_type
    if kind == "I":
        put(0, 120, card.english_name, "english_name")
        put(120, 2, card.sex, "sex")
        put(122, 30, card.id_number, "id_number")
        put(152, 6, card.nationality, "nationality")
        put(158, 30, card.name, "name")
        put(220, 16, day(card.birth), "birth")
        put(236, 4, card.card_version, "card_version")
        put(240, 8, card.authority, "authority")
    else:
        put(0, 30, card.name, "name")
        put(30, 2, card.sex, "sex")
        put(36, 16, day(card.birth), "birth")
        put(122, 36, card.id_number, "id_number")
        if kind == "Y":
            english = card.english_name
            if len(english) > 46:
                raise ValueError("english_name is longer than 46 characters")
            put(32, 4, card.renewal_count, "renewal_count")
            put(52, 70, english[:35], "english_name")
            put(220, 22, english[35:], "english_name")
            put(242, 6, card.nationality, "nationality")
            put(250, 6, card.previous_number, "previous_number")
        else:
            put(52, 70, card.address, "address")
            put(158, 30, card.authority, "authority")
            if kind == "J":
                put(220, 18, card.pass_number, "pass_number")
                put(238, 4, card.issue_count, "issue_count")
            else:
                put(32, 4, card.nation, "nation")
    put(188, 16, day(card.valid_from), "valid_from")
    put(204, 16, day(card.valid_to), "valid_to")
    if kind != "resident":
        put(248, 2, kind, "type flag")
    return bytes(block)


class CardState(str, enum.Enum):
    EMPTY = "empty"          # no card in the field
    PRESENT = "present"      # card in the field, not yet found
    FOUND = "found"          # find answered 9F
    SELECTED = "selected"    # select answered 90
    SPENT = "spent"          # read done; find answers 80 until the card is removed


@dataclass
class _Injection:
    sw3: int
    remaining: int
    target: str              # "find", "select", "read" or "any"


class IdCardModel(SimModel):
    """The simulated reader. Backdoor actions: ``present_card``, ``remove_card``,
    ``inject_status``."""

    def __init__(self, sam_number: bytes = DEFAULT_SAM_NUMBER) -> None:
        if len(sam_number) != 16:
            raise ValueError("sam_number must be 16 bytes")
        self.sam_number = sam_number
        self.state = CardState.EMPTY
        self.card: SimCard | None = None
        self.baud_code = 0
        self.requests = 0
        self.history: collections.deque[tuple[int, int, int]] = collections.deque(maxlen=200)
        self._injections: list[_Injection] = []
        self._text = b""
        self._photo = b""

    # -- backdoor actions -----------------------------------------------------------
    @action
    def present_card(self, card: SimCard | Mapping[str, Any]) -> None:
        """Put ``card`` on the reader (replacing any card there). Raises ValueError when
        a field does not fit or the face image cannot be encoded."""
        if not isinstance(card, SimCard):
            card = SimCard.from_dict(card)
        text = encode_text(card)
        photo = make_photo_block(card.face_image)
        self.card, self._text, self._photo = card, text, photo
        self.state = CardState.PRESENT

    @action
    def remove_card(self) -> None:
        """Take the card away (find answers 80)."""
        self.card = None
        self.state = CardState.EMPTY

    @action
    def inject_status(self, sw3: int, count: int = 1, command: str | None = None) -> None:
        """Answer the next ``count`` matching requests with bare status ``sw3`` (no side
        effect). ``command`` is ``"find"``, ``"select"``, ``"read"`` or ``"any"``; by
        default 80 → find, 81 → select, 41/47/31/32/33/40 → read, others → any request."""
        target = command or _STATUS_TARGET.get(sw3, "any")
        if target not in ("find", "select", "read", "any"):
            raise ValueError(f"unknown command class {command!r}")
        if not 0 <= sw3 <= 0xFF or count < 1:
            raise ValueError("sw3 must be a byte and count >= 1")
        self._injections.append(_Injection(sw3, count, target))

    def snapshot(self) -> dict[str, Any]:
        return {"state": self.state.value,
                "card_type": self.card.card_type if self.card else None,
                "pending_injections": [(i.sw3, i.remaining, i.target) for i in self._injections],
                "requests": self.requests}

    # -- protocol -------------------------------------------------------------------
    def handle(self, item: RawFrame | ChecksumError | FrameError) -> bytes:
        """The reply to one parsed request (or parse error)."""
        self.requests += 1
        if isinstance(item, ChecksumError):
            return self._reply(-1, -1, BAD_CHECKSUM)
        if isinstance(item, FrameError):
            return self._reply(-1, -1, BAD_LENGTH)
        if len(item.body) < 2:
            return self._reply(-1, -1, BAD_LENGTH)
        return self.handle_request(as_request(item))

    def handle_request(self, req: SamRequest) -> bytes:
        """The reply to a well-formed request."""
        cmd, para = req.cmd, req.para
        if cmd not in _DATA_LEN or not self._para_ok(cmd, para):
            return self._reply(cmd, para, BAD_COMMAND)
        if len(req.data) != _DATA_LEN[cmd]:
            return self._reply(cmd, para, BAD_LENGTH)
        injected = self._take_injection(self._class_of(cmd, para))
        if injected is not None:
            return self._reply(cmd, para, injected)
        if cmd == 0x10:
            if self.card is not None:
                self.state = CardState.PRESENT
            return self._reply(cmd, para, OK)
        if cmd == 0x11:
            return self._reply(cmd, para, OK)
        if cmd == 0x12:
            return self._reply(cmd, para, OK, self.sam_number)
        if cmd == 0x60:
            self.baud_code = para
            return self._reply(cmd, para, OK)
        if cmd == 0x61:
            return self._reply(cmd, para, OK)
        if cmd == 0x20 and para == 0x01:
            return self._find(cmd, para)
        if cmd == 0x20:
            return self._select(cmd, para)
        return self._read(cmd, para)

    def _find(self, cmd: int, para: int) -> bytes:
        if self.state in (CardState.EMPTY, CardState.SPENT):
            return self._reply(cmd, para, NO_CARD)
        self.state = CardState.FOUND
        return self._reply(cmd, para, FOUND, bytes(4))

    def _select(self, cmd: int, para: int) -> bytes:
        if self.state not in (CardState.FOUND, CardState.SELECTED):
            return self._reply(cmd, para, SELECT_FAILED)
        self.state = CardState.SELECTED
        return self._reply(cmd, para, OK, bytes(8))

    def _read(self, cmd: int, para: int) -> bytes:
        card = self.card
        if card is None or self.state not in (CardState.SELECTED, CardState.SPENT):
            return self._reply(cmd, para, READ_FAILED)
        if para == 0x03:
            if card.appended_address is None:
                return self._reply(cmd, para, NO_CONTENT)
            raw = card.appended_address.encode("utf-16-le")[:70]
            return self._reply(cmd, para, OK, raw + " ".encode("utf-16-le") * ((70 - len(raw)) // 2))
        if para == 0x01:
            data = struct.pack(">HH", len(self._text), len(self._photo)) + self._text + self._photo
        else:
            fp = card.fingerprint
            data = (struct.pack(">HHH", len(self._text), len(self._photo), len(fp))
                    + self._text + self._photo + fp)
        self.state = CardState.SPENT
        return self._reply(cmd, para, OK, data)

    # -- helpers --------------------------------------------------------------------
    @staticmethod
    def _para_ok(cmd: int, para: int) -> bool:
        if cmd in (0x10, 0x11, 0x12, 0x61):
            return para == 0xFF
        if cmd == 0x20:
            return para in (0x01, 0x02)
        if cmd == 0x30:
            return para in (0x01, 0x03, 0x10)
        if cmd == 0x60:
            return para <= 0x04
        return False

    @staticmethod
    def _class_of(cmd: int, para: int) -> str:
        if cmd == 0x20:
            return "find" if para == 0x01 else "select"
        if cmd == 0x30:
            return "read"
        return "other"

    def _take_injection(self, klass: str) -> int | None:
        for inj in self._injections:
            if inj.target == klass or inj.target == "any":
                inj.remaining -= 1
                if inj.remaining <= 0:
                    self._injections.remove(inj)
                return inj.sw3
        return None

    def _reply(self, cmd: int, para: int, sw3: int, data: bytes = b"") -> bytes:
        self.history.append((cmd, para, sw3))
        return build_reply(sw3, data)
