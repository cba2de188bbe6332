"""Adversarial replays of the real-world failure cases (bug-cases.md) and other
attacks, each driving a real driver against its simulator over the real
transport (pty, loopback TCP, Modbus TCP, HTTP).

Cases already replayed by the per-device test files are not repeated here (see
the module docstring of each test for the covering file). What is here:

* BR-06 (serial unplug): in-flight requests fail with DeviceUnavailable, the
  driver announces the recovery;
* BR-07 (two openers) at driver level;
* BR-04 (Modbus exception replies): busy/acknowledge (05/06) is transient;
* BR-24 (face threshold vs. image quality);
* late replies (a reply that arrives after its request timed out must never be
  taken for the next request: BR-01's variant, for every framed driver);
* concurrent calls on one device, a slow device, open() against nothing,
  calls after close(), close() during a call;
* every simulator fed garbage over its real transport keeps serving.

Requirements touched: R-DEV-GATE, R-DEV-DESK, R-DEV-SEC, R-DEV-SEAT,
R-DEV-POWER, R-OPS-CHECKIN, R-OPS-SCORE, R-OPS-SCREEN, R-SEC-TAMPER.

Tests marked ``xfail(strict=True, reason="BUG: …")`` fail because the product
is wrong; remove the marker when it is fixed.
"""
from __future__ import annotations

import asyncio
import random
import socket
import struct
import time
from datetime import date
from pathlib import Path
from typing import Any, Awaitable, Callable

import aiohttp
import cv2
import pytest

from examhw.clock import ScaledClock
from examhw.errors import (DeviceFault, DeviceTimeout, DeviceUnavailable, ExamHwError,
                           ProtocolError)
from examhw.kinds import ConnState, DriverContext
from examhw.kinds.turnstile import Direction
from examhw.kinds.ups import PowerSource
from examhw.sim.base import SimContext
from examhw.sim.faults import FaultPlan
from examhw.transports.serial import open_serial
from examhw.transports.tcp import open_tcp
from examhw.urls import DeviceURL

from examhw_drivers.evolis_tcp import DRIVER as EVOLIS
from examhw_drivers.gate_7e7f import DRIVER as GATE
from examhw_drivers.ipp_printer import DRIVER as IPP
from examhw_drivers.ipp_printer import codec as ippc
from examhw_drivers.nut_ups import DRIVER as NUT
from examhw_drivers.onvif_camera import DRIVER as ONVIF
from examhw_drivers.sam_serial import DRIVER as SAM
from examhw_drivers.stu_serial import DRIVER as STU
from examhw_drivers.wtmd_modbus import DRIVER as WTMD
from examhw_simulators.camera import SIMULATOR as CAMERA_SIM
from examhw_simulators.card_printer import SIMULATOR as EVOLIS_SIM
from examhw_simulators.doc_printer import SIMULATOR as IPP_SIM
from examhw_simulators.gate import SIMULATOR as GATE_SIM
from examhw_simulators.idcard import SIMULATOR as SAM_SIM
from examhw_simulators.idcard import SimCard
from examhw_simulators.sigpad import SIMULATOR as STU_SIM
from examhw_simulators.ups import SIMULATOR as NUT_SIM
from examhw_simulators.wtmd import SIMULATOR as WTMD_SIM

pytestmark = pytest.mark.timeout(30)

FACES = Path(__file__).resolve().parents[1] / "data" / "faces"
CAM_PASSWORD = "Adv-Cam-Pw-4242"


# -- helpers ------------------------------------------------------------------------------------
async def wait_until(cond: Callable[[], bool], timeout: float = 3.0) -> None:
    """Wait (checking every loop turn) until ``cond()`` holds; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


async def ends_within(aw: Awaitable[Any], limit: float) -> tuple[Any, BaseException | None, float]:
    """Run ``aw``; return (result, exception, elapsed). Fails the test if it takes
    longer than ``limit`` real seconds (a hang)."""
    t0 = time.monotonic()
    try:
        result = await asyncio.wait_for(aw, limit)
        return result, None, time.monotonic() - t0
    except (asyncio.TimeoutError, TimeoutError) as exc:
        if time.monotonic() - t0 >= limit * 0.99:
            pytest.fail(f"call did not finish within {limit} s (hang)")
        return None, exc, time.monotonic() - t0
    except Exception as exc:  # noqa: BLE001 - the caller asserts on the exception
        return None, exc, time.monotonic() - t0


def card(**changes: Any) -> SimCard:
    base = dict(name="王示例", sex="1", nation="01", birth=date(1990, 3, 7),
                address="北京市东城区示例大街1号",
                id_number="110101199003070011", authority="北京市公安局东城分局",
                valid_from=date(2017, 7, 27), valid_to=date(2037, 7, 27))
    base.update(changes)
    return SimCard(**base)


class OnceFault(FaultPlan):
    """Shape only the first reply that ``pick(reply)`` selects: delay it by
    ``delay_s`` (a late reply) or drop it; every other reply goes through."""

    def __init__(self, pick: Callable[[bytes], bool], *, delay_s: float = 0.0) -> None:
        super().__init__()
        self.pick = pick
        self.late_s = delay_s
        self.armed = False
        self.fired = False

    def shape(self, data: bytes) -> list[tuple[float, bytes]]:
        if self.armed and self.pick(data):
            self.armed = False
            self.fired = True
            return [(self.late_s, data)]
        return super().shape(data)


class Rig:
    """Builds simulators and drivers and tears them down in reverse order."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self._sims: list[Any] = []
        self._drivers: list[Any] = []

    async def sim(self, spec: Any, role: str, *, options: dict | None = None, faults: FaultPlan | None = None,
                  clock: Any = None, secrets: dict | None = None) -> tuple[Any, str]:
        kw: dict[str, Any] = dict(role=role, options=options or {}, run_dir=self.tmp_path,
                                  faults=faults or FaultPlan(), secrets=secrets or {})
        if clock is not None:
            kw["clock"] = clock
        sim = spec.factory(SimContext(**kw))
        url = await sim.start()
        self._sims.append(sim)
        return sim, url

    def driver(self, spec: Any, role: str, url: str, options: dict | None = None,
               ctx: DriverContext | None = None) -> Any:
        drv = spec.factory(role, DeviceURL.parse(url), dict(options or {}), ctx or DriverContext())
        self._drivers.append(drv)
        return drv

    async def close(self) -> None:
        for drv in reversed(self._drivers):
            try:
                await asyncio.wait_for(drv.close(), 5)
            except (ExamHwError, OSError, asyncio.TimeoutError):
                pass
        for sim in reversed(self._sims):
            await sim.stop()


