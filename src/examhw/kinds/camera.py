"""Camera (ONVIF device + snapshot)."""
from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime

from ._base import DeviceBase, DeviceKind


@dataclass(frozen=True)
class MediaProfile:
    token: str
    name: str
    encoding: str | None
    width: int | None
    height: int | None


@dataclass(frozen=True)
class Snapshot:
    """A still image: encoded bytes (JPEG), its content type, size in pixels
    and the site time it was taken."""

    data: bytes
    content_type: str
    width: int
    height: int
    taken_at: datetime


class Camera(DeviceBase, abc.ABC):
    """Uniform camera. Events: ``snapshot_failed``, ``clock_skewed`` (camera clock
    more than 5 s off; its signatures and timestamps are corrected), ``stream_lost``."""

    kind = DeviceKind.CAMERA

    @abc.abstractmethod
    async def snapshot(self, profile: str | None = None) -> Snapshot:
        """Take one JPEG still. Raises :class:`~examhw.errors.ProtocolError`
        if the camera returns something that is not an image."""

    @abc.abstractmethod
    async def profiles(self) -> list[MediaProfile]:
        """Media profiles the camera offers."""

    @abc.abstractmethod
    async def stream_uri(self, profile: str | None = None) -> str:
        """RTSP URI of ``profile`` (the first profile by default)."""

    @abc.abstractmethod
    async def clock_offset(self) -> float:
        """Camera clock minus host clock, in seconds."""
