"""Run one whole simulated exam session (``examhw demo``)."""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import os
import random
import secrets
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from datetime import time as dtime
from importlib import resources
from pathlib import Path
from typing import Any

from ..clock import ScaledClock
from ..config import SiteConfig, load_site, parse_site
from ..errors import DeviceError, ExamHwError
from ..face.verifier import FaceVerifier
from ..flow.exam import ExamRules, QuestionBank
from ..flow.session import CandidateState, ExamSession, HandheldResult, Roles
from ..site import Site
from ..store import RecordStore
from .people import TWO_PEOPLE, Person, make_population
from .progress import Progress
from .report import build_report, print_summary, write_report
from .terminal import SimulatedTerminal
from .world import World

log = logging.getLogger("examhw.demo")
CAMERA_PASSWORD_ENV = "EXAMHW_DEMO_CAMERA_PASSWORD"


@dataclass
class DemoResult:
    report: dict[str, Any]
    people: list[Person]
    states: dict[str, CandidateState] = field(default_factory=dict)
    #: SHA-256 of every document the simulated sheet printer received (world-side check)
    printed_sha256: list[str] = field(default_factory=list)


def demo_config() -> SiteConfig:
    text = resources.files("examhw.demo").joinpath("site.toml").read_text(encoding="utf-8")
    return parse_site(text, source="examhw/demo/site.toml")


async def run_demo(*, config: SiteConfig | None = None, seed: int | None = None, speed: float = 600.0,
                   n_candidates: int = 100, store_path: Path | None = None,
                   progress: Progress | None = None) -> DemoResult:
    """Run the session; returns the report (the dict written as session.json)."""
    config = config or demo_config()
    # The simulated cameras demand a password, given to both sides through the
    # configured secret reference; a fresh one per run unless the user set one.
    os.environ.setdefault(CAMERA_PASSWORD_ENV, secrets.token_urlsafe(16))
    seed = seed if seed is not None else secrets.randbits(32)
    rng = random.Random(seed)
    exam_date = date.today()
    roster, people = make_population(rng, exam_date, n_booked=n_candidates)
    # The simulated day starts at 08:00 UTC on the exam date (it would otherwise start
    # now and could run past midnight on an accelerated clock).
    clock = ScaledClock(speed, start=datetime.combine(exam_date, dtime(8, 0), tzinfo=timezone.utc))
    flow_cfg = config.flow
    roles = Roles()
    verifier = FaceVerifier(threshold=float(flow_cfg.get("face_threshold", 0.45)))
    tmp = None
    if store_path is None:
        tmp = tempfile.TemporaryDirectory(prefix="examhw-demo-")
        store_path = Path(tmp.name) / "records.sqlite"
    store = RecordStore(store_path)
    started = time.perf_counter()
    progress = progress or Progress(len(people), enabled=False)
    site = Site(config, clock=clock)
    progress.note("starting simulators and opening devices")
    await site.open()
    try:
        session = ExamSession(site, store, roster, verifier, rules=ExamRules(), roles=roles,
                              bank=QuestionBank.generate(rng), site_name=config.name,
                              monitor_interval_s=float(flow_cfg.get("monitor_interval_s", 900)))
        world = World(site.sims, roles, exam_date)
        session.record("session.opened", roster.session_id, site=config.site_id, seats=config.seats,
                       candidates=len(roster.candidates), seed=seed, speed=speed)
        progress.note("daily device self-check")
        selfcheck = await session.self_check()
        ups_task = asyncio.create_task(session.monitor_ups(float(flow_cfg.get("ups_poll_s", 60))))
        stations = {name: asyncio.Lock() for name in ("desk", "security", "gate", "score_desk")}
        arrived = Counter()

        async def journey(p: Person) -> CandidateState | None:
            st = await _journey(session, world, stations, p, rng, arrived)
            progress.advance(st.outcome if st else "error")
            return st

        progress.note("check-in opens")
        results = await asyncio.gather(*(journey(p) for p in people), return_exceptions=True)
        for p, r in zip(people, results):
            if isinstance(r, BaseException):
                log.error("journey of %s failed: %r", p.booking.candidate_id if p.booking else "walk-in", r)
                session.record("journey.error", p.booking.candidate_id if p.booking else "walkin",
                               error=f"{type(r).__name__}: {r}")
        ups_task.cancel()
        await asyncio.gather(ups_task, return_exceptions=True)
        health = {role: await dev.health() for role, dev in site.devices.items()}
        session.record("session.closed", roster.session_id)
        n_records = store.verify()
        report = build_report(session=session, site=site, people=people, health=health, selfcheck=selfcheck,
                              seed=seed, speed=speed, wall_s=time.perf_counter() - started,
                              store_records=n_records, store_head=store.head)
        printed = [hashlib.sha256(j.document).hexdigest() for j in site.sims.model(roles.sheet_printer).jobs]
        return DemoResult(report, people, dict(session.people), printed)
    finally:
        await site.close()
        store.close()
        if tmp is not None:
            tmp.cleanup()


