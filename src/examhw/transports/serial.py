"""Serial ports through pyserial, made async with the event loop's reader.

Ports are opened exclusively (a second opener fails fast instead of
stealing bytes, BR-07). A vanished port (USB unplug, BR-06) surfaces as
:class:`~examhw.errors.DeviceUnavailable`.
"""
from __future__ import annotations

import asyncio
import os

import serial

from ..errors import DeviceUnavailable
from ..urls import DeviceURL
from .stream import ByteStream


class SerialStream(ByteStream):
    def __init__(self, port: serial.Serial, description: str) -> None:
        super().__init__(description)
        self._port = port
        self._fd = port.fileno()
        asyncio.get_running_loop().add_reader(self._fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, 65536)
        except BlockingIOError:
            return
        except OSError as exc:
            self._detach()
            self._lost(exc)
            return
        if not data:  # readable but no data: the device is gone
            self._detach()
            self._lost(OSError("device reports readiness to read but returned no data"))
            return
        self._deliver(data)

    def _detach(self) -> None:
        if self._fd >= 0:
            asyncio.get_running_loop().remove_reader(self._fd)
            self._fd = -1

    async def write(self, data: bytes) -> None:
        if self.closed or self._error is not None:
            raise DeviceUnavailable(f"{self.description}: port is closed")
        try:
            self._port.write(data)
        except (serial.SerialException, OSError) as exc:
            self._lost(exc)
            raise DeviceUnavailable(f"{self.description}: write failed: {exc}") from exc

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._detach()
        self._lost(ConnectionAbortedError("port closed"))     # wake a pending read at once
        try:
            self._port.close()
        except (serial.SerialException, OSError):
            pass


async def open_serial(url: DeviceURL, *, baudrate: int = 9600, exclusive: bool = True) -> SerialStream:
    """Open ``serial:///dev/ttyX?baud=N`` (``baud`` in the URL wins over
    ``baudrate``). Raises :class:`DeviceUnavailable` when it cannot."""
    if url.scheme != "serial":
        raise DeviceUnavailable(f"not a serial URL: {url.redacted()}")
    path = url.path
    baud = int(url.query.get("baud", baudrate))
    try:
        port = serial.Serial(path, baudrate=baud, timeout=0, write_timeout=2,
                             exclusive=exclusive)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise DeviceUnavailable(f"cannot open serial port {path}: {exc}") from exc
    return SerialStream(port, f"serial {path}")
