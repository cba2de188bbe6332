"""The STU serial signature-pad driver against its simulator over a real
pty: the desk signature flow (R-DEV-DESK) where the candidate signs the
score sheet (R-OPS-SCORE), its fault paths, and BR-28 (pad lost mid-capture:
the partial signature is discarded, the pad is reopened)."""
from __future__ import annotations

import asyncio

import cv2
import numpy as np
import pytest

from examhw.errors import DeviceFault, DeviceTimeout, DeviceUnavailable
from examhw.kinds import ConnState, DriverContext
from examhw.kinds.signature_pad import Signature
from examhw.sim.base import SimContext
from examhw.urls import DeviceURL
from examhw_drivers.stu_serial import DRIVER
from examhw_simulators.sigpad import SIMULATOR
from examhw_simulators.sigpad import pen

ROLE = "desk-pad"


@pytest.fixture
async def rig(tmp_path):
    sim = SIMULATOR.factory(SimContext(role=ROLE, run_dir=tmp_path))
    url = await sim.start()
    drv = DRIVER.factory(ROLE, DeviceURL.parse(url), {"timeout_s": 1.0}, DriverContext())
    await drv.open()
    try:
        yield sim, drv
    finally:
        await drv.close()
        await sim.stop()


def _expected_ink(name: str) -> int:
    return sum(len(s) for s in pen.signature_strokes(name, 9600, 6000, 1023))


