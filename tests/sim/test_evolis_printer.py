"""Evolis driver against the Evolis simulator over loopback TCP
(R-DEV-DESK: the service desk prints licence-type cards; BR-27: a job
interrupted by a lost link is UNKNOWN, never reprinted automatically)."""
from __future__ import annotations

import asyncio

import cv2
import numpy as np
import pytest

from examhw.clock import ScaledClock
from examhw.errors import DeviceTimeout, DeviceUnavailable, ProtocolError
from examhw.kinds import CardJob, ConnState, DriverContext, JobState
from examhw.sim.base import SimContext
from examhw.sim.faults import FaultPlan
from examhw.urls import DeviceURL
from examhw_drivers.evolis_tcp import DRIVER
from examhw_drivers.evolis_tcp.panel import k_panel
from examhw_simulators.card_printer import SIMULATOR

SPEED = 400.0          # 20 site-s per card → 50 ms real


def card_png() -> bytes:
    img = np.full((540, 856), 255, np.uint8)
    cv2.rectangle(img, (40, 40), (300, 380), 0, -1)                 # "photo"
    cv2.putText(img, "B 0001", (340, 200), cv2.FONT_HERSHEY_SIMPLEX, 3, 0, 8)
    return cv2.imencode(".png", img)[1].tobytes()


class Rig:
    def __init__(self, tmp_path, sim_opts=None, drv_opts=None):
        self.clock = ScaledClock(SPEED)
        self.faults = FaultPlan()
        self.sim = SIMULATOR.factory(SimContext(role="card_printer", options=sim_opts or {},
                                                clock=self.clock, run_dir=tmp_path, faults=self.faults))
        self.drv_opts = {"timeout_s": 0.5, **(drv_opts or {})}
        self.driver = None

    async def __aenter__(self):
        url = await self.sim.start()
        self.driver = DRIVER.factory("card_printer", DeviceURL.parse(url), self.drv_opts,
                                     DriverContext(clock=self.clock))
        await self.driver.open()
        return self

    async def __aexit__(self, *exc):
        await self.driver.close()
        await self.sim.stop()

    @property
    def model(self):
        return self.sim.model

    async def wait_busy(self, timeout=2.0):
        async def loop():
            while not self.model.busy:
                await asyncio.sleep(0.001)
        await asyncio.wait_for(loop(), timeout)


@pytest.fixture
async def rig(tmp_path):
    async with Rig(tmp_path) as r:
        yield r


async def test_open_reads_identity_and_sets_ack_mode(rig):
    """R-DEV-DESK: the card printer identifies itself."""
    info = rig.driver.info
    assert info.vendor == "Evolis" and info.model.startswith("Evolis")
    assert info.serial == "SIM-EVO-0001" and info.firmware
    assert rig.model.ack_nack is True
    assert (await rig.driver.health()).ok


async def test_print_card_ok_and_bitmap_matches(rig):
    """R-DEV-DESK: a card is printed, ejected and counted; the simulator
    holds exactly the K panel the driver rendered."""
    png = card_png()
    sub = rig.driver.events.subscribe("job_done", "job_started")
    result = await rig.driver.print_card(CardJob("cand-0001", png), timeout=5)
    assert result.state is JobState.DONE and result.error == ""
    assert [e.type for e in sub.pending()] == ["job_started", "job_done"]
    job = rig.model.jobs[0]
    assert job.state == "done" and job.panels["front_k"] == k_panel(png)
    bits = job.bitmap()
    assert bits.shape == (1016, 648) and 0.1 < bits.mean() < 0.6
    st = await rig.driver.status()
    assert st.ready and st.cards_printed == 1 and not st.errors


async def test_duplex_with_magnetic_tracks(rig):
    """R-DEV-DESK: back panel and magnetic data travel with the job."""
    job = CardJob("cand-0002", card_png(), back_k=bytes(82296), mag_tracks={1: "EXAM0002", 2: "12345"})
    result = await rig.driver.print_card(job, timeout=5)
    assert result.state is JobState.DONE
    cap = rig.model.jobs[0]
    assert set(cap.panels) == {"front_k", "back_k"} and cap.mag == {1: "EXAM0002", 2: "12345"}
    assert rig.model.ribbon == 998


