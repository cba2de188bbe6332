"""One exam session at one site: the steps of the day, each writing its
records to the store before the side effect it decides (open a gate,
print, sanction) is carried out."""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Awaitable, Callable

from ..errors import DeviceError, DeviceFault, ExamHwError, NoCard
from ..face.idphoto import decode_id_photo
from ..face.verifier import FaceResult, FaceVerifier
from ..kinds import (Camera, CardJob, CardPrinter, Direction, DocumentPrinter, IdCardReader, IdentityCard,
                     JobState, MetalDetector, PassageResult, SignaturePad, Turnstile, Ups)
from ..site import Site
from ..store import RecordStore
from .exam import ExamRules, QuestionBank, SeatTerminal
from .roster import BlacklistEntry, Candidate, Roster
from .seating import NoSeatLeft, SeatAllocator
from .sheet import SheetData, render_sheet, sha256

log = logging.getLogger("examhw.flow")


@dataclass(frozen=True)
class Roles:
    """Which site role plays which station (from the ``[flow]`` table)."""

    desk_reader: str = "desk_reader"
    gate_reader: str = "gate_reader"
    gate_camera: str = "gate_cam"
    gate: str = "gate"
    detector: str = "wtmd"
    seat_camera_prefix: str = "seat_cam"
    sheet_printer: str = "sheet_printer"
    signature_pad: str = "sig_pad"
    card_printer: str = "card_printer"
    ups: str = "ups"

    def seat_camera(self, seat: int) -> str:
        return f"{self.seat_camera_prefix}_{seat:03d}"


@dataclass
class CandidateState:
    """Everything the site learned about one person during the day."""

    key: str                              # candidate id, or "walkin:<masked number>"
    candidate: Candidate | None = None
    card: IdentityCard | None = None
    reference: bytes | None = None        # decoded ID photo (encoded image)
    seat: int | None = None
    screened: bool = False
    admitted: bool = False
    attempts: list[int] = field(default_factory=list)
    score: int | None = None
    outcome: str = ""                     # passed | failed | refused | sanctioned
    reason: str = ""
    sheet_sha256: str = ""


@dataclass(frozen=True)
class HandheldResult:
    """What the security officer records after a handheld re-check (R-DEV-SEC)."""

    clear: bool
    officer: str
    note: str = ""