@pytest.fixture
async def rig(tmp_path):
    r = Rig(tmp_path)
    try:
        yield r
    finally:
        await r.close()


# -- per-device stacks (simulator + opened driver) ----------------------------------------------
async def sam_stack(rig: Rig, faults: FaultPlan | None = None, **opts: Any):
    sim, url = await rig.sim(SAM_SIM, "gate-reader", faults=faults)
    drv = rig.driver(SAM, "gate-reader", url, {"poll_s": 0.02, **opts}, DriverContext(timeout_s=2.0))
    await drv.open()
    return sim, drv


async def gate_stack(rig: Rig, faults: FaultPlan | None = None, **opts: Any):
    sim, url = await rig.sim(GATE_SIM, "gate1", faults=faults, clock=ScaledClock(10.0))
    drv = rig.driver(GATE, "gate1", url, {"reply_timeout_s": 0.2, **opts}, DriverContext(timeout_s=2.0))
    await drv.open()
    return sim, drv


async def stu_stack(rig: Rig, faults: FaultPlan | None = None, **opts: Any):
    sim, url = await rig.sim(STU_SIM, "desk-pad", faults=faults)
    drv = rig.driver(STU, "desk-pad", url, {"timeout_s": 1.0, **opts})
    await drv.open()
    return sim, drv


async def nut_stack(rig: Rig, faults: FaultPlan | None = None, **opts: Any):
    sim, url = await rig.sim(NUT_SIM, "ups", faults=faults)
    drv = rig.driver(NUT, "ups", url, opts, DriverContext(timeout_s=1.0))
    await drv.open()
    return sim, drv


async def evolis_stack(rig: Rig, faults: FaultPlan | None = None, **opts: Any):
    clock = ScaledClock(400.0)
    sim, url = await rig.sim(EVOLIS_SIM, "card_printer", faults=faults, clock=clock)
    drv = rig.driver(EVOLIS, "card_printer", url, {"timeout_s": 0.5, **opts}, DriverContext(clock=clock))
    await drv.open()
    return sim, drv


async def ipp_stack(rig: Rig, faults: FaultPlan | None = None, **opts: Any):
    clock = ScaledClock(200.0)
    sim, url = await rig.sim(IPP_SIM, "doc_printer", faults=faults, clock=clock)
    drv = rig.driver(IPP, "doc_printer", url, {"timeout_s": 1.0, **opts}, DriverContext(clock=clock))
    await drv.open()
    return sim, drv


async def wtmd_stack(rig: Rig, faults: FaultPlan | None = None, **opts: Any):
    sim, url = await rig.sim(WTMD_SIM, "wtmd", faults=faults)
    drv = rig.driver(WTMD, "wtmd", url, {"timeout_s": 0.5, **opts})
    await drv.open()
    return sim, drv


async def camera_stack(rig: Rig, faults: FaultPlan | None = None, **opts: Any):
    secrets = {"password": CAM_PASSWORD}
    sim, url = await rig.sim(CAMERA_SIM, "seat-001", faults=faults, secrets=secrets)
    drv = rig.driver(ONVIF, "seat-001", url, {"timeout_s": 2.0, **opts}, DriverContext(secrets=secrets))
    await drv.open()
    return sim, drv


# ================================================================================================
# BR-06: serial adapter unplugged while a request is in flight
# ================================================================================================
async def test_br06_sam_unplug_during_polling_fails_inflight_with_unavailable(rig):
    """BR-06 / R-DEV-GATE / R-SEC-TAMPER: the gate reader is polling for a card when
    its adapter is pulled. The in-flight read_card fails with DeviceUnavailable
    (not NoCard, not a timeout, not a parse error) well before its own deadline;
    after replug the driver reopens, announces it (state_changed → ready) and the
    next card is read with no data from before the unplug."""
    sim, reader = await sam_stack(rig)
    states = reader.events.subscribe("state_changed")
    task = asyncio.create_task(reader.read_card(timeout=5.0))
    await wait_until(lambda: sim.model.requests >= 6)          # several find polls answered
    await sim.unplug()
    _, exc, elapsed = await ends_within(task, 4.0)
    assert isinstance(exc, DeviceUnavailable), repr(exc)
    assert elapsed < 2.0
    assert reader.state == ConnState.UNAVAILABLE
    await sim.replug()
    sim.model.present_card(card())
    deadline = time.monotonic() + 5.0
    while True:
        try:
            got = await reader.read_card(timeout=1.0)
            break
        except DeviceUnavailable:
            assert time.monotonic() < deadline, "reader never recovered after replug"
            await asyncio.sleep(0.05)
    assert got.id_number == "110101199003070011" and reader.state == ConnState.READY
    changes = [(e.data["old"], e.data["new"]) for e in states.pending()]
    assert ("ready", "unavailable") in changes and changes[-1][1] == "ready"


async def test_br06_gate_unplug_during_wait_passage_is_unavailable(rig):
    """BR-06 / R-DEV-GATE: the gate is waiting for the candidate to walk through
    when the RS485 adapter is pulled: wait_passage ends with DeviceUnavailable,
    not with PASSED or a timeout result."""
    sim, gate = await gate_stack(rig)
    await gate.open_for(Direction.IN)
    task = asyncio.create_task(gate.wait_passage(Direction.IN, timeout=5.0))
    await wait_until(lambda: sim.model.requests >= 4)
    await sim.unplug()
    _, exc, elapsed = await ends_within(task, 4.0)
    assert isinstance(exc, DeviceUnavailable), repr(exc)
    assert elapsed < 2.0


