"""``examhw.nut``: UPSes served by a Network UPS Tools ``upsd`` over TCP
(RFC 9271). Protocol: ``docs/protocols/nut.md``."""
from __future__ import annotations

from examhw.kinds import DeviceKind
from examhw.plugins import DriverSpec

from .driver import NutUps

DRIVER = DriverSpec(
    name="examhw.nut",
    kind=DeviceKind.UPS,
    schemes=("nut",),
    factory=NutUps,
    simulator="examhw.sim.nut",
    options={"ups": str, "frozen_after_s": float},
    description="UPS via a NUT upsd (network protocol, RFC 9271); URL nut://host:3493/<upsname>",
)

__all__ = ["DRIVER", "NutUps"]
