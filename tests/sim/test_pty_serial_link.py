"""The pty endpoint and the serial transport carry bytes exactly, survive
a driver closing the port, and report an unplugged device as unavailable."""
import asyncio

import pytest

from examhw import DeviceTimeout, DeviceUnavailable, DeviceURL
from examhw.sim.endpoints import PtyEndpoint
from examhw.sim.faults import FaultPlan
from examhw.transports.serial import open_serial


class Echo:
    def __init__(self, link):
        self.link = link

    def feed(self, data):
        self.link.write(data.upper())

    def closed(self):
        pass


async def test_bytes_round_trip_and_split_replies(tmp_path):
    ep = PtyEndpoint(Echo, tmp_path, "echo", FaultPlan(split=1, chunk=3))
    url = DeviceURL.parse(await ep.start())
    try:
        s = await open_serial(url)
        await s.write(bytes(range(0x61, 0x71)))
        got = b""
        while len(got) < 16:
            got += await s.read_some(1.0)
        assert got == bytes(range(0x41, 0x51))
        await s.close()
        s2 = await open_serial(url)          # reopen after close: no EIO on the sim side
        await s2.write(b"x")
        assert await s2.read_some(1.0) == b"X"
        await s2.close()
    finally:
        await ep.stop()


async def test_exclusive_open_refuses_second_opener(tmp_path):
    # BR-07: a second process must not steal bytes.
    ep = PtyEndpoint(Echo, tmp_path, "ex")
    url = DeviceURL.parse(await ep.start())
    try:
        s = await open_serial(url)
        with pytest.raises(DeviceUnavailable):
            await open_serial(url)
        await s.close()
    finally:
        await ep.stop()


async def test_silent_device_times_out(tmp_path):
    ep = PtyEndpoint(Echo, tmp_path, "quiet", FaultPlan(drop=1))
    url = DeviceURL.parse(await ep.start())
    try:
        s = await open_serial(url)
        await s.write(b"a")
        with pytest.raises(DeviceTimeout):
            await s.read_some(0.05)
        await s.close()
    finally:
        await ep.stop()


async def test_unplug_surfaces_as_unavailable(tmp_path):
    # BR-06: a vanished adapter is reported, not a hang or a parse error.
    ep = PtyEndpoint(Echo, tmp_path, "usb")
    url = DeviceURL.parse(await ep.start())
    s = await open_serial(url)
    await ep.unplug()
    with pytest.raises(DeviceUnavailable):
        for _ in range(50):
            await s.read_some(0.05)
    await s.close()
