"""The WTMD driver (examhw.wtmd-modbus) against its simulator over Modbus
TCP on loopback (R-DEV-SEC: the security area's walk-through detector;
R-OPS-SCREEN: every candidate is screened, an alarm is never lost and a
passage is never credited to the wrong person), plus hand-built frames that
check the simulator against the Modbus specification and hypothesis tests
of the driver's pure decoding."""
import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from examhw.clock import ScaledClock
from examhw.errors import ConfigError, DeviceFault, DeviceTimeout, DeviceUnavailable
from examhw.kinds import ConnState, DetectorCounters, DeviceKind, DriverContext, MetalDetector
from examhw.sim import SimContext
from examhw.urls import DeviceURL
from examhw_drivers.wtmd_modbus import DRIVER
from examhw_drivers.wtmd_modbus.signals import (Change, DetectorInputs, Reading, TransitTracker,
                                                counter_delta)
from examhw_simulators.wtmd import SIMULATOR, WtmdModbusSimulator


# -- helpers ------------------------------------------------------------------------
@pytest.fixture
async def make_sim(tmp_path):
    sims = []

    async def make(**options):
        sim = WtmdModbusSimulator(SimContext(role="wtmd", run_dir=tmp_path, options=options))
        await sim.start()
        sims.append(sim)
        return sim

    yield make
    for sim in sims:
        await sim.stop()


@pytest.fixture
async def make_det():
    dets = []

    async def make(url, options=None, ctx=None, open=True):
        det = DRIVER.factory("wtmd", DeviceURL.parse(url), {"timeout_s": 0.5, **(options or {})},
                             ctx or DriverContext())
        dets.append(det)
        if open:
            await det.open()
        return det

    yield make
    for det in dets:
        await det.close()


