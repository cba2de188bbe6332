"""The NUT driver against the NUT simulator over loopback TCP
(R-DEV-POWER: the site's UPS must be read exactly and power faults must raise
alarms quickly; BR-20 and BR-21)."""
from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from examhw import DeviceFault, DeviceTimeout, DeviceUnavailable, DeviceURL, ProtocolError, ScaledClock
from examhw.kinds import ConnState, DriverContext
from examhw.kinds.ups import PowerSource
from examhw.sim.base import SimContext
from examhw.sim.faults import FaultPlan
from examhw_drivers.nut_ups import DRIVER
from examhw_simulators.ups import SIMULATOR
from examhw_simulators.ups.devdump import load_dump

DATA = Path(__file__).parent.parent / "data" / "ups"
DUMPS = sorted(DATA.glob("*.dev"))
CP1500 = str(DATA / "Cyber_Power_Systems__CP1500PFCLCD__usbhid-ups__2.7.4__02.dev")


async def start_sim(tmp_path, clock=None, faults=None, secrets=None, **options):
    ctx = SimContext(role="ups", options=options, run_dir=tmp_path, clock=clock or ScaledClock(1),
                     faults=faults or FaultPlan(), secrets=secrets or {})
    sim = SIMULATOR.factory(ctx)
    url = await sim.start()
    return sim, url


def make_driver(url, clock=None, secrets=None, **options):
    ctx = DriverContext(clock=clock or ScaledClock(1), secrets=secrets or {}, timeout_s=1.0)
    return DRIVER.factory("ups", DeviceURL.parse(url), options, ctx)


async def wait_for(pred, what, timeout=3.0, step=0.01):
    deadline = time.monotonic() + timeout
    while True:
        value = await pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(step)


@pytest.mark.parametrize("path", DUMPS, ids=lambda p: p.stem)
async def test_variable_for_variable(tmp_path, path):
    """R-DEV-POWER: the driver reads back every variable of a real dump exactly."""
    sim, url = await start_sim(tmp_path, dump=str(path))
    drv = make_driver(url)
    try:
        await drv.open()
        st = await drv.status()
        dump = load_dump(path)
        assert st.vars == dump.vars
        assert st.flags == frozenset(dump.vars["ups.status"].split())
        if "device.model" in dump.vars:
            assert drv.info.model == dump.vars["device.model"]
    finally:
        await drv.close()
        await sim.stop()


async def test_default_dump_url_and_identity(tmp_path):
    """R-DEV-POWER: default sim is the Santak Castle C1K (Megatec/blazer_ser)."""
    sim, url = await start_sim(tmp_path)
    assert url.startswith("nut://127.0.0.1:") and url.endswith("/ups1")
    drv = make_driver(url)
    try:
        await drv.open()
        assert drv.protocol_version == "1.3" and drv.server_version
        st = await drv.status()
        assert st.source == PowerSource.MAINS and st.flags == {"OL"}
        assert st.input_v == 231.3 and st.load_pct == 0 and st.charge_pct is None
        assert drv.state == ConnState.READY
        assert (await drv.health()).ok
    finally:
        await drv.close()
        await sim.stop()


async def test_ups_name_from_option_or_only_ups(tmp_path):
    sim, url = await start_sim(tmp_path, ups="rack-ups")
    base = url.rsplit("/", 1)[0]
    try:
        for drv in (make_driver(base, ups="rack-ups"), make_driver(base)):
            await drv.open()
            assert drv.ups_name == "rack-ups"
            assert (await drv.status()).source == PowerSource.MAINS
            await drv.close()
        bad = make_driver(base + "/nosuch")
        with pytest.raises(DeviceFault) as exc:
            await bad.open()
        assert exc.value.code == "UNKNOWN-UPS"
    finally:
        await sim.stop()