# ================================================================================================
# BR-07: two openers of one serial port
# ================================================================================================
async def test_br07_second_driver_on_same_port_fails_fast_first_unaffected(rig):
    """BR-07 / R-DEV-GATE: a second service instance opening the reader's port
    fails at once with DeviceUnavailable; the first keeps reading cards."""
    sim, first = await sam_stack(rig)
    second = rig.driver(SAM, "gate-reader-2", sim.url, {"poll_s": 0.02}, DriverContext(timeout_s=2.0))
    _, exc, elapsed = await ends_within(second.open(), 5.0)
    assert isinstance(exc, DeviceUnavailable) and elapsed < 1.0
    assert second.state == ConnState.UNAVAILABLE
    sim.model.present_card(card())
    assert (await first.read_card(timeout=1.0)).name == "王示例"


async def test_br07_second_pad_driver_on_same_port_fails_fast(rig):
    """BR-07 / R-DEV-DESK: the same for the signature pad (a reader task is
    running on the first handle)."""
    sim, first = await stu_stack(rig)
    second = rig.driver(STU, "desk-pad-2", sim.url, {"timeout_s": 1.0})
    _, exc, elapsed = await ends_within(second.open(), 5.0)
    assert isinstance(exc, DeviceUnavailable) and elapsed < 1.0
    await first.clear()
    assert (await first.status()).status_name == "Ready"


# ================================================================================================
# BR-04: Modbus exception replies
# ================================================================================================
async def _busy_once(rig: Rig, code: int):
    """A WTMD module whose next request is answered with exception ``code`` once."""
    sim = WTMD_SIM.factory(SimContext(role="wtmd", run_dir=rig.tmp_path))
    ep = sim.endpoint
    real = ep._trace_pdu                              # screened before pymodbus serves it
    state = {"left": 0}

    def trace(sending: bool, pdu: Any) -> Any:
        if not sending and state["left"] > 0:
            state["left"] -= 1
            ep.force_exception = code
        elif not sending:
            ep.force_exception = None
        return real(sending, pdu)

    ep._trace_pdu = trace
    url = await sim.start()
    rig._sims.append(sim)
    det = rig.driver(WTMD, "wtmd", url, {"timeout_s": 0.5})
    await det.open()
    return sim, det, state


async def test_br04_busy_reply_is_retried_not_a_failure(rig):
    """BR-04 / R-OPS-SCREEN: the DI module answers one request with exception 06
    (server busy). That is transient: the driver retries (bounded, with back-off)
    and the call succeeds; the link is never reopened."""
    sim, det, state = await _busy_once(rig, 0x06)
    state["left"] = 1
    counters = await det.counters()
    assert counters.transits == 0
    assert sim.endpoint.connections == 1


async def test_br04_illegal_address_is_not_retried(rig):
    """BR-04: code 02 (configuration error) is reported at once, once, as a typed
    fault, with no retry and no reconnect; the next call works."""
    sim, det, state = await _busy_once(rig, 0x02)
    before = sim.endpoint.requests
    state["left"] = 1
    with pytest.raises(DeviceFault) as info:
        await det.counters()
    assert info.value.code == 2
    assert sim.endpoint.requests == before + 1                 # asked exactly once
    assert (await det.counters()).transits == 0
    assert sim.endpoint.connections == 1 and det.state == ConnState.READY


# ================================================================================================
# BR-24: thresholds and image quality
# ================================================================================================
def test_br24_blurred_live_frame_of_same_person_is_not_no_match():
    """BR-24 / R-DEV-GATE: the candidate's live frame is badly out of focus (the
    detector still finds a face). The outcome must not be ``no_match`` (which
    tells staff 'this is someone else'); a quality failure is reported instead
    so the gate asks for another capture."""
    from examhw.face import FaceVerifier
    live = cv2.GaussianBlur(cv2.imread(str(FACES / "obama_1.jpg")), (0, 0), 8)
    reference = (FACES / "obama_3.jpg").read_bytes()
    with FaceVerifier() as verifier:
        sharp = verifier.verify((FACES / "obama_1.jpg").read_bytes(), reference)
        result = verifier.verify(live, reference)
    assert sharp.decision == "match"                          # same person when the image is good
    assert result.live_faces == 1                             # a face is detected in the blurred frame
    assert result.decision != "no_match", (result.decision, result.reason, result.score)


def test_br25_blank_and_tiny_references_never_decide():
    """BR-25 / R-DEV-GATE: a grey (decode-failure) or 25×31 reference never gives
    match or no_match."""
    import numpy as np
    from examhw.face import FaceVerifier
    live = (FACES / "obama_1.jpg").read_bytes()
    ref = cv2.imread(str(FACES / "obama_3.jpg"))
    tiny = cv2.resize(ref, (25, 31), interpolation=cv2.INTER_AREA)
    grey = np.full((126, 102, 3), 128, np.uint8)
    with FaceVerifier() as verifier:
        for reference in (tiny, grey, b"", b"\xff\xd8\xff\x00garbage"):
            result = verifier.verify(live, reference)
            assert result.decision == "no_face" and result.reason == "reference_unusable"


# ================================================================================================
# Late replies: a reply that arrives after its request timed out is never taken for the next one
# ================================================================================================
def _sam_status_reply(data: bytes) -> bool:
    return len(data) == 11 and data[9] == 0x90                 # AA AA AA 96 69 00 04 00 00 90 94


async def test_late_sam_reply_is_not_taken_for_the_next_request(rig):
    """BR-01 variant / BR-10 / R-DEV-DESK: the SAM status reply arrives 0.3 s
    after the driver gave up on it, while the next request (SAM number) is
    outstanding; that request must get its own reply, not the stale status
    frame (which carries no number)."""
    faults = OnceFault(_sam_status_reply, delay_s=0.8)          # short timeout is ~0.5 s at 115200
    sim, reader = await sam_stack(rig, faults)
    expected = (await reader.sam_id()).text
    faults.armed = True
    with pytest.raises(DeviceTimeout):
        await reader.sam_status()
    assert faults.fired
    number = await reader.sam_id()                            # sent at once: the late reply is under way
    assert number.text == expected


def _rco_reply(data: bytes) -> bool:
    return data.endswith(b"\r") and data[:-1].isdigit()


async def test_late_evolis_reply_is_not_taken_for_the_next_request(rig):
    """BR-01 variant / R-DEV-DESK: the card counter reply (``Rco;c``) arrives
    after its timeout; the next status() must not read that number as the
    status words."""
    faults = OnceFault(_rco_reply, delay_s=0.8)                # timeout_s 0.5
    sim, printer = await evolis_stack(rig, faults)
    faults.armed = True
    with pytest.raises(DeviceTimeout):
        await printer.status()
    assert faults.fired
    st = await printer.status()
    assert st.cards_printed == 0 and st.ready