async def wait_until(predicate, timeout=2.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


async def armed_wait(det, timeout):
    """Start wait_transit and return once it is watching (its 'armed' event)."""
    sub = det.events.subscribe("armed")
    task = asyncio.ensure_future(det.wait_transit(timeout=timeout))
    armed = asyncio.ensure_future(sub.get())
    await asyncio.wait({task, armed}, timeout=2.0, return_when=asyncio.FIRST_COMPLETED)
    armed.cancel()
    sub.close()
    return task


# -- registration ---------------------------------------------------------------------
def test_driver_spec_names_its_simulator():
    assert DRIVER.name == "examhw.wtmd-modbus" and DRIVER.kind == DeviceKind.METAL_DETECTOR
    assert DRIVER.schemes == ("modbus+tcp",) and DRIVER.simulator == SIMULATOR.name
    assert {"unit", "poll_s", "active_low"} <= set(DRIVER.options)


async def test_sim_url_is_loopback_modbus_with_unit(make_sim):
    sim = await make_sim(unit=3)
    url = DeviceURL.parse(sim.url)
    assert url.scheme == "modbus+tcp" and url.host == "127.0.0.1" and url.port > 0
    assert url.query == {"unit": "3"}


# -- screening -------------------------------------------------------------------------
async def test_clear_transit(make_sim, make_det):
    """R-DEV-SEC / R-OPS-SCREEN: a candidate without metal passes: alarm False, zones None."""
    clock = ScaledClock(1, start=datetime(2030, 5, 6, 8, 0, tzinfo=timezone.utc))
    sim = await make_sim()
    det = await make_det(sim.url, ctx=DriverContext(clock=clock))
    assert isinstance(det, MetalDetector) and det.state == ConnState.READY
    events = det.events.subscribe("transit", "alarm")
    task = await armed_wait(det, 2.0)
    await sim.model.act("walk_through")
    result = await task
    assert result.alarm is False and result.zones is None
    assert abs(result.at - clock.wall()) < timedelta(seconds=5)    # the site clock, not the host's
    assert [(e.type, e.data) for e in events.pending()] == [("transit", {"alarm": False, "total": 1})]
    assert await det.counters() == DetectorCounters(transits=1, alarms=0)


async def test_alarm_transit(make_sim, make_det):
    """R-DEV-SEC / R-OPS-SCREEN: metal sets the alarm of that passage and emits 'alarm'."""
    sim = await make_sim()
    det = await make_det(sim.url)
    events = det.events.subscribe("transit", "alarm")
    task = await armed_wait(det, 2.0)
    await sim.model.act("walk_through", metal=True)
    result = await task
    assert result.alarm is True and result.zones is None
    got = [(e.type, e.data) for e in events.pending()]
    assert got == [("alarm", {"new": 1, "relay": True, "total": 1}),
                   ("transit", {"alarm": True, "total": 1})]
    assert await det.counters() == DetectorCounters(transits=1, alarms=1)


async def test_several_transits_in_a_row_are_counted(make_sim, make_det):
    """R-OPS-SCREEN: a queue of candidates, each result belongs to its own passage,
    even when the previous alarm relay is still active."""
    sim = await make_sim()
    det = await make_det(sim.url)
    pattern = [True, False, False, True, False]
    results = []
    for metal in pattern:
        task = await armed_wait(det, 2.0)
        await sim.model.act("walk_through", metal=metal)
        results.append((await task).alarm)
    assert results == pattern
    assert await det.counters() == DetectorCounters(transits=5, alarms=2)
    assert det.events.counts["transit"] == 5 and det.events.counts["alarm"] == 2


async def test_burst_between_polls_is_counted_and_alarm_is_fail_safe(make_sim, make_det):
    """R-OPS-SCREEN: two passages inside one poll period after an alarm: the
    alarm cannot be attributed, so the returned passage is flagged."""
    sim = await make_sim()
    det = await make_det(sim.url, {"poll_s": 0.2})
    task = await armed_wait(det, 2.0)
    await sim.model.act("walk_through", metal=True)
    await sim.model.act("walk_through")
    assert (await task).alarm is True
    assert await det.counters() == DetectorCounters(transits=2, alarms=1)


async def test_old_passage_is_never_credited_to_the_next_candidate(make_sim, make_det):
    """R-OPS-SCREEN: someone walked through earlier, unpolled (the exit pulse is
    over): counted, but the candidate now being screened must walk through."""
    sim = await make_sim(transit_pulse_s=0.01, alarm_pulse_s=0.01)
    det = await make_det(sim.url, {"fresh_s": 0.0})   # the previous poll counts as old at once
    await sim.model.act("walk_through", metal=True)
    await wait_until(lambda: not any(sim.model.signals()[k] for k in ("transit", "alarm")))
    with pytest.raises(DeviceTimeout):
        await det.wait_transit(timeout=0.1)
    assert await det.counters() == DetectorCounters(transits=1, alarms=1)
    task = await armed_wait(det, 2.0)
    await sim.model.act("walk_through")
    assert (await task).alarm is False     # the earlier alarm went with the earlier passage


async def test_passage_since_a_recent_poll_is_credited_even_after_its_pulse(make_sim, make_det):
    """A busy event loop may serve the first poll after the exit pulse ended;
    the previous poll is recent (< fresh_s), so the passage is still this candidate's."""
    sim = await make_sim(transit_pulse_s=0.01, alarm_pulse_s=0.01)
    det = await make_det(sim.url)
    await sim.model.act("walk_through", metal=True)
    await wait_until(lambda: not any(sim.model.signals()[k] for k in ("transit", "alarm")))
    assert (await det.wait_transit(timeout=0.5)).alarm is True


async def test_passage_just_before_the_call_is_credited(make_sim, make_det):
    """R-OPS-SCREEN: the candidate is still in the exit beam when the flow starts
    waiting (DI1 pulse on): that passage is theirs, however old the last poll."""
    sim = await make_sim(transit_pulse_s=5.0)
    det = await make_det(sim.url, {"fresh_s": 0.0})
    await sim.model.act("walk_through", metal=True)
    result = await det.wait_transit(timeout=0.5)
    assert result.alarm is True


async def test_walk_right_after_starting_the_wait_is_seen(make_sim, make_det):
    """The demo's pattern: start screening, yield once, walk (no handshake)."""
    sim = await make_sim()
    det = await make_det(sim.url)
    for metal in (False, True, False):
        task = asyncio.ensure_future(det.wait_transit(timeout=2.0))
        await asyncio.sleep(0)
        await sim.model.act("walk_through", metal=metal)
        assert (await task).alarm is metal
    assert await det.counters() == DetectorCounters(transits=3, alarms=1)


async def test_alarm_counted_before_its_passage_is_kept_for_it(make_sim, make_det):
    """R-OPS-SCREEN: on a real arch the alarm fires while the person is inside and
    the passage is counted at the exit; an alarm seen before (or while) the wait
    is armed is never dropped."""
    sim = await make_sim()
    det = await make_det(sim.url)
    sim.model.alarms += 1                         # alarm while inside the arch…
    task = await armed_wait(det, 2.0)
    await sim.model.act("walk_through")           # …transit counted at the exit
    assert (await task).alarm is True
    alarms = det.events.subscribe("alarm")
    task = await armed_wait(det, 2.0)
    sim.model.alarms += 1
    await alarms.get(timeout=2.0)                 # the driver has seen the alarm alone
    await sim.model.act("walk_through")
    assert (await task).alarm is True
    assert await det.counters() == DetectorCounters(transits=2, alarms=2)


async def test_passages_before_open_are_not_reported(make_sim, make_det):
    sim = await make_sim()
    for _ in range(3):
        await sim.model.act("walk_through", metal=True)
    det = await make_det(sim.url)
    assert await det.counters() == DetectorCounters(transits=0, alarms=0)


async def test_nobody_passes_is_a_timeout(make_sim, make_det):
    sim = await make_sim()
    det = await make_det(sim.url)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with pytest.raises(DeviceTimeout):
        await det.wait_transit(timeout=0.15)
    assert 0.14 <= loop.time() - t0 < 1.0
    assert det.state == ConnState.READY


async def test_counter_wrap_over_the_wire(make_sim, make_det):
    sim = await make_sim()
    sim.model.transits = sim.model.alarms = 65535
    det = await make_det(sim.url)
    task = await armed_wait(det, 2.0)
    await sim.model.act("walk_through", metal=True)
    assert (await task).alarm is True
    assert sim.model.counter_registers() == [0, 0]
    assert await det.counters() == DetectorCounters(transits=1, alarms=1)


async def test_counter_reset_on_the_device_keeps_counting(make_sim, make_det):
    sim = await make_sim()
    det = await make_det(sim.url)
    for _ in range(3):
        await sim.model.act("walk_through")
    assert (await det.counters()).transits == 3
    await sim.model.act("reset_counters")
    await sim.model.act("walk_through", metal=True)
    assert await det.counters() == DetectorCounters(transits=4, alarms=1)


async def test_active_low_wiring(make_sim, make_det):
    """N/C contacts on both sides: ready reads 0, an alarm reads 0."""
    sim = await make_sim(active_low=True)
    det = await make_det(sim.url, {"active_low": True})
    assert (await det.health()).ok
    task = await armed_wait(det, 2.0)
    await sim.model.act("walk_through", metal=True)
    assert (await task).alarm is True


async def test_polarity_mismatch_reads_as_not_ready(make_sim, make_det):
    sim = await make_sim(active_low=True)
    det = await make_det(sim.url)                 # wired N/C, configured N/O
    health = await det.health()
    assert not health.ok and "not ready" in health.detail


# -- faults --------------------------------------------------------------------------
async def test_fault_emits_event_and_health_not_ok(make_sim, make_det):
    """R-OPS-SCREEN: a detector that is not armed screens nobody: fault event,
    health not ok, wait_transit refuses; clearing it restores service."""
    sim = await make_sim()
    det = await make_det(sim.url)
    events = det.events.subscribe("fault", "fault_cleared")
    assert (await det.health()).ok
    await sim.model.act("set_fault", active=True)
    health = await det.health()
    assert not health.ok and "not ready" in health.detail
    assert [(e.type, e.data) for e in events.pending()] == [("fault", {"code": "NOT_READY", "active": True})]
    with pytest.raises(DeviceFault) as info:
        await det.wait_transit(timeout=1.0)
    assert info.value.code == "NOT_READY"
    await sim.model.act("set_fault", active=False)
    assert (await det.health()).ok
    assert [e.type for e in events.pending()] == ["fault_cleared"]


async def test_fault_during_wait_aborts_it(make_sim, make_det):
    sim = await make_sim()
    det = await make_det(sim.url)
    task = await armed_wait(det, 2.0)
    await sim.model.act("set_fault", active=True)
    await sim.model.act("walk_through", metal=True)   # unarmed: would read as clear
    with pytest.raises(DeviceFault) as info:
        await task
    assert info.value.code == "NOT_READY"


async def test_detector_not_ready_at_open_reports_fault(make_sim, make_det):
    sim = await make_sim()
    await sim.model.act("set_fault", active=True)
    det = await make_det(sim.url, open=False)
    events = det.events.subscribe("fault")
    await det.open()
    assert events.pending()[0].data["code"] == "NOT_READY"
    assert not (await det.health()).ok


async def test_illegal_register_is_device_fault_code_2_without_reconnects(make_sim, make_det):
    """BR-04: a wrong register map (di_base=100) is answered with exception 02;
    the driver reports DeviceFault(code=2) on every call, the link stays up and
    is never reopened."""
    sim = await make_sim()
    det = await make_det(sim.url, {"di_base": 100}, open=False)
    events = det.events.subscribe("fault")
    await det.open()                               # the module answered: link is fine
    assert events.pending()[0].data["code"] == 2
    for call in (lambda: det.wait_transit(timeout=0.5), det.counters):
        for _ in range(3):
            with pytest.raises(DeviceFault) as info:
                await call()
            assert info.value.code == 2 and info.value.name == "ILLEGAL_DATA_ADDRESS"
    health = await det.health()
    assert not health.ok and "ILLEGAL_DATA_ADDRESS" in health.detail
    assert det.state == ConnState.READY
    assert sim.endpoint.connections == 1


async def test_illegal_counter_register_is_device_fault_code_2(make_sim, make_det):
    sim = await make_sim()
    det = await make_det(sim.url, {"counter_base": 1})   # reads IR 1…2, only 0…1 exist
    with pytest.raises(DeviceFault) as info:
        await det.counters()
    assert info.value.code == 2 and sim.endpoint.connections == 1


async def test_wrong_unit_is_gateway_fault_without_reconnects(make_sim, make_det):
    """BR-04: no module at that unit id: exception 0B from the gateway, typed, link up."""
    sim = await make_sim(unit=1)
    url = sim.url.replace("unit=1", "unit=2")
    det = await make_det(url)
    for _ in range(3):
        with pytest.raises(DeviceFault) as info:
            await det.counters()
        assert info.value.code == 0x0B and info.value.name == "GATEWAY_TARGET_DEVICE_FAILED_TO_RESPOND"
    assert det.state == ConnState.READY and sim.endpoint.connections == 1


async def test_unit_option_must_agree_with_url(make_sim, make_det):
    sim = await make_sim(unit=4)
    with pytest.raises(ConfigError):
        await make_det(sim.url, {"unit": 5}, open=False)
    det = await make_det(sim.url, {"unit": 4})
    assert (await det.health()).ok


@pytest.mark.parametrize("options", [{"poll_s": 0}, {"poll_s": "fast"}, {"active_low": "maybe"},
                                     {"di_base": -1}, {"counter_base": 65535}, {"unit": True},
                                     {"fresh_s": -1}])
def test_bad_options_are_config_errors(options):
    with pytest.raises(ConfigError):
        DRIVER.factory("wtmd", DeviceURL.parse("modbus+tcp://127.0.0.1:1502"), options, DriverContext())


async def test_silent_module_is_a_timeout(make_sim, make_det):
    sim = await make_sim()
    det = await make_det(sim.url, {"timeout_s": 0.1})
    sim.endpoint.silent = True
    with pytest.raises(DeviceTimeout):
        await det.counters()
    sim.endpoint.silent = False
    assert await det.counters() == DetectorCounters(0, 0)
    assert sim.endpoint.connections == 1


async def test_server_stopped_then_restarted_on_same_port_recovers(make_sim, make_det):
    sim = await make_sim()
    det = await make_det(sim.url)
    await sim.model.act("walk_through")
    assert (await det.counters()).transits == 1
    port = sim.endpoint.port
    await sim.stop()
    with pytest.raises(DeviceUnavailable):
        await det.counters()
    assert det.state == ConnState.UNAVAILABLE
    await sim.model.act("walk_through", metal=True)     # during the outage: not reported
    assert DeviceURL.parse(await sim.start()).port == port
    assert await det.counters() == DetectorCounters(transits=1, alarms=0)
    assert det.state == ConnState.READY
    task = await armed_wait(det, 2.0)
    await sim.model.act("walk_through", metal=True)
    assert (await task).alarm is True
    assert await det.counters() == DetectorCounters(transits=2, alarms=1)


async def test_connection_cut_during_wait_is_unavailable_then_recovers(make_sim, make_det):
    sim = await make_sim()
    det = await make_det(sim.url)
    task = await armed_wait(det, 2.0)
    await sim.endpoint.drop_connections()
    with pytest.raises(DeviceUnavailable):
        await task
    assert await det.counters() == DetectorCounters(0, 0)
    assert sim.endpoint.connections == 2


async def test_silent_module_at_open_fails_and_leaves_no_link(make_sim, make_det):
    sim = await make_sim()
    sim.endpoint.silent = True
    det = await make_det(sim.url, {"timeout_s": 0.1}, open=False)
    with pytest.raises(DeviceTimeout):
        await det.open()
    assert det.state == ConnState.UNAVAILABLE and det._link is None
    sim.endpoint.silent = False
    assert await det.counters() == DetectorCounters(0, 0)      # reopened on next use


async def test_open_without_a_server_is_unavailable(make_sim, make_det):
    sim = await make_sim()
    url = sim.url
    await sim.stop()
    det = await make_det(url, open=False)
    with pytest.raises(DeviceUnavailable):
        await det.open()
    assert det.state == ConnState.UNAVAILABLE


# -- the simulator against the Modbus spec, byte for byte ----------------------------------
async def exchange(port, request: bytes, *, split: int | None = None) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        if split is None:
            writer.write(request)
        else:
            writer.write(request[:split])
            await writer.drain()
            await asyncio.sleep(0.01)
            writer.write(request[split:])
        await writer.drain()
        head = await asyncio.wait_for(reader.readexactly(6), 2.0)
        body = await asyncio.wait_for(reader.readexactly(int.from_bytes(head[4:6], "big")), 2.0)
        return head + body
    finally:
        writer.close()


async def test_raw_read_discrete_inputs_matches_the_spec(make_sim):
    """Hand-built MBAP + PDU (docs/protocols/wtmd-modbus-di.md §2.3), no pymodbus client."""
    sim = await make_sim()
    sim.model._alarm_until = float("inf")          # alarm relay held on (DI0), ready (DI2)
    reply = await exchange(sim.endpoint.port, bytes.fromhex("0001 0000 0006 01 02 0000 0008"))
    assert reply == bytes.fromhex("0001 0000 0004 01 02 01 05")


async def test_raw_read_counters_matches_the_spec(make_sim):
    sim = await make_sim()
    for metal in (True, False, False):
        await sim.model.act("walk_through", metal=metal)
    reply = await exchange(sim.endpoint.port, bytes.fromhex("0002 0000 0006 01 04 0000 0002"), split=5)
    assert reply == bytes.fromhex("0002 0000 0007 01 04 04 0003 0001")


async def test_raw_exception_replies_match_the_spec(make_sim):
    sim = await make_sim()
    port = sim.endpoint.port
    assert await exchange(port, bytes.fromhex("0003 0000 0006 01 02 0064 0003")) == \
        bytes.fromhex("0003 0000 0003 01 82 02")
    assert await exchange(port, bytes.fromhex("0004 0000 0006 07 02 0000 0003")) == \
        bytes.fromhex("0004 0000 0003 07 82 0B")
    assert await exchange(port, bytes.fromhex("0005 0000 0006 01 03 0000 0001")) == \
        bytes.fromhex("0005 0000 0003 01 83 02")


async def test_raw_active_low_levels(make_sim):
    sim = await make_sim(active_low=True)
    reply = await exchange(sim.endpoint.port, bytes.fromhex("00AA 0000 0006 01 02 0000 0003"))
    assert reply == bytes.fromhex("00AA 0000 0004 01 02 01 03")     # DI0, DI1 high (inactive); DI2 low (ready)


# -- pure decoding -----------------------------------------------------------------------
@given(start=st.integers(0, 0xFFFF), steps=st.integers(0, 0x7FFF))
def test_counter_delta_survives_wrap(start, steps):
    assert counter_delta(start, (start + steps) & 0xFFFF) == steps


@given(old=st.integers(1, 0xFFFF), new=st.integers(0, 0xFFFF))
def test_counter_delta_reset_counts_from_zero(old, new):
    d = counter_delta(old, new)
    assert 0 <= d <= 0x7FFF or d == new
    if (new - old) & 0xFFFF >= 0x8000:
        assert d == new


@given(levels=st.lists(st.booleans(), min_size=3, max_size=8), active_low=st.booleans())
def test_input_decode_polarity(levels, active_low):
    a = DetectorInputs.from_levels(levels, active_low=active_low)
    b = DetectorInputs.from_levels([not x for x in levels], active_low=not active_low)
    assert a == b
    assert a.alarm == (levels[0] != active_low) and a.ready == (levels[2] != active_low)


def test_input_decode_needs_three_levels():
    with pytest.raises(ValueError):
        DetectorInputs.from_levels([True, False])


@settings(max_examples=100)
@given(start=st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)),
       polls=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.booleans()), max_size=40))
def test_tracker_counts_every_passage_and_never_loses_an_alarm(start, polls):
    """R-OPS-SCREEN: totals equal the device's counter steps; after any alarm the
    next passage is flagged; without an alarm no passage is flagged."""
    ready = DetectorInputs(alarm=False, transit=False, ready=True)
    t, a = start
    tracker = TransitTracker(Reading(t, a, ready))
    total_t = total_a = 0
    pending = False
    for dt, da, relay in polls:
        t, a = (t + dt) & 0xFFFF, (a + da) & 0xFFFF
        prev_relay = tracker.last.inputs.alarm
        change: Change = tracker.update(Reading(t, a, DetectorInputs(relay, False, True)))
        total_t += dt
        total_a += da
        pending = pending or da > 0 or (relay and not prev_relay)
        assert len(change.passages) == dt
        assert all(flag == pending for flag in change.passages)
        if dt:
            pending = False
    assert (tracker.transits, tracker.alarms) == (total_t, total_a)
