"""Typed site configuration."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..kinds import DeviceKind
from ..urls import DeviceURL


@dataclass(frozen=True)
class DeviceConfig:
    """One role: which kind of device, which driver, where (URL), driver
    options, secret references (``env:NAME`` / ``file:PATH``, resolved only
    when the device is built) and simulator options (used with ``sim:``)."""

    role: str
    kind: DeviceKind
    driver: str
    url: DeviceURL
    options: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    sim: dict[str, Any] = field(default_factory=dict)
    zone: str = ""
    #: the table the role came from (``seat_cam`` for ``seat_cam_042`` with ``count``)
    group: str = ""


@dataclass(frozen=True)
class SiteConfig:
    """A whole site: identity, capacity, default timeout and devices by role."""

    site_id: str
    name: str = ""
    seats: int = 100
    accessible_seats: tuple[int, ...] = (1,)
    timeout_s: float = 5.0
    devices: dict[str, DeviceConfig] = field(default_factory=dict)
    flow: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def roles_of(self, kind: DeviceKind) -> list[str]:
        return [r for r, d in self.devices.items() if d.kind == kind]
