"""Behavioural model of an IPP document printer.

Time is the site clock, applied lazily by :meth:`DocPrinterModel.advance`
before every query or action: the printer works through its queue page by
page (``page_time_s`` site-seconds each, one sheet per page) unless it is
stopped by an ``-error`` reason (paper out, jam, cover open).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from examhw.clock import Clock
from examhw.sim.base import SimModel, action

PENDING, HELD, PROCESSING, PROCESSING_STOPPED, CANCELED, ABORTED, COMPLETED = 3, 4, 5, 6, 7, 8, 9
STATE_NAMES = {3: "pending", 4: "pending-held", 5: "processing", 6: "processing-stopped",
               7: "canceled", 8: "aborted", 9: "completed"}
IDLE, BUSY, STOPPED = 3, 4, 5
LOW_PAPER = 10

_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def count_pages(pdf: bytes) -> int:
    """Number of ``/Type /Page`` objects (at least 1)."""
    return max(1, len(_PAGE.findall(pdf)))


@dataclass
class PrintedJob:
    """One job the printer received. ``document`` holds the exact bytes."""

    id: int
    title: str
    document: bytes
    user: str
    format: str
    created_at: float
    pages: int
    state: int = PENDING
    pages_done: int = 0
    page_progress: float = 0.0        # site seconds spent on the current page
    finished_at: float | None = None
    processing_at: float | None = None
    extra_reasons: list[str] = field(default_factory=list)

    @property
    def state_name(self) -> str:
        return STATE_NAMES[self.state]

    @property
    def done(self) -> bool:
        return self.state in (CANCELED, ABORTED, COMPLETED)

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "state": self.state_name, "pages": self.pages,
                "pages_done": self.pages_done, "bytes": len(self.document)}


class DocPrinterModel(SimModel):
    """Queue, paper tray and error reasons of a simulated A4 printer."""

    def __init__(self, clock: Clock, *, page_time_s: float = 3.0, sheets: int = 500,
                 make_and_model: str = "examhw SimPrinter A4", name: str = "score-sheet") -> None:
        self.clock = clock
        self.page_time_s = float(page_time_s)
        self.sheets = int(sheets)
        self.make_and_model = make_and_model
        self.name = name
        self.errors: set[str] = set()         # reasons with suffix -error
        self.jobs: list[PrintedJob] = []
        self.started = clock.now()
        self._last = clock.now()

    # -- time ----------------------------------------------------------------
    @property
    def stopped(self) -> bool:
        return bool(self.errors)

    def _active(self) -> PrintedJob | None:
        for job in self.jobs:
            if not job.done and job.state != HELD:
                return job
        return None

    def advance(self) -> None:
        """Spend the site time elapsed since the last call on the queue."""
        now = self.clock.now()
        budget = max(0.0, now - self._last)
        self._last = now
        while budget > 0 and not self.stopped:
            job = self._active()
            if job is None:
                return
            if job.page_progress == 0 and self.sheets <= 0:
                self.errors.add("media-empty-error")
                break
            job.state = PROCESSING
            if job.processing_at is None:
                job.processing_at = now - budget
            need = self.page_time_s - job.page_progress
            if budget < need:
                job.page_progress += budget
                return
            budget -= need
            job.page_progress = 0.0
            job.pages_done += 1
            self.sheets -= 1
            if job.pages_done >= job.pages:
                job.state = COMPLETED
                job.finished_at = now - budget
        self._mark_stopped()

    def _mark_stopped(self) -> None:
        if not self.stopped:
            return
        for job in self.jobs:
            if job.state == PROCESSING:
                job.state = PROCESSING_STOPPED

    def _resume(self) -> None:
        self._last = self.clock.now()
        if self.stopped:
            return
        for job in self.jobs:
            if job.state == PROCESSING_STOPPED:
                job.state = PROCESSING

    # -- IPP-facing --------------------------------------------------------------
    def submit(self, document: bytes, title: str, user: str, fmt: str) -> PrintedJob:
        """Accept a job (also while stopped: it waits in the queue)."""
        self.advance()
        job = PrintedJob(id=len(self.jobs) + 1, title=title, document=bytes(document), user=user,
                         format=fmt, created_at=self.clock.now(), pages=count_pages(document))
        if fmt == "application/pdf" and not document.startswith(b"%PDF-"):
            job.state = ABORTED
            job.extra_reasons.append("document-format-error")
            job.finished_at = job.created_at
        self.jobs.append(job)
        self.advance()
        return job

    def job(self, job_id: int) -> PrintedJob | None:
        self.advance()
        return next((j for j in self.jobs if j.id == job_id), None)

    def cancel(self, job_id: int) -> bool | None:
        """Cancel a job. None: no such job; False: already finished."""
        job = self.job(job_id)
        if job is None:
            return None
        if job.done:
            return False
        job.state = CANCELED
        job.extra_reasons.append("job-canceled-by-user")
        job.finished_at = self.clock.now()
        job.page_progress = 0.0
        return True

    def up_time(self, at: float | None = None) -> int:
        """IPP printer-up-time (whole site seconds since start, ≥ 1) of ``at``
        (default now)."""
        t = self.clock.now() if at is None else at
        return int(max(0.0, t - self.started)) + 1

    def printer_state(self) -> int:
        self.advance()
        if self.stopped:
            return STOPPED
        return BUSY if self._active() is not None else IDLE

    def printer_reasons(self) -> list[str]:
        self.advance()
        reasons = sorted(self.errors)
        if 0 < self.sheets <= LOW_PAPER:
            reasons.append("media-low-warning")
        return reasons or ["none"]

    def job_reasons(self, job: PrintedJob) -> list[str]:
        if job.state == COMPLETED:
            return ["job-completed-successfully"]
        if job.state in (CANCELED, ABORTED):
            return job.extra_reasons or ["aborted-by-system"]
        reasons = {PENDING: ["job-queued"], HELD: ["job-hold-until-specified"],
                   PROCESSING: ["job-printing"], PROCESSING_STOPPED: ["job-printing"]}[job.state]
        if self.stopped:
            reasons = [*reasons, "printer-stopped"]
        return reasons

    # -- actions -----------------------------------------------------------------
    @action
    def paper_out(self) -> None:
        """Tray empty: the printer stops (media-empty-error)."""
        self.advance()
        self.sheets = 0
        self.errors.add("media-empty-error")
        self._mark_stopped()

    @action
    def paper_load(self, sheets: int = 500) -> None:
        """Refill the tray with ``sheets`` sheets and resume."""
        self.advance()
        self.sheets = int(sheets)
        self.errors.discard("media-empty-error")
        self._resume()

    @action
    def jam(self) -> None:
        """Paper jam: the printer stops (media-jam-error)."""
        self.advance()
        self.errors.add("media-jam-error")
        self._mark_stopped()

    @action
    def clear(self) -> None:
        """Operator clears every error (jam removed, covers closed) and resumes."""
        self.advance()
        self.errors = {e for e in self.errors if e == "media-empty-error" and self.sheets <= 0}
        self._resume()

    def snapshot(self) -> dict[str, Any]:
        self.advance()
        return {"printer_state": {IDLE: "idle", BUSY: "processing", STOPPED: "stopped"}[self.printer_state()],
                "reasons": self.printer_reasons(), "sheets": self.sheets,
                "jobs": [j.summary() for j in self.jobs]}