async def test_mains_failure_and_restore(tmp_path):
    """R-DEV-POWER: mains cut → power_lost, OB flags, charge falling on a scaled
    clock, battery_low; restore → power_restored and charging."""
    clock = ScaledClock(6000)
    sim, url = await start_sim(tmp_path, clock=clock, dump=CP1500)
    drv = make_driver(url, clock=clock)
    events = drv.events.subscribe()
    try:
        await drv.open()
        first = await drv.status()
        assert first.charge_pct == 58 and first.source == PowerSource.MAINS
        await sim.model.act("mains_fail")
        st = await drv.status()
        assert st.source == PowerSource.BATTERY and {"OB", "DISCHRG"} <= st.flags
        assert st.input_v == 0.0
        assert drv.state == ConnState.DEGRADED
        ev = await events.get(timeout=1)
        while ev.type == "state_changed":
            ev = await events.get(timeout=1)
        assert ev.type == "power_lost" and "OB" in ev.data["flags"]

        async def charge_fell():
            s = await drv.status()
            return s if s.charge_pct < first.charge_pct and s.runtime_s < 4944 else None
        await wait_for(charge_fell, "charge to fall")

        async def low():
            s = await drv.status()
            return s if s.low_battery else None
        st = await wait_for(low, "LB", timeout=5)
        assert "LB" in st.flags and st.charge_pct <= 10
        assert drv.events.counts["battery_low"] == 1

        await sim.model.act("mains_restore")
        st = await drv.status()
        assert st.source == PowerSource.MAINS and {"OL", "CHRG"} <= st.flags
        assert drv.events.counts["power_restored"] == 1
        assert drv.events.counts["power_lost"] == 1
    finally:
        events.close()
        await drv.close()
        await sim.stop()


@pytest.mark.parametrize("mode,token,flag,reason", [
    ("set_stale", "DATA-STALE", "STALE", "stale"),
    ("set_driver_down", "DRIVER-NOT-CONNECTED", "DRIVER_DOWN", "driver_down"),
])
async def test_stale_and_driver_down_are_unknown_never_mains(tmp_path, mode, token, flag, reason):
    """R-DEV-POWER / BR-20: ERR DATA-STALE and ERR DRIVER-NOT-CONNECTED give
    source UNKNOWN with a flag and a data_stale event, never mains."""
    sim, url = await start_sim(tmp_path)
    drv = make_driver(url)
    try:
        await drv.open()
        assert (await drv.status()).source == PowerSource.MAINS
        await sim.model.act(mode, active=True)
        for _ in range(2):
            st = await drv.status()
            assert st.source == PowerSource.UNKNOWN and st.flags == {flag} and st.vars == {}
        assert drv.events.counts["data_stale"] == 1            # once, on entering
        assert drv.state == ConnState.DEGRADED
        assert (await drv.health()).detail == token
        # a driver opened while the data is stale still connects
        late = make_driver(url)
        await late.open()
        assert (await late.status()).source == PowerSource.UNKNOWN
        await late.close()
        await sim.model.act(mode, active=False)
        st = await drv.status()
        assert st.source == PowerSource.MAINS and drv.state == ConnState.READY
    finally:
        await drv.close()
        await sim.stop()


async def test_frozen_values_are_flagged(tmp_path):
    """R-DEV-POWER / BR-20: byte-identical readings for frozen_after_s site
    seconds → FROZEN, source unknown, data_stale(reason=frozen)."""
    clock = ScaledClock(1000)
    sim, url = await start_sim(tmp_path, clock=clock)
    drv = make_driver(url, clock=clock, frozen_after_s=60.0)
    try:
        await drv.open()
        assert "FROZEN" not in (await drv.status()).flags

        async def frozen():
            s = await drv.status()
            return s if "FROZEN" in s.flags else None
        st = await wait_for(frozen, "FROZEN")
        assert st.source == PowerSource.UNKNOWN
        assert drv.events.counts["data_stale"] == 1
        await sim.model.act("set_var", name="input.voltage", value="229.8")
        st = await drv.status()
        assert "FROZEN" not in st.flags and st.source == PowerSource.MAINS
    finally:
        await drv.close()
        await sim.stop()


async def test_server_gone_then_back(tmp_path):
    """R-DEV-POWER: an unreachable upsd is DeviceUnavailable (not mains); the
    driver recovers when it is back."""
    sim, url = await start_sim(tmp_path)
    drv = make_driver(url)
    try:
        await drv.open()
        await drv.status()
        await sim.stop()
        with pytest.raises(DeviceUnavailable):
            await drv.status()
        assert drv.state == ConnState.UNAVAILABLE
        with pytest.raises(DeviceUnavailable):
            await drv.status()
        assert await sim.start() == url                  # same loopback port again

        async def back():
            try:
                return await drv.status()
            except DeviceUnavailable:
                return None
        st = await wait_for(back, "recovery", timeout=5, step=0.1)
        assert st.source == PowerSource.MAINS and drv.state == ConnState.READY
    finally:
        await drv.close()
        await sim.stop()


