"""The 7E/7F gate driver against the simulated gate board over a real pty.

The simulator runs on a ScaledClock so the board's 8 s passage wait time
takes a fraction of a real second."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import pytest

from examhw import (ChecksumError, DeviceFault, DeviceTimeout, DeviceUnavailable, DeviceURL, ProtocolError,
                    ScaledClock)
from examhw.kinds import ConnState, DriverContext
from examhw.kinds.turnstile import Direction, GateMode, PassageResult
from examhw.sim.base import SimContext
from examhw.sim.faults import FaultPlan
from examhw_drivers.gate_7e7f import DRIVER, Gate7E7F
from examhw_simulators.gate import SIMULATOR, GateModel, GateSimulator

SPEED = 10.0          # site seconds per real second: wait time 8 s -> 0.8 real s
FAST = 40.0           # for the wait-time test: 8 s -> 0.2 real s


@dataclass
class Rig:
    sim: GateSimulator
    gate: Gate7E7F
    faults: FaultPlan

    @property
    def model(self) -> GateModel:
        return self.sim.model


async def make_rig(tmp_path, *, sim_options=None, driver_options=None, speed=SPEED) -> Rig:
    faults = FaultPlan()
    ctx = SimContext(role="gate1", options=sim_options or {}, clock=ScaledClock(speed),
                     run_dir=tmp_path, faults=faults)
    sim = SIMULATOR.factory(ctx)
    url = await sim.start()
    opts = {"reply_timeout_s": 0.2, **(driver_options or {})}
    gate = DRIVER.factory("gate1", DeviceURL.parse(url), opts, DriverContext(timeout_s=2.0))
    return Rig(sim, gate, faults)


@pytest.fixture
async def rig(tmp_path):
    r = await make_rig(tmp_path)
    await r.gate.open()
    yield r
    await r.gate.close()
    await r.sim.stop()


def test_specs_name_each_other():
    assert DRIVER.simulator == SIMULATOR.name == "examhw.sim.gate-7e7f"
    assert DRIVER.name == "examhw.gate-7e7f" and DRIVER.schemes == ("serial",)
    assert SIMULATOR.transport == "pty" and DRIVER.kind == SIMULATOR.kind


async def test_open_reads_firmware_and_health(rig):
    assert rig.gate.info.firmware == "0x23"
    health = await rig.gate.health()
    assert health.ok and "state=closed" in health.detail


async def test_one_authorised_passage(rig):
    """R-DEV-GATE: on a successful check the gate opens for one passage."""
    events = rig.gate.events.subscribe("passage_done")
    await rig.gate.open_for(Direction.IN)
    st = await rig.gate.status()
    assert st.open_direction == Direction.IN and st.mode == GateMode.NORMAL
    waiter = asyncio.create_task(rig.gate.wait_passage(Direction.IN, timeout=3.0))
    await wait_for(lambda: rig.model.requests >= 4)          # driver is polling
    assert rig.model.walk_through("in") == "passed"
    assert await waiter == PassageResult.PASSED
    ev = await events.get(timeout=1)
    assert ev.data["direction"] == "in" and ev.data["count"] == 1
    st = await rig.gate.status()
    assert (st.count_in, st.count_out) == (1, 0)
    assert st.state in ("closing", "closed")


async def test_two_passes_need_two_people(rig):
    await rig.gate.open_for(Direction.OUT, passes=2)
    rig.model.walk_through("out")
    waiter = asyncio.create_task(rig.gate.wait_passage(Direction.OUT, timeout=3.0))
    await wait_for(lambda: rig.model.requests >= 4)
    assert not waiter.done()
    rig.model.walk_through("out")
    assert await waiter == PassageResult.PASSED
    assert (await rig.gate.status()).count_out == 2


async def test_nobody_walks_times_out_after_board_wait_time(tmp_path):
    rig = await make_rig(tmp_path, speed=FAST)
    await rig.gate.open()
    try:
        events = rig.gate.events.subscribe("passage_timeout")
        t0 = time.monotonic()
        await rig.gate.open_for(Direction.IN)
        result = await rig.gate.wait_passage(Direction.IN, timeout=5.0)
        elapsed = time.monotonic() - t0
        assert result == PassageResult.TIMEOUT
        assert 8.0 / FAST * 0.9 <= elapsed < 2.0        # the board's wait time, not our deadline
        assert rig.model.snapshot()["timeouts"]["left"] == 1
        assert (await events.get(timeout=1)).data["direction"] == "in"
    finally:
        await rig.gate.close()
        await rig.sim.stop()


async def test_deadline_without_board_timeout(tmp_path):
    r = await make_rig(tmp_path, speed=1.0)            # real time: the board waits 8 s
    await r.gate.open()
    try:
        await r.gate.open_for(Direction.IN)
        t0 = time.monotonic()
        assert await r.gate.wait_passage(Direction.IN, timeout=0.15) == PassageResult.TIMEOUT
        assert time.monotonic() - t0 < 1.0
        snap = r.model.snapshot()                       # the authorisation was revoked
        assert snap["queue"]["left"] == 0 and snap["state"] in ("closing", "closed")
    finally:
        await r.gate.close()
        await r.sim.stop()


async def test_tailgating(rig):
    events = rig.gate.events.subscribe("tailgating")
    await rig.gate.open_for(Direction.IN)
    assert rig.model.walk_through("in", people=2) == "tailgating"
    assert await rig.gate.wait_passage(Direction.IN, timeout=3.0) == PassageResult.TAILGATE
    assert (await events.get(timeout=1)).data["direction"] == "in"
    st = await rig.gate.status()
    assert "tailgating" in st.alarms and st.count_in == 1


async def test_reverse_intrusion(rig):
    events = rig.gate.events.subscribe("intrusion")
    await rig.gate.open_for(Direction.IN)
    assert rig.model.walk_through("out") == "reverse_intrusion"
    assert await rig.gate.wait_passage(Direction.IN, timeout=3.0) == PassageResult.REVERSED
    assert (await events.get(timeout=1)).data["kind"] == "reverse"


async def test_refused_candidate_alarm_and_gate_stays_shut(rig):
    """R-DEV-GATE / R-OPS-SCREEN: a refused (or unscreened) candidate gets an
    alarm and the gate stays shut; walking anyway is a forced entry, not counted."""
    intrusions = rig.gate.events.subscribe("intrusion")
    await rig.gate.alarm(3.0)
    assert rig.model.alarms_sounded == 1
    st = await rig.gate.status()
    assert "buzzer" in st.alarms
    assert st.state == "closed" and st.open_direction is None and not (st.open_in or st.open_out)
    assert rig.model.walk_through("in") == "forced_entry"
    st = await rig.gate.status()
    assert st.count_in == 0 and "forced_entry" in st.alarms
    assert (await intrusions.get(timeout=1)).data["kind"] == "forced"
    assert not any(h.what.startswith("authorised") for h in rig.model.history)


async def test_fire_alarm_opens_both_ways_and_is_not_overridden(rig):
    """R-OPS-EMERGENCY: in a fire alarm every gate opens freely; a normal
    close does not override it until the fire input is released."""
    events = rig.gate.events.subscribe("emergency_open", "emergency_cleared")
    await rig.gate.set_mode(GateMode.LOCKED)
    rig.model.fire_alarm(True)
    st = await rig.gate.status()
    assert st.mode == GateMode.EMERGENCY
    assert st.open_in and st.open_out and st.state == "emergency"
    assert (await events.get(timeout=1)).type == "emergency_open"
    with pytest.raises(DeviceFault) as exc:
        await rig.gate.set_mode(GateMode.NORMAL)
    assert exc.value.code == 0x04
    with pytest.raises(DeviceFault):
        await rig.gate.open_for(Direction.IN)
    with pytest.raises(DeviceFault):
        await rig.gate.set_mode(GateMode.LOCKED)
    st = await rig.gate.status()
    assert st.mode == GateMode.EMERGENCY and st.open_in and st.open_out
    assert rig.model.walk_through("in", people=3) == "free"
    assert rig.model.walk_through("out") == "free"
    rig.model.fire_alarm(False)
    await rig.gate.set_mode(GateMode.NORMAL)
    st = await rig.gate.status()
    assert st.mode == GateMode.NORMAL and st.forbidden == frozenset()
    assert (await events.get(timeout=1)).type == "emergency_cleared"


async def test_commanded_emergency_and_modes(rig):
    """R-OPS-EMERGENCY: the site can also command the free-open."""
    await rig.gate.set_mode(GateMode.EMERGENCY)
    assert (await rig.gate.status()).mode == GateMode.EMERGENCY
    await rig.gate.set_mode(GateMode.NORMAL)
    assert (await rig.gate.status()).mode == GateMode.NORMAL
    await rig.gate.set_mode(GateMode.LOCKED)
    st = await rig.gate.status()
    assert st.mode == GateMode.LOCKED and st.forbidden == {Direction.IN, Direction.OUT}
    with pytest.raises(DeviceFault) as exc:
        await rig.gate.open_for(Direction.IN)
    assert exc.value.code == 0x04
    await rig.gate.set_mode(GateMode.FREE)
    st = await rig.gate.status()
    assert st.mode == GateMode.FREE and st.open_in and st.open_out
    await rig.gate.set_mode(GateMode.NORMAL)
    await wait_for(lambda: rig.model.state_name() == "closed")
    assert (await rig.gate.status()).state == "closed"


async def test_board_fault_is_reported(rig):
    events = rig.gate.events.subscribe("fault", "fault_cleared")
    rig.model.inject_fault("motor")
    st = await rig.gate.status()
    assert st.faults == {"motor"}
    ev = await events.get(timeout=1)
    assert ev.type == "fault" and ev.data["faults"] == ["motor"]
    with pytest.raises(DeviceFault) as exc:
        await rig.gate.open_for(Direction.IN)
    assert exc.value.code == 0x01
    rig.model.inject_fault("low_voltage")
    st = await rig.gate.status()
    assert st.faults == {"motor", "low_voltage"} and st.supply_v == 19.0
    rig.model.clear_fault()
    st = await rig.gate.status()
    assert st.faults == frozenset() and st.supply_v == 24.0
    assert [e.type for e in events.pending()][-1] == "fault_cleared"


async def test_silent_board_times_out(rig):
    rig.faults.drop = 2                    # request and its retry both unanswered
    t0 = time.monotonic()
    with pytest.raises(DeviceTimeout):
        await rig.gate.status()
    assert time.monotonic() - t0 < 1.0
    assert rig.model.requests >= 3         # the board heard both attempts
    assert rig.gate.state == ConnState.READY   # BR-05: a silent unit does not reset the port
    assert (await rig.gate.status()).state == "closed"


async def test_one_lost_reply_is_retried(rig):
    rig.faults.drop = 1
    assert (await rig.gate.status()).state == "closed"


async def test_garbled_reply_is_retried(rig):
    rig.faults.garble = 1
    assert (await rig.gate.status()).state == "closed"
    assert rig.faults.garble == 0


async def test_garbled_open_reply_does_not_authorise_twice(rig):
    rig.faults.garble = 1
    await rig.gate.open_for(Direction.IN)
    assert rig.model.snapshot()["queue"]["left"] == 1
    rig.model.walk_through("in")
    assert await rig.gate.wait_passage(Direction.IN, timeout=3.0) == PassageResult.PASSED


async def test_twice_garbled_reply_raises_typed_error(rig):
    rig.faults.garble = 2
    with pytest.raises((ChecksumError, DeviceTimeout)):
        await rig.gate.status()


async def test_split_and_noisy_replies(rig):
    rig.faults.split, rig.faults.chunk = 1, 5
    assert (await rig.gate.status()).state == "closed"
    rig.faults.prefix = b"\x7f\x00\x13\x00"
    assert (await rig.gate.status()).state == "closed"
    rig.faults.split, rig.faults.chunk, rig.faults.prefix = 1, 1, b"\x55\x7f"
    assert (await rig.gate.status()).state == "closed"


async def test_counter_wraps_at_2_pow_24(rig):
    rig.model.set_counters(left=0xFFFFFF)
    assert (await rig.gate.status()).count_in == 0xFFFFFF
    await rig.gate.open_for(Direction.IN)
    rig.model.walk_through("in")
    events = rig.gate.events.subscribe("passage_done")
    assert await rig.gate.wait_passage(Direction.IN, timeout=3.0) == PassageResult.PASSED
    assert (await events.get(timeout=1)).data["count"] == 1
    assert (await rig.gate.status()).count_in == 0


async def test_unplug_is_unavailable_then_recovers(rig):
    """BR-06: a pulled adapter is reported, and the driver reopens after replug."""
    await rig.sim.unplug()
    with pytest.raises(DeviceUnavailable):
        await rig.gate.status()
    assert rig.gate.state == ConnState.UNAVAILABLE
    with pytest.raises(DeviceUnavailable):
        await rig.gate.status()            # still gone: reopen fails fast
    await rig.sim.replug()
    deadline = time.monotonic() + 5.0
    while True:
        try:
            st = await rig.gate.status()
            break
        except DeviceUnavailable:
            assert time.monotonic() < deadline, "driver did not recover after replug"
            await asyncio.sleep(0.05)
    assert st.state == "closed" and rig.gate.state == ConnState.READY


async def test_other_machine_number_is_silent(tmp_path):
    """BR-05 / multi-drop: a board ignores frames for other machine numbers."""
    r = await make_rig(tmp_path, sim_options={"address": 3}, driver_options={"address": 4})
    try:
        with pytest.raises(DeviceTimeout):
            await r.gate.open()
        assert r.model.ignored_requests == 2 and r.model.requests == 0
    finally:
        await r.gate.close()
        await r.sim.stop()


async def test_reply_from_wrong_machine_number_is_a_protocol_error(rig):
    """The reply's machine number must match the request's."""
    real = rig.model.handle

    def renumbered(req):
        reply = real(req)
        body = reply[:2] + b"\x09" + reply[3:17]
        return body + bytes([(~sum(body)) & 0xFF])

    rig.model.handle = renumbered
    with pytest.raises(ProtocolError) as exc:
        await rig.gate.status()
    assert type(exc.value) is ProtocolError and "machine [9]" in str(exc.value)


async def test_addressed_board_and_in_direction_right(tmp_path):
    r = await make_rig(tmp_path, sim_options={"address": "7", "in_side": "right"},
                       driver_options={"address": 7, "in_direction": "right"})
    await r.gate.open()
    try:
        await r.gate.open_for(Direction.IN)
        assert r.model.snapshot()["queue"] == {"left": 0, "right": 1}
        assert r.model.walk_through("in") == "passed"
        assert await r.gate.wait_passage(Direction.IN, timeout=3.0) == PassageResult.PASSED
        st = await r.gate.status()
        assert (st.count_in, st.count_out) == (1, 0)
        await r.gate.reset_counter(Direction.IN)
        assert (await r.gate.status()).count_in == 0
    finally:
        await r.gate.close()
        await r.sim.stop()


async def test_board_extras(rig):
    await rig.gate.set_wait_time(2)
    assert rig.model.wait_time_s == 2.0
    await rig.gate.set_mode(GateMode.LOCKED)
    await rig.gate.restart()
    assert (await rig.gate.status()).mode == GateMode.NORMAL


async def wait_for(predicate, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)