async def test_late_pad_reply_is_not_taken_for_the_next_request(rig):
    """R-DEV-DESK: a SetResult that arrives after clear() timed out is not taken as
    the Status report asked for next (the driver matches replies to requests)."""
    faults = OnceFault(lambda d: True, delay_s=0.9)
    sim, pad = await stu_stack(rig, faults, timeout_s=0.4)
    faults.armed = True
    with pytest.raises(DeviceTimeout):
        await pad.clear()
    pad.timeout_s = 3.0                                        # its reply queues behind the late one
    st = await pad.status()
    assert st.status_name == "Ready"


async def test_late_nut_reply_is_not_taken_for_the_next_request(rig):
    """R-DEV-POWER: a LIST VAR block arriving after its timeout does not reach the
    next status() (the driver drops the connection after a timeout)."""
    faults = OnceFault(lambda d: d.startswith(b"BEGIN LIST VAR"), delay_s=0.9)
    sim, ups = await nut_stack(rig, faults, timeout_s=0.4)
    faults.armed = True
    with pytest.raises(DeviceTimeout):
        await ups.status()
    st = await ups.status()
    assert st.source == PowerSource.MAINS and st.vars


async def test_late_modbus_reply_is_not_taken_for_the_next_request(rig):
    """R-OPS-SCREEN: a Modbus reply arriving after its timeout (old transaction
    id) is dropped; the next reads get their own replies (no off-by-one shift:
    FC 04 and FC 02 replies never swap)."""
    sim, det = await wtmd_stack(rig)
    sim.endpoint.faults.delay_s = 0.8                          # timeout_s 0.5
    with pytest.raises(DeviceTimeout):
        await det.counters()
    sim.endpoint.faults.delay_s = 0.0
    await sim.model.act("walk_through", metal=True)
    for _ in range(3):
        counters = await det.counters()
    assert (counters.transits, counters.alarms) == (1, 1)


# ================================================================================================
# Slow device: every reply delayed to just under the timeout
# ================================================================================================
async def test_slow_sam_reader_still_reads(rig):
    """R-DEV-GATE: every reply 0.3 s late (short timeout ~0.5 s): a card is still read."""
    faults = FaultPlan()
    sim, reader = await sam_stack(rig, faults)
    sim.model.present_card(card())
    faults.delay_s = 0.3
    assert (await reader.read_card(timeout=2.0)).name == "王示例"


async def test_slow_gate_board_still_answers(rig):
    """R-DEV-GATE: replies 0.15 s late (reply timeout 0.2 s): no retry, one authorisation."""
    faults = FaultPlan()
    sim, gate = await gate_stack(rig, faults)
    faults.delay_s = 0.15
    assert (await gate.status()).state == "closed"
    await gate.open_for(Direction.IN)
    assert sim.model.snapshot()["queue"]["left"] == 1          # authorised exactly once


async def test_slow_ups_server_still_answers(rig):
    """R-DEV-POWER: every reply 0.35 s late (timeout 0.6 s): the UPS is still read."""
    faults = FaultPlan()
    sim, ups = await nut_stack(rig, faults)
    ups.timeout_s = 0.6
    faults.delay_s = 0.35                                     # timeout_s 0.6 per request
    assert (await ups.status()).source == PowerSource.MAINS


async def test_slow_card_printer_still_answers(rig):
    """R-DEV-DESK: every reply 0.25 s late (timeout 0.45 s): status still works."""
    faults = FaultPlan()
    sim, printer = await evolis_stack(rig, faults)
    printer.timeout_s = 0.45
    faults.delay_s = 0.25                                     # timeout_s 0.45 per request
    assert (await printer.status()).ready


async def test_slow_pad_still_answers(rig):
    """R-DEV-DESK / R-OPS-SCORE: pad replies 0.35 s late (timeout 0.6 s): still works."""
    faults = FaultPlan()
    sim, pad = await stu_stack(rig, faults)
    pad.timeout_s = 0.6
    faults.delay_s = 0.35                                     # timeout_s 0.6
    await pad.clear()
    assert sim.model.state.clears == 1


async def test_slow_modbus_module_still_answers(rig):
    """R-DEV-SEC: module replies 0.25 s late (timeout 0.45 s): counters still read."""
    sim, det = await wtmd_stack(rig, timeout_s=0.45)
    sim.endpoint.faults.delay_s = 0.25                        # timeout_s 0.45 per request
    assert (await det.counters()).transits == 0


async def test_slow_ipp_printer_still_answers(rig):
    """R-OPS-SCORE: printer answers 0.35 s late (timeout 0.6 s): status still read."""
    sim, printer = await ipp_stack(rig, timeout_s=0.6)
    sim.endpoint.faults.delay_s = 0.35                        # timeout_s 0.6
    st = await printer.status()
    assert st.state == "idle"


# ================================================================================================
# Concurrent calls on one device from several tasks
# ================================================================================================
async def test_concurrent_sam_calls_do_not_interleave(rig):
    """R-DEV-DESK: ten tasks ask the same reader at once; every answer is right."""
    sim, reader = await sam_stack(rig)
    expected = (await reader.sam_id()).text
    results = await asyncio.gather(*[reader.sam_id() if i % 2 else reader.sam_status() for i in range(10)])
    assert [r.text if i % 2 else r for i, r in enumerate(results)] == \
        [expected if i % 2 else 0x90 for i in range(10)]


async def test_health_while_reader_waits_for_a_card(rig):
    """R-OPS-SELFCHECK / R-DEV-GATE: the gate reader is waiting for a card (read_card
    polling, no card yet) when the site's health check runs. The reader answers
    every poll, so health() must say ok (the check slots in between two polls),
    not report a timeout; the card read then completes."""
    sim, url = await rig.sim(SAM_SIM, "gate-reader")
    reader = rig.driver(SAM, "gate-reader", url, {"poll_s": 0.02}, DriverContext(timeout_s=0.5))
    await reader.open()
    task = asyncio.create_task(reader.read_card(timeout=2.0))
    await wait_until(lambda: sim.model.requests >= 5)
    health = await reader.health()
    sim.model.present_card(card())
    assert (await task).id_number == "110101199003070011"
    assert health.ok, health.detail


