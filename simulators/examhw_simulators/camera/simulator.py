"""The simulated ONVIF camera on loopback HTTP: SOAP device/media services
plus a Digest-protected JPEG snapshot URL."""
from __future__ import annotations

import asyncio

from aiohttp import web

from examhw.errors import ConfigError
from examhw.kinds import DeviceKind
from examhw.sim.base import SimContext, Simulator
from examhw.sim.endpoints.http import HttpEndpoint

from .http_digest import DigestAuthority
from .model import CameraModel
from .services import OnvifServices

_HTML_ERROR = b"<html><head><title>Error</title></head><body><h1>Error</h1><p>Snapshot failed</p></body></html>"


class OnvifCameraSimulator(Simulator[CameraModel]):
    """One camera = one aiohttp app on ``127.0.0.1:<ephemeral>``.

    Options: ``clock_skew_s`` (float s), ``require_zulu`` (bool), ``vendor``
    (``examhw``/``bosch``/``hikvision``/``dahua``). Credentials come from
    ``ctx.secrets``: ``password`` (none → open camera) and ``username``
    (default ``admin``). :meth:`start` returns ``onvif://user@127.0.0.1:PORT``.
    """

    kind = DeviceKind.CAMERA

    def __init__(self, ctx: SimContext) -> None:
        super().__init__(ctx)
        username = ctx.secrets.get("username", "admin") or "admin"
        password = ctx.secrets.get("password", "") or ""
        vendor = str(ctx.opt("vendor", "examhw")).lower()
        try:
            self._model = CameraModel(
                ctx.role, vendor=vendor, clock_skew_s=ctx.opt("clock_skew_s", 0.0),
                require_zulu=ctx.opt("require_zulu", False), username=username, password=password)
        except ValueError as exc:
            raise ConfigError(str(exc), role=ctx.role, key="sim.vendor") from None
        self.services = OnvifServices(self._model)
        self._digest = DigestAuthority(username, password) if password else None
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._soap)
        app.router.add_route("GET", self.services.snapshot_path(), self._snapshot)
        self._endpoint = HttpEndpoint(app, ctx.faults)
        self.base_url = ""

    async def start(self) -> str:
        self.base_url = await self._endpoint.start()
        self.url = f"onvif://{self._model.username}@127.0.0.1:{self._endpoint.port}"
        return self.url

    async def stop(self) -> None:
        await self._endpoint.stop()

    @property
    def snapshot_url(self) -> str:
        """Base snapshot URL (for tests and the backdoor)."""
        return self.base_url + self.services.snapshot_path()

    # -- handlers ------------------------------------------------------------------
    async def _soap(self, request: web.Request) -> web.Response:
        body = await request.read()
        reply = self.services.dispatch(body, self.base_url)
        return web.Response(status=reply.status, body=reply.body,
                            headers={"Content-Type": reply.content_type})

    async def _snapshot(self, request: web.Request) -> web.Response:
        model = self._model
        model.snapshots["requests"] += 1
        if self._digest is not None:
            verdict = self._digest.check(request.method, request.raw_path,
                                         request.headers.get("Authorization"))
            if verdict != "ok":
                model.snapshots["challenged" if verdict in ("missing", "stale") else "rejected"] += 1
                return web.Response(status=401, text="401 Unauthorized",
                                    headers={"WWW-Authenticate": self._digest.challenge(stale=verdict == "stale")})
        broken = model.snapshot_broken
        if broken == "html":
            return web.Response(status=200, body=_HTML_ERROR, content_type="text/html")
        if broken == "empty":
            return web.Response(status=200, body=b"", content_type="image/jpeg")
        if broken == "error":
            return web.Response(status=500, text="500 Internal Server Error")
        order = model.next_frame_order()
        jpeg = await asyncio.to_thread(model.render, order)
        if broken == "truncated":
            jpeg = jpeg[:200]
        model.snapshots["served"] += 1
        return web.Response(status=200, body=jpeg, content_type="image/jpeg")