async def test_cut_idle_connection_reconnects_transparently(tmp_path):
    sim, url = await start_sim(tmp_path)
    drv = make_driver(url)
    try:
        await drv.open()
        await drv.status()
        await sim.drop_connections()
        await asyncio.sleep(0)                               # let the close reach us
        assert (await drv.status()).source == PowerSource.MAINS
    finally:
        await drv.close()
        await sim.stop()


async def test_refused_at_open(tmp_path):
    sim, url = await start_sim(tmp_path)
    await sim.stop()
    drv = make_driver(url)
    with pytest.raises(DeviceUnavailable):
        await drv.open()


async def test_silent_server_times_out_then_recovers(tmp_path):
    faults = FaultPlan()
    sim, url = await start_sim(tmp_path, faults=faults)
    drv = make_driver(url, timeout_s=0.2)
    try:
        await drv.open()
        faults.drop = 1
        with pytest.raises(DeviceTimeout):
            await drv.status()
        assert (await drv.status()).source == PowerSource.MAINS
    finally:
        await drv.close()
        await sim.stop()


async def test_garbage_is_protocol_error_then_recovers(tmp_path):
    faults = FaultPlan()
    sim, url = await start_sim(tmp_path, faults=faults)
    drv = make_driver(url)
    try:
        await drv.open()
        faults.prefix = b"\x00\x13garbage\n"
        with pytest.raises(ProtocolError):
            await drv.status()
        assert (await drv.status()).source == PowerSource.MAINS
    finally:
        await drv.close()
        await sim.stop()


async def test_split_replies(tmp_path):
    faults = FaultPlan(chunk=7, chunk_delay_s=0.001)
    sim, url = await start_sim(tmp_path, faults=faults, dump=CP1500)
    drv = make_driver(url)
    try:
        await drv.open()
        faults.split = 3
        st = await drv.status()
        assert st.vars == load_dump(CP1500).vars
    finally:
        await drv.close()
        await sim.stop()


async def test_login_with_secrets_never_logged(tmp_path, caplog):
    """R-DEV-POWER: optional LOGIN; credentials never reach the log."""
    caplog.set_level(logging.DEBUG)
    secrets = {"username": "upsmon-exam", "password": "s3cr3t-Pw"}
    sim, url = await start_sim(tmp_path, secrets=secrets)
    drv = make_driver(url, secrets=secrets)
    try:
        await drv.open()
        assert sim.numlogins() == 1
        assert (await drv.status()).source == PowerSource.MAINS
        await drv.close()
        await wait_for(lambda: _async(sim.numlogins() == 0), "logout")
        wrong = make_driver(url, secrets={"username": "upsmon-exam", "password": "nope-Pw"})
        with pytest.raises(DeviceFault) as exc:
            await wrong.open()
        assert exc.value.code == "ACCESS-DENIED"
        assert "s3cr3t-Pw" not in caplog.text and "nope-Pw" not in caplog.text
    finally:
        await drv.close()
        await sim.stop()


async def _async(value):
    return value


async def test_first_reading_on_battery_and_low_battery(tmp_path):
    """R-DEV-POWER: a UPS already on battery (or already low) alarms at once."""
    sim, url = await start_sim(tmp_path, dump=str(DATA / "APC__Smart-UPS_2200__usbhid-ups__2.7.4__01.dev"))
    drv = make_driver(url)
    try:
        await drv.open()
        st = await drv.status()
        assert st.source == PowerSource.BATTERY and st.charge_pct == 93 and st.runtime_s == 65535
        assert drv.events.counts["power_lost"] == 1
        await sim.model.act("set_var", name="ups.status", value="OL CHRG LB")
        st = await drv.status()
        assert st.source == PowerSource.MAINS and st.low_battery
        assert drv.events.counts["power_restored"] == 1 and drv.events.counts["battery_low"] == 1
        assert drv.last_severity.name == "CRITICAL"
    finally:
        await drv.close()
        await sim.stop()


def test_half_credentials_are_a_config_error():
    from examhw import ConfigError
    with pytest.raises(ConfigError):
        make_driver("nut://127.0.0.1:1/ups1", secrets={"username": "only-user"})
