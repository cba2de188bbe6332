"""Card printer (licence-type cards)."""
from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field

from ._base import DeviceBase, DeviceKind


class JobState(str, enum.Enum):
    QUEUED = "queued"
    PRINTING = "printing"
    ENCODING = "encoding"
    DONE = "done"            # card ejected / document printed
    FAILED = "failed"
    UNKNOWN = "unknown"      # link lost mid-job: reconcile before reprinting


@dataclass(frozen=True)
class CardJob:
    """Front (and optional back) panel images, 1-bit or greyscale PNG/raw,
    plus optional magnetic track data. ``job_id`` is chosen by the caller."""

    job_id: str
    front_k: bytes
    back_k: bytes = b""
    mag_tracks: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PrintResult:
    job_id: str
    state: JobState
    error: str = ""


@dataclass(frozen=True)
class PrinterStatus:
    ready: bool
    warnings: frozenset[str] = field(default_factory=frozenset)   # ribbon_low, feeder_near_empty…
    errors: frozenset[str] = field(default_factory=frozenset)     # ribbon_out, feeder_empty, jam, cover_open
    cards_printed: int | None = None


class CardPrinter(DeviceBase, abc.ABC):
    """Uniform card printer. Events: ``job_started``, ``job_done``, ``job_failed``,
    ``job_unknown`` (link lost mid-job), ``ribbon_low``, ``feeder_empty``."""

    kind = DeviceKind.CARD_PRINTER

    @abc.abstractmethod
    async def print_card(self, job: CardJob, *, timeout: float | None = None) -> PrintResult:
        """Print one card. A printer error ends the job as FAILED with the
        printer's code in ``error`` (no exception); link loss after the job was
        sent returns UNKNOWN (reconcile before reprinting); before that it raises
        :class:`~examhw.errors.DeviceUnavailable`."""

    @abc.abstractmethod
    async def status(self) -> PrinterStatus:
        """Printer status (ribbon, feeder, cover, jam)."""
