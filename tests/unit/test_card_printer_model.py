"""Card printer simulator model: job timing on the site clock, ribbon and
feeder inventories, cover, jam, latched errors (R-DEV-DESK; BR-27).

A hand-driven clock makes every step deterministic."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from examhw_simulators.card_printer import model as m
from examhw_simulators.card_printer.model import CardPrinterModel, Sequence


class StepClock:
    """A clock the test moves by hand (site seconds)."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def wall(self) -> datetime:
        return datetime.fromtimestamp(self.t, timezone.utc)

    async def sleep(self, seconds: float) -> None:
        self.t += seconds

    def to_real(self, seconds: float) -> float:
        return seconds


def seq(front: bytes = b"\xff" * 82296, back: bytes = b"", mag: dict | None = None) -> Sequence:
    s = Sequence(side="front", panels={"front_k": front})
    if back:
        s.panels["back_k"] = back
    s.mag = dict(mag or {})
    return s


@pytest.fixture
def clock():
    return StepClock()


@pytest.fixture
def printer(clock):
    return CardPrinterModel(clock, print_time_s=20.0, cards=10, ribbon_panels=100,
                            ribbon_low_at=5, feeder_low_at=2)


def words(p):
    cfg, inf, war, err, ex1 = p.status_words()
    return inf, war, err, ex1


def test_job_takes_print_time_and_counts(printer, clock):
    """R-DEV-DESK: a card takes 20 site-seconds; the counter moves at ejection."""
    assert printer.start_job(seq()) is None
    assert printer.cards == 9
    inf, *_ = words(printer)
    assert inf & m.INF_BUSY and inf & m.INF_PRINTING_RUNNING
    clock.t = 19.9
    assert printer.busy and printer.cards_printed == 0
    clock.t = 20.0
    assert not printer.busy
    assert printer.cards_printed == 1 and printer.ribbon == 99
    job = printer.jobs[0]
    assert job.state == "done" and job.finished_at == 20.0
    assert job.bitmap().all()


def test_duplex_and_magnetic_use_two_panels_and_encode(printer, clock):
    printer.start_job(seq(back=b"\x00" * 82296, mag={1: "ABC"}))
    clock.t = 0.75 * 20
    inf, *_ = words(printer)
    assert inf & m.INF_ENCODING_RUNNING
    clock.t = 20
    assert printer.ribbon == 98 and printer.jobs[0].mag == {1: "ABC"}
    assert not printer.jobs[0].bitmap("back_k").any()


def test_second_job_refused_while_printing(printer):
    printer.start_job(seq())
    assert printer.start_job(seq()) == "1"


def test_feeder_empty_refuses_with_F(printer):
    printer.feeder_empty()
    _, war, _, _ = words(printer)
    assert war & m.WAR_FEEDER_EMPTY
    assert printer.start_job(seq()) == "F"
    assert printer.last_error == "NO CARD"
    assert printer.jobs == []
    assert printer.load_cards(3) == 3
    assert printer.start_job(seq()) is None


def test_feeder_near_empty_warning(printer):
    printer.cards = 2
    *_, ex1 = words(printer)
    assert ex1 & m.EX1_INF_FEEDER_NEAR_EMPTY


def test_ribbon_low_and_out(printer, clock):
    printer.set_ribbon(5)
    inf, *_ = words(printer)
    assert inf & m.INF_RIBBON_LOW
    printer.ribbon_out()
    _, war, _, _ = words(printer)
    assert war & m.WAR_RIBBON_ENDED
    assert printer.start_job(seq()) == "R"
    printer.set_ribbon(50)
    assert printer.start_job(seq()) is None


def test_ribbon_ends_mid_duplex_job(printer, clock):
    printer.set_ribbon(1)
    printer.start_job(seq(back=b"\x00" * 82296))
    clock.t = 20
    assert not printer.busy
    job = printer.jobs[0]
    assert job.state == "failed" and job.error == "ribbon_out"
    assert job.finished_at == pytest.approx(10.0)        # back panel at 0.5 T
    _, _, err, _ = words(printer)
    assert err & m.ERR_RIBBON_ENDED
    assert printer.cards_printed == 0
    assert printer.start_job(seq()) == "R"               # latched until reset
    printer.set_ribbon(10)
    assert printer.start_job(seq()) == "R"
    printer.reset()
    assert printer.start_job(seq()) is None


def test_ribbon_out_action_mid_job(printer, clock):
    printer.start_job(seq())
    clock.t = 5
    printer.ribbon_out()
    assert printer.jobs[0].state == "failed" and printer.jobs[0].error == "ribbon_out"


def test_jam_mid_job_latches_until_reset(printer, clock):
    """BR-27: the printer leaves the error state only through an explicit reset."""
    printer.start_job(seq())
    clock.t = 8
    printer.jam()
    assert not printer.busy and printer.jobs[0].error == "jam"
    assert printer.last_error == "ERR JAM"
    clock.t = 100
    assert printer.cards_printed == 0
    assert printer.start_job(seq()) == "T"
    printer.reset()
    assert printer.start_job(seq()) is None


def test_jam_while_idle(printer):
    printer.jam()
    _, _, err, _ = words(printer)
    assert err & m.ERR_MECHANICAL
    printer.clear_errors()
    assert words(printer)[2] == 0


def test_cover_open_refuses_and_interrupts(printer, clock):
    printer.cover_open()
    assert words(printer)[1] & m.WAR_COVER_OPEN
    assert printer.start_job(seq()) == "C"
    printer.clear_errors()
    assert printer.start_job(seq()) is None
    clock.t = 3
    printer.cover_open()
    assert printer.jobs[-1].error == "cover_open"
    assert words(printer)[2] & m.ERR_COVER_OPEN
    printer.clear_errors()
    assert not printer.cover_open_ and printer.start_job(seq()) is None


def test_actions_are_registered_and_validate(printer):
    assert {"ribbon_out", "feeder_empty", "jam", "cover_open", "clear_errors", "load_cards",
            "set_ribbon"} <= set(printer.actions())
    with pytest.raises(ValueError):
        printer.load_cards(-1)
    with pytest.raises(ValueError):
        printer.set_ribbon(-5)


async def test_act_and_snapshot(printer):
    await printer.act("load_cards", n=5)
    snap = printer.snapshot()
    assert snap["cards_in_feeder"] == 15 and snap["busy"] is False
    assert snap["status"].count(";") == 4
