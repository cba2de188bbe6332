"""Roster (booked candidates) and blacklist, downloaded before check-in (R-OPS-ROSTER)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Candidate:
    """A booked candidate. ``name_latin`` is what the score sheet prints."""

    candidate_id: str
    name: str
    name_latin: str
    id_number: str
    sex: str
    birth_date: date
    needs_accessible_seat: bool = False


@dataclass(frozen=True)
class BlacklistEntry:
    id_number: str
    reason: str
    until: date


@dataclass
class Roster:
    """Appointments of one session plus the booking blacklist."""

    session_id: str
    exam_date: date
    candidates: list[Candidate]
    blacklist: dict[str, BlacklistEntry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_number = {c.id_number.upper(): c for c in self.candidates}

    def booking_for(self, id_number: str) -> Candidate | None:
        """The appointment for this ID number, or ``None`` (walk-in)."""
        return self._by_number.get(id_number.upper())

    def blocked(self, id_number: str, on: date) -> BlacklistEntry | None:
        entry = self.blacklist.get(id_number.upper())
        return entry if entry is not None and on <= entry.until else None