async def test_ribbon_out_fails_job(rig):
    """R-DEV-DESK: ribbon out → FAILED ribbon_out (Se refused with NACK R)."""
    rig.model.ribbon_out()
    sub = rig.driver.events.subscribe("job_failed")
    result = await rig.driver.print_card(CardJob("j", card_png()), timeout=5)
    assert result.state is JobState.FAILED and result.error == "ribbon_out"
    assert sub.pending()[0].data == {"job_id": "j", "error": "ribbon_out"}
    assert rig.model.jobs == [] and rig.model.cards == 200
    assert "ribbon_out" in (await rig.driver.status()).errors


async def test_ribbon_runs_out_mid_job(rig):
    """R-DEV-DESK: the ribbon ends while printing → FAILED ribbon_out."""
    task = asyncio.create_task(rig.driver.print_card(CardJob("j", card_png()), timeout=5))
    await rig.wait_busy()
    rig.model.ribbon_out()
    result = await task
    assert result.state is JobState.FAILED and result.error == "ribbon_out"


async def test_feeder_empty_fails_job_and_emits_event(rig):
    """R-DEV-DESK: no blank card in the feeder (input stack) → feeder_empty."""
    rig.model.feeder_empty()
    sub = rig.driver.events.subscribe("feeder_empty", "job_failed")
    result = await rig.driver.print_card(CardJob("j", card_png()), timeout=5)
    assert result.state is JobState.FAILED and result.error == "feeder_empty"
    assert {e.type for e in sub.pending()} == {"feeder_empty", "job_failed"}
    rig.model.load_cards(20)
    assert (await rig.driver.print_card(CardJob("j2", card_png()), timeout=5)).state is JobState.DONE


async def test_jam_mid_job_then_latched_until_reset(rig):
    """BR-27: jam mid-job → FAILED jam; the printer stays in error (next job
    refused without sending anything) until an explicit reset."""
    task = asyncio.create_task(rig.driver.print_card(CardJob("j1", card_png()), timeout=5))
    await rig.wait_busy()
    rig.model.jam()
    result = await task
    assert result.state is JobState.FAILED and result.error == "jam"
    st = await rig.driver.status()
    assert "jam" in st.errors and not st.ready
    assert rig.driver.state is ConnState.DEGRADED
    again = await rig.driver.print_card(CardJob("j2", card_png()), timeout=5)
    assert again.state is JobState.FAILED and again.error == "jam"
    assert len(rig.model.jobs) == 1                     # nothing was sent for j2
    await rig.driver.reset()
    assert (await rig.driver.print_card(CardJob("j3", card_png()), timeout=5)).state is JobState.DONE
    assert rig.driver.state is ConnState.READY


async def test_cover_open_before_and_during_job(rig):
    """R-DEV-DESK: cover open → FAILED cover_open (refused, or interrupted)."""
    rig.model.cover_open()
    r1 = await rig.driver.print_card(CardJob("j1", card_png()), timeout=5)
    assert r1.state is JobState.FAILED and r1.error == "cover_open"
    rig.model.clear_errors()
    task = asyncio.create_task(rig.driver.print_card(CardJob("j2", card_png()), timeout=5))
    await rig.wait_busy()
    rig.model.cover_open()
    r2 = await task
    assert r2.state is JobState.FAILED and r2.error == "cover_open"


async def test_link_cut_mid_job_is_unknown_and_reconcilable(rig):
    """BR-27: the link drops while the card prints → UNKNOWN (no reprint);
    the printer finishes the card and its counter lets the operator reconcile."""
    sub = rig.driver.events.subscribe("job_unknown")
    task = asyncio.create_task(rig.driver.print_card(CardJob("j1", card_png()), timeout=5))
    await rig.wait_busy()
    await rig.sim.endpoint.drop_connections()
    result = await task
    assert result.state is JobState.UNKNOWN and "link_lost" in result.error
    assert sub.pending()[0].data["job_id"] == "j1"
    assert rig.driver.state is ConnState.UNAVAILABLE
    while rig.model.busy:
        await asyncio.sleep(0.005)
    st = await rig.driver.status()                       # reconnects on next use
    assert st.cards_printed == 1 and len(rig.model.jobs) == 1
    assert rig.driver.state in (ConnState.READY, ConnState.DEGRADED)


