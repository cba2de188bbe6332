"""ID card reader: reads a China resident ID card (and J / I / Y cards)."""
from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field
from datetime import date
from typing import Mapping

from ._base import DeviceBase, DeviceKind


class CardType(str, enum.Enum):
    RESIDENT = "resident"            # 居民身份证
    HMT_PERMIT = "J"                 # 港澳台居民居住证
    FOREIGNER_2017 = "I"             # 外国人永久居留身份证 (2017)
    FOREIGNER_2023 = "Y"             # 外国人永久居留身份证 (2023)


@dataclass(frozen=True)
class IdentityCard:
    """Machine-readable content of an ID card.

    ``valid_to`` is ``None`` for long-term (长期) cards. ``photo`` is the raw
    1024-byte photo block exactly as read (vendor WLT format on real cards);
    use ``examhw.face.idphoto.decode_id_photo(card.photo, registry.photo_decoders.values())``
    to turn it into an image.
    ``id_number_valid`` tells whether the GB 11643 check digit verified
    (always ``False`` for 2017 foreigner cards "I", whose 15-character number
    has another rule).
    """

    name: str
    sex: str                 # GB/T 2261.1 code: "0" unknown, "1" male, "2" female, "9" not stated
    nation: str              # GB 3304 code "01".."56", "97", "98" ("" on I/J cards)
    birth_date: date
    address: str
    id_number: str
    authority: str
    valid_from: date
    valid_to: date | None
    card_type: CardType
    photo: bytes
    id_number_valid: bool
    fingerprint: bytes = b""
    english_name: str = ""
    nationality: str = ""
    #: type-specific items with no uniform field (J: pass_number, issue_count;
    #: I: card_version; Y: renewal_count, previous_number)
    extras: Mapping[str, str] = field(default_factory=dict)
    #: names of fields that disagree with each other (e.g. ``birth_date`` vs the
    #: ID number); never the values
    warnings: tuple[str, ...] = ()

    @property
    def sex_name(self) -> str:
        return {"0": "unknown", "1": "male", "2": "female", "9": "not stated"}.get(self.sex, "invalid")

    def is_valid_on(self, day: date) -> bool:
        """True when ``day`` is inside the card's validity period."""
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class IdCardReader(DeviceBase, abc.ABC):
    """Uniform ID card reader.

    Events: ``card_presented``, ``card_removed``, ``read_failed``.
    Errors: :class:`~examhw.errors.NoCard` when no card arrives in time,
    :class:`~examhw.errors.DeviceFault` with the reader's status code for
    authentication/read failures, :class:`~examhw.errors.ProtocolError` for
    bad frames.
    """

    kind = DeviceKind.ID_READER

    @abc.abstractmethod
    async def read_card(self, *, timeout: float | None = None) -> IdentityCard:
        """Wait up to ``timeout`` s (real) for a card, then read it fully.
        Raises :class:`~examhw.errors.NoCard` if none is presented."""
