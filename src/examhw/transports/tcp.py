"""Plain TCP byte streams."""
from __future__ import annotations

import asyncio
import socket

from ..errors import DeviceUnavailable
from ..urls import DeviceURL
from .stream import ByteStream


class TcpStream(ByteStream):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, description: str) -> None:
        super().__init__(description)
        self._reader = reader
        self._writer = writer
        self._task = asyncio.get_running_loop().create_task(self._pump())

    async def _pump(self) -> None:
        try:
            while True:
                data = await self._reader.read(65536)
                if not data:
                    self._lost(ConnectionResetError("connection closed by peer"))
                    return
                self._deliver(data)
        except (OSError, ConnectionError) as exc:
            self._lost(exc)

    async def write(self, data: bytes) -> None:
        if self.closed or self._error is not None:
            raise DeviceUnavailable(f"{self.description}: connection is closed")
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (OSError, ConnectionError) as exc:
            self._lost(exc)
            raise DeviceUnavailable(f"{self.description}: write failed: {exc}") from exc

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._task.cancel()
        self._lost(ConnectionAbortedError("connection closed"))   # wake a pending read at once
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except (OSError, ConnectionError):
            pass


async def open_tcp(url: DeviceURL, *, default_port: int, timeout: float = 5.0) -> TcpStream:
    """Connect to ``tcp://host:port``. Raises :class:`DeviceUnavailable`."""
    host = url.host or "127.0.0.1"
    port = url.port or default_port
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, asyncio.TimeoutError, TimeoutError) as exc:
        raise DeviceUnavailable(f"cannot connect to {host}:{port}: {exc or 'timeout'}") from exc
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return TcpStream(reader, writer, f"tcp {host}:{port}")
