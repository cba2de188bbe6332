"""ONVIF camera driver (``examhw.onvif``): device + media services over
HTTP/SOAP via onvif-zeep-async, JPEG snapshots over HTTP Digest.
Protocol: docs/protocols/onvif-camera.md."""
from __future__ import annotations

from examhw.kinds import DeviceKind
from examhw.plugins import DriverSpec

from .driver import OnvifCamera

DRIVER = DriverSpec(
    name="examhw.onvif",
    kind=DeviceKind.CAMERA,
    schemes=("onvif",),
    factory=OnvifCamera,
    simulator="examhw.sim.onvif",
    options={"profile": str},
    description="ONVIF Profile S camera: identity, media profiles, RTSP URI, clock offset, HTTP JPEG snapshot "
                "(URL onvif://user@host:port; password from secrets)",
)

__all__ = ["DRIVER", "OnvifCamera"]