async def _journey(session: ExamSession, world: World, stations: dict[str, asyncio.Lock], p: Person,
                   rng: random.Random, arrived: Counter) -> CandidateState | None:
    roles = session.roles
    # -- check-in at the service desk (R-OPS-CHECKIN) ------------------------
    async with stations["desk"]:
        arrived["checked_in"] += 1
        n = arrived["checked_in"]
        if n == 40:
            await world.mains_fail()           # R-DEV-POWER: mains lost mid-morning…
        if n == 60:
            await world.mains_restore()        # …and back
        await world.present_card(roles.desk_reader, p)
        try:
            st = await session.check_in()
        finally:
            await world.remove_card(roles.desk_reader)
    if st.outcome:
        return st
    # -- security (R-OPS-SCREEN) ---------------------------------------------
    if not p.skips_screening:
        async def officer(_: CandidateState) -> HandheldResult:
            return HandheldResult(clear=p.handheld_clear, officer="officer-1",
                                  note="belt buckle" if p.handheld_clear else "metal object found")
        async with stations["security"]:
            screening = asyncio.create_task(session.screen(st, officer))
            await asyncio.sleep(0)
            await world.walk_detector(p.metal)
            await screening
        if st.outcome:
            return st
    # -- exam-room gate (R-DEV-GATE) -------------------------------------------
    async with stations["gate"]:
        for attempt in (1, 2):                 # a candidate too slow for the flap may present again
            await world.present_card(roles.gate_reader, p)
            await world.show_face(roles.gate_camera, p.live_face)
            try:
                st, opened = await session.gate_identify()
            finally:
                await world.remove_card(roles.gate_reader)
                await world.show_face(roles.gate_camera, None)
            if not opened:
                break
            await world.walk_gate()
            if (await session.gate_passage(st, final=attempt == 2)).value in ("passed", "tailgate"):
                break
    if not st.admitted:
        return st
    # -- seat (R-OPS-SEAT) and exam (R-EXAM-1/2, R-OPS-CHEAT) -------------------
    assert st.seat is not None
    seat_cam = roles.seat_camera(st.seat)
    await world.show_face(seat_cam, p.live_face)
    if not await session.seat_check(st):
        return st
    terminal = SimulatedTerminal(session.site.clock, random.Random(rng.random()), p.skill, p.pace_s)
    accomplice = None
    if p.cheats:
        async def second_person() -> None:
            await session.site.clock.sleep(600)          # ten minutes into the exam
            await world.show_face(seat_cam, TWO_PEOPLE)
        accomplice = asyncio.create_task(second_person())
    try:
        await session.take_exam(st, terminal)
    finally:
        if accomplice is not None:
            accomplice.cancel()
        await world.show_face(seat_cam, None)
    # -- score sheet and signature at the desk (R-OPS-SCORE) -------------------
    async with stations["score_desk"]:
        await asyncio.gather(session.sheet_and_signature(st), world.sign(p))
    return st


def run_demo_cli(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.candidates < 90:
        print("demo: --candidates must be at least 90 (the special cases sit at fixed places in the queue)",
              file=sys.stderr)
        return 2
    config = load_site(args.config) if args.config else None
    report_dir = Path(args.report) if args.report else None
    store_path = None
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        store_path = report_dir / "records.sqlite"
        if store_path.exists():
            store_path.unlink()
    progress = Progress(args.candidates + 1, enabled=not args.quiet)
    try:
        result = asyncio.run(run_demo(config=config, seed=args.seed, speed=args.speed,
                                      n_candidates=args.candidates, store_path=store_path, progress=progress))
    except (ExamHwError, DeviceError) as exc:
        progress.close()
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    progress.close()
    print_summary(result.report)
    if report_dir is not None:
        path = write_report(result.report, report_dir)
        print(f"\nreport written to {path}")
    return 0


__all__ = ["DemoResult", "run_demo", "run_demo_cli"]