def _assert_png_matches(sig: Signature) -> None:
    img = cv2.imdecode(np.frombuffer(sig.png, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert img is not None and img.shape == (500, 800)
    ys, xs = np.nonzero(img < 128)
    assert len(xs) > 500                                     # there is ink
    pts = [p for s in sig.strokes for p in s]
    # image and point data agree: the inked box is the points' box, scaled
    sx, sy = 799 / sig.max_x, 499 / sig.max_y
    assert abs(xs.min() - min(p.x for p in pts) * sx) <= 4
    assert abs(xs.max() - max(p.x for p in pts) * sx) <= 4
    assert abs(ys.min() - min(p.y for p in pts) * sy) <= 4
    assert abs(ys.max() - max(p.y for p in pts) * sy) <= 4


async def test_open_reads_identity_and_geometry(rig):
    """R-DEV-DESK: the pad identifies itself (model, Uid2, firmware, tablet)."""
    sim, drv = rig
    assert drv.info.model == "STU-530" and drv.info.firmware == "2.11"
    assert drv.info.serial == sim.model.identity.uid2.hex().upper()
    assert (drv.capability.tablet_max_x, drv.capability.tablet_max_y) == (9600, 6000)
    assert drv.device_id == f"STU-530:{drv.info.serial}"
    assert not sim.model.state.inking                          # open turns inking off
    health = await drv.health()
    assert health.ok and "Ready" in health.detail


async def test_capture_signature_R_OPS_SCORE(rig):
    """R-OPS-SCORE / R-DEV-DESK: a full signature comes back with every ink
    point, real pen timing (across the timeCount wrap), the pad identity and
    a PNG drawn from those points."""
    sim, drv = rig
    sub = drv.events.subscribe()
    task = asyncio.create_task(drv.capture("Please sign the score sheet", timeout=5.0))
    sent = await sim.model.sign("Zhang San")
    sig = await asyncio.wait_for(task, 5.0)
    assert sig.point_count == _expected_ink("Zhang San") and sent > sig.point_count
    assert len(sig.strokes) == 3
    assert 1500 <= sig.duration_ms <= 3000
    t = [p.t_ms for s in sig.strokes for p in s]
    assert t == sorted(t) and all(b - a >= 5 for a, b in zip(t, t[1:]))
    assert sig.device_id == drv.device_id and (sig.max_x, sig.max_y, sig.max_pressure) == (9600, 6000, 1023)
    assert all(p.down and 0 < p.pressure <= 1023 and p.y < 5000 for s in sig.strokes for p in s)
    _assert_png_matches(sig)
    types = [e.type for e in sub.pending()]
    assert types.count("pen_down") == types.count("pen_up") == 3
    assert types[-1] == "completed" and "button" in types
    assert not sim.model.state.inking                          # inking off after OK


async def test_clear_and_resign(rig):
    """R-OPS-SCORE: Clear discards the first attempt; only the second is kept."""
    sim, drv = rig
    task = asyncio.create_task(drv.capture(timeout=5.0))
    await sim.model.sign("Wrong Attempt", confirm=False)
    await sim.model.tap("clear")
    await sim.model.sign("Li Na")
    sig = await asyncio.wait_for(task, 5.0)
    assert sig.point_count == _expected_ink("Li Na")
    assert sig.strokes[0][0].t_ms < 100                        # timing restarted at Clear
    assert sim.model.state.clears == 2
    assert drv.events.counts["cleared"] == 1


async def test_cancel_raises_fault(rig):
    sim, drv = rig
    task = asyncio.create_task(drv.capture(timeout=5.0))
    await sim.model.sign("Half", confirm=False)
    await sim.model.cancel()
    with pytest.raises(DeviceFault) as err:
        await asyncio.wait_for(task, 5.0)
    assert err.value.code == "cancelled"
    assert drv.events.counts["cancelled"] == 1 and drv.events.counts["completed"] == 0
    assert not sim.model.state.inking


async def test_ok_without_ink_is_empty_fault(rig):
    sim, drv = rig
    task = asyncio.create_task(drv.capture(timeout=5.0))
    await sim.model.sign(strokes=[], confirm=True)
    with pytest.raises(DeviceFault) as err:
        await asyncio.wait_for(task, 5.0)
    assert err.value.code == "empty"


async def test_no_confirmation_times_out_then_pad_still_works(rig):
    sim, drv = rig
    with pytest.raises(DeviceTimeout):
        await drv.capture(timeout=0.3)
    assert not sim.model.state.inking and drv.state == ConnState.READY
    task = asyncio.create_task(drv.capture(timeout=5.0))
    await sim.model.sign("After Timeout")
    assert (await asyncio.wait_for(task, 5.0)).point_count == _expected_ink("After Timeout")


async def test_garbled_pen_frames_are_dropped_and_capture_completes(rig):
    """Corrupted pen reports are skipped (CRC), the decoder resyncs on the
    next header, the signature still completes with the surviving points."""
    sim, drv = rig
    task = asyncio.create_task(drv.capture(timeout=5.0))
    await sim.model.wait_for_capture(2.0)
    sim.ctx.faults.garble = 5
    sim.ctx.faults.prefix = b"\x00\x13\x37"
    await sim.model.sign("Garbled Line")
    sig = await asyncio.wait_for(task, 5.0)
    assert _expected_ink("Garbled Line") - 5 <= sig.point_count <= _expected_ink("Garbled Line")
    assert drv.protocol_errors >= 1


async def test_garbled_and_split_replies_are_retried(rig):
    sim, drv = rig
    sim.ctx.faults.garble = 1
    await drv.clear()                       # reply garbled → resent (ClearScreen is idempotent)
    assert drv.protocol_errors == 1 and sim.model.state.clears == 2
    sim.ctx.faults.split, sim.ctx.faults.chunk = 2, 3
    st = await drv.status()
    assert st.status_name == "Ready"


async def test_corrupted_host_frame_gets_crc_result_and_is_resent(rig):
    sim, drv = rig
    await drv._stream.write(b"\xc0\x05\x10\x40\x3b\x19\x01")  # InkingMode on with a bad CRC
    await drv.clear()
    assert sim.model.corrupted_frames == 1 and not sim.model.state.inking


async def test_silent_pad_times_out(rig):
    sim, drv = rig
    sim.ctx.faults.drop = 10
    drv.timeout_s = 0.2
    with pytest.raises(DeviceTimeout):
        await drv.clear()


async def test_pad_refusal_is_device_fault(rig):
    sim, drv = rig
    sim.model.reject_next("WrongState")
    with pytest.raises(DeviceFault) as err:
        await drv.clear()
    assert err.value.code == "WrongState"
    with pytest.raises(DeviceFault) as err:
        await drv._get(0x77)
    assert err.value.code == "WrongReportId"


async def test_unplug_mid_stroke_discards_partial_and_reopens_BR_28(rig):
    """BR-28 / R-OPS-SCORE: the pad vanishes while the pen is down; capture
    raises DeviceUnavailable, no signature is produced, and after replug the
    next capture reopens the pad and works."""
    sim, drv = rig
    sub = drv.events.subscribe("pen_down", "completed", "aborted")
    task = asyncio.create_task(drv.capture(timeout=5.0))
    await sim.model.sign("Interrupted", stop_after=60)
    assert (await sub.get(2.0)).type == "pen_down"
    await sim.model.unplug()
    with pytest.raises(DeviceUnavailable):
        await asyncio.wait_for(task, 5.0)
    assert drv.state == ConnState.UNAVAILABLE
    assert [e.type for e in sub.pending()] == ["aborted"]       # no "completed"
    await sim.model.replug()
    task = asyncio.create_task(drv.capture(timeout=5.0))
    await sim.model.sign("Second Try")
    sig = await asyncio.wait_for(task, 5.0)
    assert sig.point_count == _expected_ink("Second Try")
    assert drv.state == ConnState.READY and drv.events.counts["completed"] == 1


async def test_call_while_unplugged_is_unavailable_then_recovers(rig):
    sim, drv = rig
    await sim.model.unplug()
    with pytest.raises(DeviceUnavailable):
        for _ in range(50):
            await drv.clear()
            await asyncio.sleep(0.01)
    await sim.model.replug()
    for _ in range(100):                                        # reopen back-off (≤ 0.5 s first)
        try:
            await drv.clear()
            break
        except DeviceUnavailable:
            await asyncio.sleep(0.05)
    assert drv.state == ConnState.READY and sim.model.state.clears == 1