async def test_concurrent_gate_calls_do_not_interleave(rig):
    """R-DEV-GATE: ten status polls at once: one exchange at a time, no retry needed."""
    sim, gate = await gate_stack(rig)
    results = await asyncio.gather(*[gate.status() for _ in range(10)])
    assert all(r.state == "closed" for r in results)
    assert sim.model.requests == 11                           # open + 10, no retries needed


async def test_concurrent_pad_calls_do_not_interleave(rig):
    """R-DEV-DESK: status and clear from ten tasks at once: every reply matched."""
    sim, pad = await stu_stack(rig)
    results = await asyncio.gather(*[pad.status() for _ in range(5)], *[pad.clear() for _ in range(5)])
    assert all(r.status_name == "Ready" for r in results[:5])
    assert sim.model.state.clears == 5


async def test_concurrent_ups_status(rig):
    """R-DEV-POWER: eight status() calls and a health check at once."""
    sim, ups = await nut_stack(rig)
    results = await asyncio.gather(*[ups.status() for _ in range(8)], ups.health())
    assert all(r.source == PowerSource.MAINS for r in results[:8]) and results[8].ok


async def test_concurrent_card_printer_status(rig):
    """R-DEV-DESK: eight status() calls (Rst + Rco each) at once."""
    sim, printer = await evolis_stack(rig)
    results = await asyncio.gather(*[printer.status() for _ in range(8)])
    assert all(r.ready and r.cards_printed == 0 for r in results)


async def test_concurrent_modbus_reads(rig):
    """R-DEV-SEC / R-OPS-SCREEN: eight counter reads at once count one passage once."""
    sim, det = await wtmd_stack(rig)
    await sim.model.act("walk_through")
    results = await asyncio.gather(*[det.counters() for _ in range(8)])
    assert all(r.transits == 1 for r in results)


async def test_concurrent_ipp_status(rig):
    """R-OPS-SCORE: eight printer status requests at once."""
    sim, printer = await ipp_stack(rig)
    results = await asyncio.gather(*[printer.status() for _ in range(8)])
    assert all(r.state == "idle" for r in results)


async def test_concurrent_camera_snapshots(rig):
    """R-DEV-SEAT: five snapshots of one camera at once (shared Digest nonce,
    nonce counts racing) all succeed."""
    sim, cam = await camera_stack(rig)
    shots = await asyncio.gather(*[cam.snapshot() for _ in range(5)])
    assert all(s.data[:3] == b"\xff\xd8\xff" for s in shots)


# ================================================================================================
# open() against nothing, a silent peer; calls after close(); close() during a call
# ================================================================================================
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


TCP_DRIVERS = [
    (NUT, "nut://127.0.0.1:{port}/ups1"),
    (EVOLIS, "tcp://127.0.0.1:{port}"),
    (IPP, "ipp://127.0.0.1:{port}/ipp/print"),
    (ONVIF, "onvif://admin@127.0.0.1:{port}"),
    (WTMD, "modbus+tcp://127.0.0.1:{port}?unit=1"),
]
SERIAL_DRIVERS = [SAM, GATE, STU]


def _ctx_for(spec: Any) -> DriverContext:
    """The camera needs a password to sign its requests; the others none."""
    return DriverContext(secrets={"password": "x"} if spec is ONVIF else {})


@pytest.mark.parametrize("spec, url", TCP_DRIVERS, ids=[d.name for d, _ in TCP_DRIVERS])
async def test_open_with_nothing_listening_is_unavailable_fast(rig, spec, url):
    """R-OPS-SELFCHECK: a device that is not there is reported quickly as
    DeviceUnavailable (connection refused), never a hang."""
    drv = rig.driver(spec, "dev", url.format(port=_free_port()), {"timeout_s": 1.0}, _ctx_for(spec))
    _, exc, elapsed = await ends_within(drv.open(), 10.0)
    assert isinstance(exc, DeviceUnavailable), repr(exc)
    assert elapsed < 1.5 and drv.state == ConnState.UNAVAILABLE


@pytest.mark.parametrize("spec", SERIAL_DRIVERS, ids=lambda d: d.name)
async def test_open_missing_serial_port_is_unavailable_fast(rig, spec):
    """R-OPS-SELFCHECK: a serial device whose port does not exist is DeviceUnavailable at once."""
    drv = rig.driver(spec, "dev", f"serial://{rig.tmp_path}/no-such-tty", {"timeout_s": 1.0})
    _, exc, elapsed = await ends_within(drv.open(), 10.0)
    assert isinstance(exc, DeviceUnavailable) and elapsed < 2.0     # not the 3 s open timeout


@pytest.fixture
async def silent_server():
    """A TCP peer that accepts and reads but never answers."""
    conns: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conns.append(writer)
        while await reader.read(65536):
            pass

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    for w in conns:
        w.close()
    await server.wait_closed()


@pytest.mark.parametrize("spec, url", TCP_DRIVERS, ids=[d.name for d, _ in TCP_DRIVERS])
async def test_open_against_silent_peer_is_bounded(rig, silent_server, spec, url):
    """R-OPS-SELFCHECK: a peer that accepts the connection but never answers
    makes open() fail with a device error within 3 × timeout_s (+ slack)."""
    drv = rig.driver(spec, "dev", url.format(port=silent_server), {"timeout_s": 0.2}, _ctx_for(spec))
    _, exc, elapsed = await ends_within(drv.open(), 10.0)
    assert isinstance(exc, (DeviceUnavailable, DeviceTimeout)), repr(exc)
    assert elapsed < 3 * 0.2 + 1.0


async def _calls_after_close(drv: Any, calls: list[Callable[[], Awaitable[Any]]]) -> None:
    await drv.close()
    await drv.close()                                          # twice: never raises
    for call in calls:
        _, exc, elapsed = await ends_within(call(), 5.0)
        assert isinstance(exc, DeviceUnavailable), (call, repr(exc))
        assert elapsed < 2.0                          # at once, not after the 5 s bound
    assert drv.state == ConnState.CLOSED
    assert not (await drv.health()).ok