class Refused(ExamHwError):
    """A candidate was refused at a step; ``reason`` is recorded."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ExamSession:
    """Runs the steps of one session against a :class:`Site`.

    Device calls go through the kind interfaces only, so the same code runs
    against simulators and hardware.
    """

    def __init__(self, site: Site, store: RecordStore, roster: Roster, verifier: FaceVerifier, *,
                 rules: ExamRules | None = None, roles: Roles | None = None, bank: QuestionBank,
                 site_name: str = "", monitor_interval_s: float = 900.0,
                 card_read_timeout_s: float = 10.0) -> None:
        self.site = site
        self.store = store
        self.roster = roster
        self.verifier = verifier
        self.rules = rules or ExamRules()
        self.roles = roles or Roles()
        self.bank = bank
        self.site_name = site_name or site.config.name
        self.monitor_interval_s = monitor_interval_s
        self.card_read_timeout_s = card_read_timeout_s
        self.seats = SeatAllocator(site.config.seats, site.config.accessible_seats)
        self.people: dict[str, CandidateState] = {}
        self.face_checks: list[dict[str, Any]] = []
        self.ups_log: list[dict[str, Any]] = []
        self._decoders = list(site.plugins.registry.photo_decoders.values())

    # -- helpers -------------------------------------------------------------
    def record(self, type: str, subject: str = "", **data: Any) -> None:
        self.store.append(type, subject, data, ts=self.site.clock.wall())

    @property
    def today(self) -> date:
        return self.roster.exam_date

    # -- daily self-check (R-OPS-SELFCHECK) ----------------------------------
    async def self_check(self) -> dict[str, bool]:
        """Health of every device, recorded before the first candidate."""
        results = await asyncio.gather(*(d.health() for d in self.site.devices.values()))
        summary = {}
        for (role, dev), h in zip(self.site.devices.items(), results):
            summary[role] = h.ok
            self.record("selfcheck.device", role, kind=dev.kind.value, ok=h.ok, state=h.state.value,
                        detail=h.detail)
        self.record("selfcheck.done", "", devices=len(summary), failed=sorted(r for r, ok in summary.items() if not ok))
        return summary

    # -- check-in (R-OPS-CHECKIN, R-OPS-ROSTER) --------------------------------
    async def check_in(self) -> CandidateState:
        """Read the ID card at the desk, match the appointment, check the
        blacklist, assign a random seat. Raises :class:`Refused`."""
        reader = self.site.device(self.roles.desk_reader, IdCardReader)
        card = await reader.read_card(timeout=self.card_read_timeout_s)
        booking = self.roster.booking_for(card.id_number)
        key = booking.candidate_id if booking else f"walkin:{card.id_number[-4:]}"
        st = self.people.setdefault(key, CandidateState(key=key))
        st.candidate, st.card = booking, card
        self.record("checkin.card_read", key, card_type=card.card_type.value, id_valid=card.id_number_valid,
                    valid_today=card.is_valid_on(self.today))
        if not card.id_number_valid:
            return self._refuse(st, "ID number check digit invalid")
        if not card.is_valid_on(self.today):
            return self._refuse(st, "ID card expired")
        if booking is None:
            return self._refuse(st, "no booking for this session")
        blocked = self.roster.blocked(card.id_number, self.today)
        if blocked is not None:
            return self._refuse(st, f"blacklisted until {blocked.until}: {blocked.reason}")
        st.reference = decode_id_photo(card.photo, self._decoders)
        try:
            seat = self.seats.assign(accessible=booking.needs_accessible_seat)
        except NoSeatLeft as exc:
            return self._refuse(st, str(exc))
        st.seat = seat
        self.record("checkin.admitted", key, seat=seat, accessible=booking.needs_accessible_seat,
                    reference_photo=st.reference is not None)
        await self._print_seat_card(st)
        return st

    async def _print_seat_card(self, st: CandidateState) -> None:
        printer = self.site.devices.get(self.roles.card_printer)
        if not isinstance(printer, CardPrinter):
            return
        job_id = f"{self.roster.session_id}-{st.key}"
        self.record("card.print_requested", st.key, job_id=job_id, seat=st.seat)
        try:
            res = await printer.print_card(CardJob(job_id=job_id, front_k=_seat_card_png(st)))
            self.record("card.print_result", st.key, job_id=job_id, state=res.state.value, error=res.error)
        except DeviceError as exc:
            self.record("card.print_result", st.key, job_id=job_id, state=JobState.UNKNOWN.value, error=str(exc))

    def _refuse(self, st: CandidateState, reason: str) -> CandidateState:
        st.outcome, st.reason = "refused", reason
        self.record("candidate.refused", st.key, reason=reason)
        return st

    # -- screening (R-OPS-SCREEN, R-DEV-SEC) ---------------------------------
    async def screen(self, st: CandidateState,
                     handheld: Callable[[CandidateState], Awaitable[HandheldResult]]) -> bool:
        """Walk-through transit; on alarm the officer's handheld result decides."""
        wtmd = self.site.device(self.roles.detector, MetalDetector)
        transit = await wtmd.wait_transit(timeout=30.0)
        self.record("screen.transit", st.key, alarm=transit.alarm)
        if transit.alarm:
            result = await handheld(st)
            self.record("screen.handheld", st.key, clear=result.clear, officer=result.officer, note=result.note)
            if not result.clear:
                self._refuse(st, "metal detected on handheld re-check")
                return False
        st.screened = True
        self.record("screen.passed", st.key)
        return True

    # -- gate (R-DEV-GATE) -----------------------------------------------------
    async def gate_identify(self, st_hint: CandidateState | None = None) -> tuple[CandidateState, bool]:
        """Read the card at the gate, compare the live face with the card
        photo, then open for one passage or sound the alarm. Returns the
        person's state and whether the gate opened."""
        t0 = time.perf_counter()
        reader = self.site.device(self.roles.gate_reader, IdCardReader)
        camera = self.site.device(self.roles.gate_camera, Camera)
        gate = self.site.device(self.roles.gate, Turnstile)
        card, snap = await asyncio.gather(reader.read_card(timeout=self.card_read_timeout_s), camera.snapshot())
        booking = self.roster.booking_for(card.id_number)
        key = booking.candidate_id if booking else f"walkin:{card.id_number[-4:]}"
        st = self.people.setdefault(key, CandidateState(key=key, candidate=booking))
        reference = decode_id_photo(card.photo, self._decoders)
        refusal = (f"already {st.outcome}" if st.outcome else
                   "not checked in" if st.seat is None else
                   "not screened" if not st.screened else "")
        if refusal:
            self.record("gate.decision", key, open=False, reason=refusal)
            await gate.alarm(3.0)
            if not st.outcome:
                self._refuse(st, f"refused at gate: {refusal}")
            return st, False
        result = await self._verify(key, "gate", snap.data, reference)
        total_ms = (time.perf_counter() - t0) * 1000
        if result.decision == "no_face":   # one more look before refusing
            snap = await camera.snapshot()
            result = await self._verify(key, "gate", snap.data, reference)
            total_ms = (time.perf_counter() - t0) * 1000
        ok = result.decision == "match"
        self.record("gate.decision", key, open=ok, face=result.decision, score=result.score,
                    face_ms=round(result.ms, 1), total_ms=round(total_ms, 1))
        if ok:
            await gate.open_for(Direction.IN, 1)
        else:
            await gate.alarm(3.0)
            self._refuse(st, f"face does not match ID card ({result.decision})")
        return st, ok

    async def gate_passage(self, st: CandidateState, *, final: bool = True) -> PassageResult:
        """Wait for the authorised passage. PASSED (or TAILGATE: the candidate
        is in, the follower raised the alarm) admits; on TIMEOUT/REVERSED the
        candidate is not in — refused when ``final``, else they may try again."""
        gate = self.site.device(self.roles.gate, Turnstile)
        result = await gate.wait_passage(Direction.IN, timeout=10.0)
        self.record("gate.passage", st.key, result=result.value)
        if result in (PassageResult.PASSED, PassageResult.TAILGATE):
            st.admitted = True
        elif final:
            self._refuse(st, f"did not pass the gate ({result.value})")
        return result

    async def _verify(self, key: str, where: str, live: bytes, reference: bytes | None) -> FaceResult:
        if reference is None:
            result = FaceResult("no_face", None, 0.0, "reference_unusable", 0, 0)
        else:
            result = await self.verifier.averify(live, reference)
        self.face_checks.append({"candidate": key, "where": where, "decision": result.decision,
                                 "score": None if result.score is None else round(result.score, 4),
                                 "ms": round(result.ms, 2), "live_faces": result.live_faces})
        self.record("face.check", key, where=where, decision=result.decision, score=result.score,
                    ms=round(result.ms, 2), reason=result.reason, live_faces=result.live_faces)
        return result

    # -- seat identity check (R-OPS-SEAT) -------------------------------------
    async def seat_check(self, st: CandidateState) -> bool:
        assert st.seat is not None
        camera = self.site.device(self.roles.seat_camera(st.seat), Camera)
        snap = await camera.snapshot()
        result = await self._verify(st.key, "seat", snap.data, st.reference)
        ok = result.decision == "match"
        self.record("seat.identity", st.key, seat=st.seat, ok=ok)
        if not ok:
            self._refuse(st, "seat camera does not show the card holder")
        return ok

    # -- exam (R-EXAM-1, R-EXAM-2, R-OPS-CHEAT) -------------------------------
    async def take_exam(self, st: CandidateState, terminal: SeatTerminal) -> None:
        """Up to 1 + retakes attempts; the seat camera is watched during each."""
        assert st.seat is not None and st.candidate is not None
        for attempt in range(1, self.rules.retakes + 2):
            self.record("exam.started", st.key, seat=st.seat, attempt=attempt)
            done = asyncio.Event()
            watcher = asyncio.create_task(self._watch_seat(st, terminal, done))
            try:
                res = await terminal.run_attempt(self.bank, self.rules, attempt)
            finally:
                # The watcher ends on ``done``; it is also cancelled, but it never
                # relies on the cancellation arriving (Python 3.11's wait_for can
                # swallow one that races a completing device call).
                done.set()
                watcher.cancel()
                await asyncio.wait({watcher}, timeout=self.site.config.timeout_s * 3)
            if st.outcome == "sanctioned":
                st.attempts.append(0)
                self.record("exam.stopped", st.key, attempt=attempt, answered=len(res.answers))
                return
            score = self.bank.score(res.answers)
            st.attempts.append(score)
            self.record("exam.finished", st.key, attempt=attempt, score=score, answered=len(res.answers),
                        elapsed_s=round(res.elapsed_s, 1), timed_out=res.timed_out,
                        answers_sha256=hashlib.sha256(json.dumps(res.answers, sort_keys=True).encode()).hexdigest())
            if score >= self.rules.pass_mark:
                st.score, st.outcome = score, "passed"
                return
        st.score, st.outcome = st.attempts[-1], "failed"

    async def _watch_seat(self, st: CandidateState, terminal: SeatTerminal, done: asyncio.Event) -> None:
        """Snapshots during the exam until ``done``; another person at the seat is cheating."""
        assert st.seat is not None
        camera = self.site.device(self.roles.seat_camera(st.seat), Camera)
        stop = asyncio.create_task(done.wait())
        try:
            while True:
                await asyncio.wait({stop}, timeout=self.site.clock.to_real(self.monitor_interval_s))
                if done.is_set():
                    return
                try:
                    snap = await camera.snapshot()
                except DeviceError as exc:
                    self.record("seat.snapshot_failed", st.key, seat=st.seat, error=str(exc))
                    continue
                result = await self._verify(st.key, "exam", snap.data, st.reference)
                if done.is_set():
                    return
                if result.live_faces > 1 or result.decision == "no_match":
                    why = "another person at the seat" if result.live_faces > 1 else "a different person at the seat"
                    self.sanction_cheating(st, why)
                    terminal.stop()
                    return
        finally:
            stop.cancel()

    def sanction_cheating(self, st: CandidateState, why: str) -> None:
        """R-OPS-CHEAT: exam stopped, score 0, booking blocked for one year."""
        until = self.today + timedelta(days=365)
        self.record("sanction.cheating", st.key, why=why, score=0, booking_blocked_until=until.isoformat())
        if st.card is not None:
            self.roster.blacklist[st.card.id_number.upper()] = BlacklistEntry(st.card.id_number, f"cheating: {why}", until)
        st.outcome, st.reason, st.score = "sanctioned", f"cheating: {why}", 0

    # -- score sheet, signature, archive (R-OPS-SCORE) ------------------------
    async def sheet_and_signature(self, st: CandidateState, *, sign_timeout: float = 30.0) -> None:
        assert st.candidate is not None and st.seat is not None
        result = {"passed": "PASS", "failed": "FAIL", "sanctioned": "SANCTIONED"}[st.outcome]
        data = SheetData(session_id=self.roster.session_id, site_name=self.site_name,
                         candidate_id=st.key, name_latin=st.candidate.name_latin,
                         id_number=st.candidate.id_number, seat=st.seat, attempts=st.attempts,
                         score=st.score or 0, result=result, pass_mark=self.rules.pass_mark,
                         issued_at=self.site.clock.wall().replace(microsecond=0), note=st.reason)
        pdf = render_sheet(data)
        digest = self.store.put_blob(pdf, "application/pdf")
        st.sheet_sha256 = digest
        self.record("sheet.rendered", st.key, sha256=digest, bytes=len(pdf), score=data.score, result=result)
        printer = self.site.device(self.roles.sheet_printer, DocumentPrinter)
        job = await printer.print_pdf(pdf, title=f"score-sheet-{st.key}", timeout=30.0)
        self.record("sheet.printed", st.key, sha256=digest, job_id=job.job_id, state=job.state.value,
                    reasons=list(job.reasons))
        pad = self.site.device(self.roles.signature_pad, SignaturePad)
        try:
            sig = await pad.capture(f"Sign score sheet {st.key}", timeout=sign_timeout)
        except DeviceFault as exc:
            self.record("signature.failed", st.key, error=str(exc), code=str(exc.code))
            raise
        strokes = [[[p.x, p.y, p.pressure, p.t_ms] for p in s] for s in sig.strokes]
        strokes_json = json.dumps(strokes, separators=(",", ":")).encode()
        strokes_sha = self.store.put_blob(strokes_json, "application/json")
        png_sha = self.store.put_blob(sig.png, "image/png")
        self.record("signature.bound", st.key, sheet_sha256=digest, strokes_sha256=strokes_sha,
                    png_sha256=png_sha, points=sig.point_count, duration_ms=sig.duration_ms,
                    device=sig.device_id)
        self.record("archive.done", st.key, outcome=st.outcome, score=data.score, sheet_sha256=digest)

    # -- UPS (R-DEV-POWER) ------------------------------------------------------
    async def monitor_ups(self, interval_s: float = 60.0) -> None:
        """Poll the UPS all session; power events are recorded as they happen."""
        ups = self.site.device(self.roles.ups, Ups)
        sub = ups.events.subscribe("power_lost", "power_restored", "battery_low", "data_stale")
        try:
            while True:
                try:
                    s = await ups.status()
                    entry = {"at": self.site.clock.wall().isoformat(timespec="seconds"), "source": s.source.value,
                             "flags": sorted(s.flags), "charge_pct": s.charge_pct, "runtime_s": s.runtime_s}
                except DeviceError as exc:
                    entry = {"at": self.site.clock.wall().isoformat(timespec="seconds"), "source": "unknown",
                             "error": str(exc)}
                self.ups_log.append(entry)
                for ev in sub.pending():
                    self.record(f"ups.{ev.type}", self.roles.ups, **{k: v for k, v in ev.data.items()
                                                                  if isinstance(v, (str, int, float, bool, type(None)))})
                await self.site.clock.sleep(interval_s)
        finally:
            sub.close()


def _seat_card_png(st: CandidateState) -> bytes:
    """A 1-bit seat card image (candidate id + seat) for the card printer."""
    import cv2
    import numpy as np
    img = np.full((1016 // 2, 648 // 2), 255, np.uint8)
    cv2.putText(img, f"SEAT {st.seat:03d}", (20, 120), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 0, 4)
    cv2.putText(img, st.key, (20, 220), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 0, 2)
    ok, buf = cv2.imencode(".png", img)
    return buf.tobytes() if ok else b""


__all__ = ["CandidateState", "ExamSession", "HandheldResult", "NoCard", "Refused", "Roles"]
