"""Camera call timing: our driver against the raw library it wraps
(onvif-zeep-async), both talking to the same simulated camera over loopback
HTTP in the same run, so the table shows our overhead as a ratio.

Groups: ``camera-device-info`` (GetDeviceInformation SOAP round trip) and
``camera-snapshot`` (Digest-protected JPEG snapshot). Nothing here asserts a
time; ``pytest tests/bench --benchmark-only`` (``make bench``) measures.
"""
from __future__ import annotations

import asyncio
import logging

import pytest

from examhw.kinds import DriverContext
from examhw.sim import SimContext
from examhw.urls import DeviceURL
from examhw_drivers.onvif_camera import DRIVER
from examhw_simulators.camera import SIMULATOR

PASSWORD = "bench-password-1"


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    loop = asyncio.new_event_loop()
    sim = SIMULATOR.factory(SimContext(role="bench-cam", run_dir=tmp_path_factory.mktemp("cam"),
                                       secrets={"password": PASSWORD}))
    url = loop.run_until_complete(sim.start())
    loop.run_until_complete(sim.model.act("show_face", image=None))
    cam = DRIVER.factory("bench-cam", DeviceURL.parse(url), {}, DriverContext(secrets={"password": PASSWORD}))
    loop.run_until_complete(cam.open())
    level = logging.getLogger().level
    import onvif                                          # the raw library, used directly
    logging.getLogger().setLevel(level)
    port = DeviceURL.parse(url).port

    async def raw_setup():
        raw = onvif.ONVIFCamera("127.0.0.1", port, "admin", PASSWORD, adjust_time=True, no_cache=True)
        await raw.update_xaddrs()
        devmgmt = await raw.create_devicemgmt_service()
        media = await raw.create_media_service()
        return raw, devmgmt, (await media.GetProfiles())[0].token

    raw, devmgmt, token = loop.run_until_complete(raw_setup())
    yield loop, cam, raw, devmgmt, token
    loop.run_until_complete(cam.close())
    loop.run_until_complete(raw.close())
    loop.run_until_complete(sim.stop())
    loop.close()


INFO = pytest.mark.benchmark(group="camera-device-info", min_rounds=50, warmup=True)
SNAP = pytest.mark.benchmark(group="camera-snapshot", min_rounds=50, warmup=True)


@INFO
def test_bench_driver_device_info(benchmark, rig):
    loop, cam, *_ = rig
    transport = cam._client                               # the examhw transport's device-info call
    info = benchmark(lambda: loop.run_until_complete(transport.device_information()))
    assert info


@INFO
def test_bench_raw_library_device_info(benchmark, rig):
    loop, _, _, devmgmt, _ = rig
    info = benchmark(lambda: loop.run_until_complete(devmgmt.GetDeviceInformation()))
    assert info.Model


@SNAP
def test_bench_driver_snapshot(benchmark, rig):
    loop, cam, *_ = rig
    snap = benchmark(lambda: loop.run_until_complete(cam.snapshot()))
    assert snap.data[:3] == b"\xff\xd8\xff"


@SNAP
def test_bench_raw_library_snapshot(benchmark, rig):
    loop, _, raw, _, token = rig
    data = benchmark(lambda: loop.run_until_complete(raw.get_snapshot(token)))
    assert data[:3] == b"\xff\xd8\xff"
