"""Loopback HTTP endpoint (aiohttp) for SOAP/ONVIF, snapshots and IPP."""
from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from aiohttp import web

from ..faults import FaultPlan

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HttpEndpoint:
    """Runs an aiohttp application on ``127.0.0.1:<ephemeral>``.

    The fault plan applies per request: ``delay_s`` delays every response
    (slow device) and ``drop`` makes the next N requests hang without an
    answer (silent device) until the client gives up.
    """

    def __init__(self, app: web.Application, faults: FaultPlan | None = None) -> None:
        self.faults = faults or FaultPlan()
        app.middlewares.append(self._fault_middleware)
        self.app = app
        self._runner: web.AppRunner | None = None
        self.port = 0

    @web.middleware
    async def _fault_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.faults.drop > 0:
            self.faults.drop -= 1
            await asyncio.sleep(3600)          # cancelled when the client disconnects or we stop
        if self.faults.delay_s:
            await asyncio.sleep(self.faults.delay_s)
        return await handler(request)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> str:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server = site._server  # noqa: SLF001 - aiohttp exposes the bound socket only here
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
