"""Document (score-sheet) printer."""
from __future__ import annotations

import abc
from dataclasses import dataclass, field

from ._base import DeviceBase, DeviceKind
from .card_printer import JobState


@dataclass(frozen=True)
class DocumentJobResult:
    """Outcome of a print: printer-side job id, final state, state reasons."""

    job_id: int
    state: JobState
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class DocumentPrinterStatus:
    state: str                    # "idle" | "processing" | "stopped"
    reasons: frozenset[str] = field(default_factory=frozenset)   # media-empty, media-jam…

    @property
    def ready(self) -> bool:
        return self.state != "stopped"


class DocumentPrinter(DeviceBase, abc.ABC):
    """Uniform document printer. Events: ``job_done``, ``job_failed``, ``paper_out``."""

    kind = DeviceKind.DOCUMENT_PRINTER

    @abc.abstractmethod
    async def print_pdf(self, pdf: bytes, *, title: str, timeout: float | None = None) -> DocumentJobResult:
        """Send ``pdf`` and wait (real s) until the printer completes or aborts it."""

    @abc.abstractmethod
    async def status(self) -> DocumentPrinterStatus:
        """Printer state and state reasons."""