async def test_calls_after_close_sam(rig):
    """R-DEV-GATE: every call on a closed reader is DeviceUnavailable at once (no reopen, no hang)."""
    sim, d = await sam_stack(rig)
    await _calls_after_close(d, [lambda: d.read_card(timeout=0.5), d.sam_status, d.sam_id, d.reset,
                                 d.read_new_address])


async def test_calls_after_close_gate(rig):
    """R-DEV-GATE: every call on a closed gate is DeviceUnavailable at once."""
    sim, d = await gate_stack(rig)
    await _calls_after_close(d, [d.status, lambda: d.open_for(Direction.IN),
                                 lambda: d.wait_passage(Direction.IN, timeout=0.5), d.alarm])


async def test_calls_after_close_pad(rig):
    """R-DEV-DESK: every call on a closed pad is DeviceUnavailable at once."""
    sim, d = await stu_stack(rig)
    await _calls_after_close(d, [d.status, d.clear, lambda: d.capture(timeout=0.5)])


async def test_calls_after_close_ups(rig):
    """R-DEV-POWER: every call on a closed UPS driver is DeviceUnavailable at once."""
    sim, d = await nut_stack(rig)
    await _calls_after_close(d, [d.status, d.vars])


async def test_calls_after_close_card_printer(rig):
    """R-DEV-DESK: every call on a closed card printer is DeviceUnavailable at once."""
    sim, d = await evolis_stack(rig)
    await _calls_after_close(d, [d.status, d.reset])


async def test_calls_after_close_ipp(rig):
    """R-OPS-SCORE: every call on a closed document printer is DeviceUnavailable at once."""
    sim, d = await ipp_stack(rig)
    await _calls_after_close(d, [d.status, lambda: d.print_pdf(b"%PDF-1.4\n", title="t", timeout=1.0)])


async def test_calls_after_close_wtmd(rig):
    """R-DEV-SEC: every call on a closed detector is DeviceUnavailable at once."""
    sim, d = await wtmd_stack(rig)
    await _calls_after_close(d, [d.counters, lambda: d.wait_transit(timeout=0.5)])


async def test_calls_after_close_camera(rig):
    """R-DEV-SEAT: every call on a closed camera is DeviceUnavailable at once."""
    sim, d = await camera_stack(rig)
    await _calls_after_close(d, [d.snapshot, d.profiles, d.stream_uri, d.clock_offset])


async def test_open_close_open_again(rig):
    """A closed driver can be opened again and works."""
    sim, reader = await sam_stack(rig)
    await reader.close()
    await reader.open()
    assert await reader.sam_status() == 0x90


async def _pending_read_is_woken_by_close(stream: Any) -> None:
    task = asyncio.create_task(stream.read_some(0.4))
    await asyncio.sleep(0)                                      # let it start waiting
    await stream.close()
    _, exc, elapsed = await ends_within(task, 5.0)
    assert isinstance(exc, DeviceUnavailable), repr(exc)
    assert elapsed < 2.0                              # at once, not after the read's 5 s timeout


async def test_close_wakes_pending_serial_read(rig):
    """A reader blocked on a serial stream is released by close() with
    DeviceUnavailable at once (not after its timeout, not as a timeout)."""
    sim, url = await rig.sim(SAM_SIM, "closer")
    stream = await open_serial(DeviceURL.parse(url))
    await _pending_read_is_woken_by_close(stream)


async def test_close_wakes_pending_tcp_read(rig):
    """The same on a TCP stream (NUT, Evolis): close() releases a blocked reader at once."""
    sim, url = await rig.sim(NUT_SIM, "closer")
    stream = await open_tcp(DeviceURL.parse(url), default_port=3493)
    await _pending_read_is_woken_by_close(stream)


# ================================================================================================
# Simulators fed garbage over their real transport keep serving
# ================================================================================================
def _garbage(seed: int, n: int, alphabet: bytes | None = None) -> bytes:
    rng = random.Random(seed)
    if alphabet is None:
        return bytes(rng.randrange(256) for _ in range(n))
    return bytes(rng.choice(alphabet) for _ in range(n))


async def _spray_serial(url: str, chunks: list[bytes]) -> None:
    stream = await open_serial(DeviceURL.parse(url))
    try:
        for chunk in chunks:
            await stream.write(chunk)
        stream.discard_input()
    finally:
        await stream.close()


async def test_sam_sim_survives_garbage_on_its_pty(rig):
    """The simulated reader answers bad frames with statuses and keeps serving."""
    sim, url = await rig.sim(SAM_SIM, "gate-reader")
    preamble = b"\xaa\xaa\xaa\x96\x69"
    chunks = [_garbage(1, 3000), preamble + b"\xff\xff" + _garbage(2, 100), preamble + b"\x00\x00",
              preamble + b"\x00\x03\x20\x01\x00", _garbage(3, 2000, preamble + b"\x00\x03\x20\x01\x22")]
    await _spray_serial(url, chunks)
    reader = rig.driver(SAM, "gate-reader", url, {"poll_s": 0.02}, DriverContext(timeout_s=2.0))
    await reader.open()
    sim.model.present_card(card())
    assert (await reader.read_card(timeout=1.0)).name == "王示例"


async def test_gate_sim_survives_garbage_on_its_pty(rig):
    """The simulated gate board ignores corrupt requests and keeps serving (R-DEV-GATE)."""
    sim, url = await rig.sim(GATE_SIM, "gate1", clock=ScaledClock(10.0))
    await _spray_serial(url, [_garbage(4, 3000), _garbage(5, 2000, b"\x7e\x00\x01\x10\xff")])
    gate = rig.driver(GATE, "gate1", url, {"reply_timeout_s": 0.2})
    await gate.open()
    assert (await gate.status()).state == "closed"


async def test_pad_sim_survives_garbage_on_its_pty(rig):
    """The simulated pad survives noise and corrupt frames and keeps serving (R-DEV-DESK)."""
    sim, url = await rig.sim(STU_SIM, "desk-pad")
    await _spray_serial(url, [_garbage(6, 3000), _garbage(7, 2000, b"\x80\xc0\xff\x7f\x00\x01")])
    pad = rig.driver(STU, "desk-pad", url, {"timeout_s": 1.0})
    await pad.open()
    await pad.clear()
    assert sim.model.state.clears == 1