async def test_lost_status_poll_is_retried(rig):
    """A status poll dropped during the job does not spoil the result."""
    def on_event(ev):
        if ev.type == "job_started":
            rig.faults.drop = 1
    rig.driver.events.on(on_event)
    result = await rig.driver.print_card(CardJob("j1", card_png()), timeout=5)
    assert result.state is JobState.DONE


async def test_silent_printer_times_out_then_recovers(rig):
    rig.faults.drop = 1
    with pytest.raises(DeviceTimeout):
        await rig.driver.status()
    assert (await rig.driver.status()).ready


async def test_garbled_reply_is_typed_error_then_resync(rig):
    rig.faults.garble = 1
    with pytest.raises((ProtocolError, DeviceTimeout)):
        await rig.driver.status()
    assert (await rig.driver.status()).ready


async def test_split_replies(rig):
    rig.faults.split = 20
    rig.faults.chunk = 3
    assert (await rig.driver.print_card(CardJob("j", card_png()), timeout=5)).state is JobState.DONE


async def test_status_warnings_and_events(tmp_path):
    """R-DEV-DESK: ribbon low and feeder near empty are warnings (device DEGRADED)."""
    async with Rig(tmp_path, sim_opts={"ribbon_panels": "3", "ribbon_low_at": "10", "cards": "2"}) as r:
        sub = r.driver.events.subscribe("ribbon_low")
        st = await r.driver.status()
        assert st.ready and st.warnings == {"ribbon_low", "feeder_near_empty"} and not st.errors
        assert r.driver.state is ConnState.DEGRADED
        assert len(sub.pending()) == 1
        await r.driver.status()
        assert sub.pending() == []                         # emitted on the rising edge only


async def test_default_mode_ok_err_replies(tmp_path):
    """ack_nack=False: the printer answers OK / ERR <code>; outcomes are the same."""
    async with Rig(tmp_path, drv_opts={"ack_nack": False}) as r:
        assert r.model.ack_nack is False
        assert (await r.driver.print_card(CardJob("j", card_png()), timeout=5)).state is JobState.DONE
        r.model.feeder_empty()
        res = await r.driver.print_card(CardJob("j2", card_png()), timeout=5)
        assert res.state is JobState.FAILED and res.error == "feeder_empty"


async def raw_exchange(url: str, payload: bytes, n_replies: int) -> list[bytes]:
    u = DeviceURL.parse(url)
    reader, writer = await asyncio.open_connection(u.host, u.port)
    writer.write(payload)
    await writer.drain()
    out = [await asyncio.wait_for(reader.readuntil(b"\r"), 2) for _ in range(n_replies)]
    writer.close()
    await writer.wait_closed()
    return out


async def test_ack_nack_codes_on_the_wire(tmp_path):
    """NACK codes of docs §3.1 as the simulator sends them."""
    r = Rig(tmp_path)
    url = await r.sim.start()
    try:
        replies = await raw_exchange(url, b"\x1bPem;1\r\x1bXyz\r\x1bRse;q\r\x1bSr\r\x1bPmi;Q\r"
                                          b"\x1bSs\r\x1bSr\r\x1bDb;k;2;" + bytes(82296) + b"\r", 8)
        assert replies == [b"ACK\r", b"NACK 1\r", b"NACK 2\r", b"NACK 1\r", b"NACK 2\r",
                           b"ACK\r", b"ACK\r", b"ACK\r"]
        r.model.cover_open()
        assert await raw_exchange(url, b"\x1bSs\r\x1bSe\r", 2) == [b"ACK\r", b"NACK C\r"]
        assert await raw_exchange(url, b"\x1bRse;o\r\x1bRlr;p\r\x1bPem;0\r\x1bSe\r", 4) == \
            [b"OPEN\r", b"OK\r", b"OK\r", b"ERR 1\r"]
    finally:
        await r.sim.stop()


async def test_unreachable_printer_is_unavailable(tmp_path):
    r = Rig(tmp_path)
    url = await r.sim.start()
    await r.sim.stop()
    driver = DRIVER.factory("card_printer", DeviceURL.parse(url), {"timeout_s": 0.5}, DriverContext())
    with pytest.raises(DeviceUnavailable):
        await driver.open()
