"""Loopback TCP endpoint (127.0.0.1, ephemeral port)."""
from __future__ import annotations

import asyncio
import socket
from typing import Callable

from ..faults import FaultPlan
from .link import ByteLink, StreamSession


class TcpEndpoint:
    """Serves a byte-stream protocol on ``127.0.0.1:<ephemeral>``; one
    :class:`StreamSession` per accepted connection. Started again after a
    stop, it binds the same port (a device coming back at its address)."""

    def __init__(self, session_factory: Callable[[ByteLink], StreamSession], scheme: str = "tcp",
                 faults: FaultPlan | None = None) -> None:
        self._factory = session_factory
        self.scheme = scheme
        self.faults = faults or FaultPlan()
        self._server: asyncio.base_events.Server | None = None
        self.port = 0
        self.sessions: list[StreamSession] = []
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.url

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._writers.add(writer)
        peer = writer.get_extra_info("peername")
        link = ByteLink(writer.write, self.faults, peer=peer[0] if peer else "127.0.0.1", hang_up=writer.close)
        session = self._factory(link)
        self.sessions.append(session)
        try:
            while not writer.is_closing():
                data = await reader.read(65536)
                if not data:
                    break
                session.feed(data)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            session.closed()
            self.sessions.remove(session)
            self._writers.discard(writer)
            writer.close()

    async def drop_connections(self) -> None:
        """Close every client connection (simulates a network cut)."""
        for w in list(self._writers):
            w.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self.drop_connections()
            await self._server.wait_closed()
            self._server = None