async def _spray_tcp(port: int, chunks: list[bytes], *, read: bool = True) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    got = b""
    try:
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
        writer.write_eof() if writer.can_write_eof() else None
        if read:
            try:
                while True:
                    data = await asyncio.wait_for(reader.read(65536), 2.0)
                    if not data:
                        break
                    got += data
            except (asyncio.TimeoutError, ConnectionError):
                pass
    finally:
        writer.close()
    return got


async def test_nut_sim_survives_garbage_over_tcp(rig):
    """The NUT simulator answers garbage, an over-long line and bad quoting with
    ERR lines and keeps serving (R-DEV-POWER)."""
    sim, url = await rig.sim(NUT_SIM, "ups")
    port = DeviceURL.parse(url).port
    got = await _spray_tcp(port, [_garbage(8, 5000), b"\n", b"A" * 70000 + b"\n", "GET VAR ups1 \"é\xff".encode(),
                                  b'\n"unterminated\nVER\n'])
    assert got.endswith(b"\n") and b"examhw NUT simulator" in got
    ups = rig.driver(NUT, "ups", url, {}, DriverContext(timeout_s=1.0))
    await ups.open()
    assert (await ups.status()).source == PowerSource.MAINS


async def test_evolis_sim_survives_garbage_over_tcp(rig):
    """The Evolis simulator survives noise and a truncated panel download (R-DEV-DESK)."""
    sim, url = await rig.sim(EVOLIS_SIM, "card_printer", clock=ScaledClock(400.0))
    port = DeviceURL.parse(url).port
    await _spray_tcp(port, [_garbage(9, 5000), b"\x1bDb;k;2;" + _garbage(10, 1000),
                            _garbage(11, 3000, b"\x1b\r;DbcRst0129")], read=False)
    printer = rig.driver(EVOLIS, "card_printer", url, {"timeout_s": 0.5}, DriverContext(clock=ScaledClock(400.0)))
    await printer.open()
    assert (await printer.status()).ready


async def test_wtmd_sim_survives_garbage_over_modbus_tcp(rig):
    """The Modbus simulator survives noise, an MBAP with a huge length and a bad protocol id (R-DEV-SEC)."""
    sim, url = await rig.sim(WTMD_SIM, "wtmd")
    port = DeviceURL.parse(url).port
    mbap_huge = struct.pack(">HHHB", 1, 0, 0xFFFF, 1) + b"\x02\x00\x00\x00\x08"
    await _spray_tcp(port, [_garbage(12, 4000)], read=False)
    await _spray_tcp(port, [mbap_huge, _garbage(13, 300)], read=False)
    await _spray_tcp(port, [struct.pack(">HHHB", 2, 7, 6, 1) + b"\x02\x00\x00\x00\x08"], read=False)
    det = rig.driver(WTMD, "wtmd", url, {"timeout_s": 0.5})
    await det.open()
    await sim.model.act("walk_through")
    assert (await det.counters()).transits == 1


async def _post(url: str, body: bytes, content_type: str, headers: dict | None = None) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as s:
        async with s.post(url, data=body, headers={"Content-Type": content_type, **(headers or {})}) as r:
            return r.status, await r.read()


async def test_ipp_sim_answers_garbage_bodies_with_ipp_errors(rig):
    """Random bodies (with a plausible header) get an IPP bad-request answer or an
    HTTP 400, never an HTTP 500; the simulator keeps printing afterwards."""
    sim, url = await rig.sim(IPP_SIM, "doc_printer", clock=ScaledClock(200.0))
    http = f"http://127.0.0.1:{sim.endpoint.port}/ipp/print"
    rng = random.Random(14)
    for i in range(40):
        body = bytes([1, 1, 0, 0x0B]) + struct.pack(">I", i + 1) + bytes(rng.randrange(256)
                                                                          for _ in range(rng.randrange(0, 200)))
        status, payload = await _post(http, body, "application/ipp")
        assert status in (200, 400), (status, body)
        if status == 200:
            assert ippc.decode(payload).request_id == i + 1
    printer = rig.driver(IPP, "doc_printer", url, {"timeout_s": 1.0}, DriverContext(clock=ScaledClock(200.0)))
    await printer.open()
    assert (await printer.status()).state == "idle"


def _ipp_request(op: int, rid: int, *attrs: tuple[str, int, bytes]) -> bytes:
    """A request body built by hand (values as raw bytes, so any UTF-8 fits)."""
    out = bytearray(struct.pack(">BBHI", 1, 1, op, rid)) + b"\x01"
    for name, tag, value in (("attributes-charset", 0x47, b"utf-8"),
                             ("attributes-natural-language", 0x48, b"en"), *attrs):
        out += bytes([tag]) + struct.pack(">H", len(name)) + name.encode() + struct.pack(">H", len(value)) + value
    return bytes(out + b"\x03")


async def test_ipp_sim_job_uri_with_unicode_digit_is_an_ipp_error(rig):
    """A Get-Job-Attributes whose job-uri ends in '²' (str.isdigit() is true,
    int() fails) must get an IPP not-found/bad-request, not an HTTP 500."""
    sim, url = await rig.sim(IPP_SIM, "doc_printer")
    http = f"http://127.0.0.1:{sim.endpoint.port}/ipp/print"
    body = _ipp_request(0x0009, 7, ("job-uri", 0x45, f"{url}/²".encode()))
    status, payload = await _post(http, body, "application/ipp")
    assert status == 200
    assert ippc.decode(payload).code in (0x0400, 0x0406)


async def test_ipp_sim_long_document_format_is_an_ipp_error(rig):
    """A Print-Job with a 65535-byte document-format (one legal value) must get
    client-error-document-format-not-supported, not an HTTP 500."""
    sim, url = await rig.sim(IPP_SIM, "doc_printer")
    http = f"http://127.0.0.1:{sim.endpoint.port}/ipp/print"
    body = _ipp_request(0x0002, 8, ("printer-uri", 0x45, url.encode()),
                        ("document-format", 0x49, b"x" * 65535))
    status, payload = await _post(http, body, "application/ipp")
    assert status == 200
    assert ippc.decode(payload).code == 0x040A


