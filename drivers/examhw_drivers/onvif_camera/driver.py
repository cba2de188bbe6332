"""ONVIF camera driver (Profile S subset): identity, media profiles, RTSP
URI, camera clock offset, and HTTP JPEG snapshots.

URL: ``onvif://[user@]host[:port]`` (port 80 by default). The password comes
from ``ctx.secrets["password"]``; the user from the URL or
``ctx.secrets["username"]``. Credentials are never logged nor put in events
(R-SEC-CRED). Protocol: docs/protocols/onvif-camera.md.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Mapping

import cv2
import numpy as np

from examhw.errors import ConfigError, DeviceError, DeviceFault, DeviceUnavailable, ProtocolError
from examhw.kinds import DeviceInfo, DriverContext
from examhw.kinds.camera import Camera, MediaProfile, Snapshot
from examhw.transports.onvif import ImageBytes, OnvifClient, OnvifProfile
from examhw.urls import DeviceURL

log = logging.getLogger("examhw.drivers.onvif")

DEFAULT_PORT = 80
#: |camera clock − host clock| above which a ``clock_skewed`` event is emitted, seconds
CLOCK_WARN_S = 5.0


def _decode_size(data: bytes) -> tuple[int, int]:
    """Width and height of an encoded image; :class:`ProtocolError` if it does not decode."""
    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if img is None or img.size == 0:
        raise ProtocolError(f"snapshot has image magic but does not decode ({len(data)} bytes)")
    height, width = img.shape[:2]
    return int(width), int(height)


class OnvifCamera(Camera):
    """A camera spoken to over ONVIF (SOAP, WS-UsernameToken) with JPEG
    snapshots over HTTP (Digest/Basic).

    Option ``profile``: media profile token used when a call names none
    (default: the camera's first profile). Events: ``snapshot_failed``
    (profile, error, code, detail), ``clock_skewed`` (offset_s)."""

    capabilities = frozenset({"snapshot", "stream_uri", "clock_offset"})

    def __init__(self, role: str, url: DeviceURL, options: Mapping[str, Any] | None = None,
                 ctx: DriverContext | None = None) -> None:
        super().__init__(role, url, options, ctx)
        if url.scheme != "onvif":
            raise ConfigError(f"URL scheme {url.scheme!r} is not onvif", role=role, key="url")
        if not url.host:
            raise ConfigError("onvif URL needs a host: onvif://user@host:port", role=role, key="url")
        self._host = url.host
        self._port = url.port or DEFAULT_PORT
        self._user = url.user or self.ctx.secrets.get("username") or None
        self._password = self.ctx.secrets.get("password") or url.password or None
        self._client: OnvifClient | None = None
        self._profiles: list[MediaProfile] = []
        self._default_token: str | None = None
        self._snapshot_uris: dict[str, str | None] = {}
        self.open_seconds = 0.0

    # -- lifecycle ---------------------------------------------------------------
    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        client = OnvifClient(self._host, self._port, self._user, self._password)
        await client.connect()
        try:
            info = await client.device_information()
            profiles = await client.profiles()
            token = self._pick_profile(profiles)
            uri = await client.snapshot_uri(token) if token is not None else None
        except BaseException:
            await client.close()
            raise
        self._client = client
        self.info = DeviceInfo(vendor=info.manufacturer, model=info.model, serial=info.serial,
                               firmware=info.firmware)
        self._profiles = [self._media_profile(p) for p in profiles]
        self._default_token = token
        self._snapshot_uris = {token: uri} if token is not None else {}
        self.open_seconds = loop.time() - t0
        if client.time is not None:
            self._check_clock(client.time.offset_s, client.time.source)

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def _probe(self) -> str:
        t = await self._require().system_date_and_time()
        return f"{self.info.vendor} {self.info.model}, clock offset {t.offset_s:+.0f} s"

    # -- helpers ------------------------------------------------------------------
    def _require(self) -> OnvifClient:
        if self._client is None:
            raise DeviceUnavailable("camera is not connected", role=self.role)
        return self._client

    def _pick_profile(self, profiles: list[OnvifProfile]) -> str | None:
        wanted = self.options.get("profile")
        if wanted:
            if not any(p.token == wanted for p in profiles):
                raise DeviceFault(f"camera has no media profile {wanted!r}; it has "
                                  f"{', '.join(p.token for p in profiles) or 'none'}", code="NoProfile",
                                  role=self.role)
            return str(wanted)
        return profiles[0].token if profiles else None

    @staticmethod
    def _media_profile(p: OnvifProfile) -> MediaProfile:
        return MediaProfile(token=p.token, name=p.name, encoding=p.encoding, width=p.width, height=p.height)

    def _token(self, profile: str | None) -> str:
        token = profile or self._default_token
        if token is None:
            raise DeviceFault("camera reports no media profile", code="NoProfile", role=self.role)
        return token

    def _check_clock(self, offset_s: float, source: str) -> None:
        if abs(offset_s) > CLOCK_WARN_S:
            log.warning("%s: camera clock is %+.0f s off the host clock (from %s time); "
                        "set its NTP server", self.role, offset_s, source)
            self.events.emit("clock_skewed", offset_s=round(offset_s, 1), source=source)

    # -- Camera interface ----------------------------------------------------------
    async def snapshot(self, profile: str | None = None) -> Snapshot:
        """One still image of ``profile`` (default profile if ``None``).

        ``taken_at`` is the site clock when the request was sent. Raises
        :class:`ProtocolError` (not an image / does not decode, BR-17),
        :class:`DeviceFault` (``not_authorized``, ``no_snapshot_uri``,
        ``http_<status>``…), :class:`DeviceUnavailable`, :class:`DeviceTimeout`
        (``timeout_s``). Every failure also emits ``snapshot_failed``."""
        token = profile or self._default_token or ""
        taken_at = self.ctx.clock.wall()
        try:
            token = self._token(profile)
            image = await self._call(self._fetch(token))
            width, height = await asyncio.to_thread(_decode_size, image.data)
        except DeviceError as exc:
            self.events.emit("snapshot_failed", profile=token, error=type(exc).__name__,
                             code=getattr(exc, "code", None), detail=str(exc))
            raise
        return Snapshot(data=image.data, content_type=f"image/{image.format}", width=width, height=height,
                        taken_at=taken_at)

    async def _fetch(self, token: str) -> ImageBytes:
        client = self._require()
        if token not in self._snapshot_uris:
            self._snapshot_uris[token] = await client.snapshot_uri(token)
        uri = self._snapshot_uris[token]
        if uri is None:
            raise DeviceFault(f"camera offers no HTTP snapshot for profile {token!r}", code="no_snapshot_uri",
                              role=self.role)
        return await client.fetch_snapshot(uri)

    async def profiles(self) -> list[MediaProfile]:
        """The camera's media profiles (asked fresh)."""
        async def op() -> list[MediaProfile]:
            return [self._media_profile(p) for p in await self._require().profiles()]
        self._profiles = await self._call(op())
        return list(self._profiles)

    async def stream_uri(self, profile: str | None = None) -> str:
        """RTSP URI of ``profile`` (the default profile if ``None``)."""
        token = self._token(profile)

        async def op() -> str:
            return await self._require().stream_uri(token)
        return await self._call(op())

    async def clock_offset(self) -> float:
        """Camera clock minus host clock, seconds (read now, unauthenticated;
        resolution about 1 s)."""
        async def op() -> float:
            return (await self._require().system_date_and_time()).offset_s
        offset = await self._call(op())
        return offset