async def test_camera_sim_answers_garbage_soap_with_faults(rig):
    """Random and malformed SOAP bodies get SOAP fault envelopes (4xx/5xx with a
    SOAP body), the camera keeps serving the driver."""
    sim, url = await rig.sim(CAMERA_SIM, "seat-001", secrets={"password": CAM_PASSWORD})
    base = sim.base_url
    rng = random.Random(15)
    bodies = [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 400))) for _ in range(10)]
    bodies += [b"<a>", b"<?xml version='1.0'?><x/>", b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>",
               b"<Envelope xmlns='http://www.w3.org/2003/05/soap-envelope'><Body/></Envelope>",
               b"<e:Envelope xmlns:e='http://www.w3.org/2003/05/soap-envelope'><e:Body><q/></e:Body></e:Envelope>",
               "<é/>".encode("utf-16")]
    for body in bodies:
        status, payload = await _post(base + "/onvif/device_service", body, "application/soap+xml")
        assert status in (400, 500) and b"Fault" in payload, (status, body[:40])
    cam = rig.driver(ONVIF, "seat-001", url, {"timeout_s": 2.0}, DriverContext(secrets={"password": CAM_PASSWORD}))
    await cam.open()
    assert (await cam.snapshot()).width == 640


def _soap_with_created(created: str) -> bytes:
    return (f'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" '
            f'xmlns:s="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" '
            f'xmlns:u="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">'
            f'<e:Header><s:Security><s:UsernameToken><s:Username>admin</s:Username>'
            f'<s:Password>AAAA</s:Password><s:Nonce>AAAA</s:Nonce><u:Created>{created}</u:Created>'
            f'</s:UsernameToken></s:Security></e:Header><e:Body>'
            f'<GetDeviceInformation xmlns="http://www.onvif.org/ver10/device/wsdl"/></e:Body></e:Envelope>').encode()


async def test_camera_sim_out_of_range_created_is_not_authorized(rig):
    """BR-15: a token whose Created is 9999-12-31T23:59:59-23:59 (beyond year 9999
    in UTC) is refused like any bad timestamp: 400 ter:NotAuthorized, counted as
    bad_created — not a 500 internal error."""
    sim, url = await rig.sim(CAMERA_SIM, "seat-001", secrets={"password": CAM_PASSWORD})
    status, payload = await _post(sim.base_url + "/onvif/device_service",
                                  _soap_with_created("9999-12-31T23:59:59-23:59"), "application/soap+xml")
    assert status == 400 and b"NotAuthorized" in payload
    assert sim.model.auth_failures.get("bad_created") == 1


async def test_camera_sim_non_ascii_digest_response_is_401(rig):
    """BR-17: a Digest answer whose response field holds non-ASCII bytes is
    refused with 401 (and a fresh challenge), not an HTTP 500."""
    sim, url = await rig.sim(CAMERA_SIM, "seat-001", secrets={"password": CAM_PASSWORD})
    path = sim.services.snapshot_path()
    auth = (f'Digest username="admin", realm="examhw-camera", nonce="abc", uri="{path}", '
            f'response="\xe9\xe9"').encode("latin-1")
    reader, writer = await asyncio.open_connection("127.0.0.1", sim._endpoint.port)
    try:
        writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: "
                     + auth + b"\r\n\r\n")
        head = await asyncio.wait_for(reader.readline(), 5.0)
    finally:
        writer.close()
    assert head.split()[1] == b"401", head
    cam = rig.driver(ONVIF, "seat-001", url, {"timeout_s": 2.0}, DriverContext(secrets={"password": CAM_PASSWORD}))
    await cam.open()
    assert (await cam.snapshot()).width == 640


async def test_http_sims_survive_non_http_bytes(rig):
    """Raw garbage on the HTTP port of the camera and the IPP printer: both keep
    serving."""
    cam_sim, cam_url = await rig.sim(CAMERA_SIM, "seat-001", secrets={"password": CAM_PASSWORD})
    ipp_sim, ipp_url = await rig.sim(IPP_SIM, "doc_printer")
    for port in (cam_sim._endpoint.port, ipp_sim.endpoint.port):
        await _spray_tcp(port, [_garbage(16, 3000)])
        await _spray_tcp(port, [b"POST /ipp/print HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\nabc"], read=False)
    cam = rig.driver(ONVIF, "seat-001", cam_url, {"timeout_s": 2.0}, DriverContext(secrets={"password": CAM_PASSWORD}))
    await cam.open()
    printer = rig.driver(IPP, "doc_printer", ipp_url, {"timeout_s": 1.0})
    await printer.open()
    assert (await printer.status()).state == "idle"


# ================================================================================================
# Forged card data through the real reader
# ================================================================================================
async def test_forged_card_with_unicode_digit_in_id_number_is_typed(rig):
    """R-OPS-CHECKIN / R-SEC-TAMPER: a forged or damaged card whose ID number holds
    '²' (a character Python calls a digit) must be read with a warning and an
    invalid ID number, or refused with a typed examhw error — never crash with an
    untyped exception."""
    sim, reader = await sam_stack(rig)
    sim.model.present_card(card(id_number="1101011990030700²1"))
    try:
        got = await reader.read_card(timeout=1.0)
    except ExamHwError:
        return
    assert not got.id_number_valid


# ================================================================================================
# BR-15: a camera reporting an absurd clock
# ================================================================================================
async def test_br15_camera_reporting_absurd_year_is_a_typed_error(rig):
    """BR-15 / R-DEV-SEAT: after a power cut a camera's RTC reports garbage (a
    20-digit year). clock_offset() must raise a typed ProtocolError, and
    health() must report not-ok — never an untyped OverflowError."""
    from examhw_simulators.camera.soap import envelope
    sim, cam = await camera_stack(rig)
    garbage_year = ("<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
                    "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
                    "<tt:UTCDateTime><tt:Time><tt:Hour>0</tt:Hour><tt:Minute>0</tt:Minute><tt:Second>0</tt:Second>"
                    "</tt:Time><tt:Date><tt:Year>99999999999999999999</tt:Year><tt:Month>1</tt:Month>"
                    "<tt:Day>1</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime>"
                    "</tds:GetSystemDateAndTimeResponse>")
    sim.services._handlers["GetSystemDateAndTime"] = lambda req, base: envelope(garbage_year)
    _, exc, _ = await ends_within(cam.clock_offset(), 10.0)
    assert isinstance(exc, ProtocolError), repr(exc)
    health = await cam.health()
    assert not health.ok
