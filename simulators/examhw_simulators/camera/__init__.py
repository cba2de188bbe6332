"""Simulated ONVIF camera (device + media services over loopback HTTP/SOAP,
Digest-protected JPEG snapshots showing whoever stands in front of it).
Protocol: docs/protocols/onvif-camera.md."""
from __future__ import annotations

from examhw.kinds import DeviceKind
from examhw.plugins import SimulatorSpec
from examhw.sim.base import SimContext

from .model import CameraModel
from .simulator import OnvifCameraSimulator


def _factory(ctx: SimContext) -> OnvifCameraSimulator:
    return OnvifCameraSimulator(ctx)


SIMULATOR = SimulatorSpec(
    name="examhw.sim.onvif",
    kind=DeviceKind.CAMERA,
    factory=_factory,
    transport="http",
    options={"clock_skew_s": float, "require_zulu": bool, "vendor": str},
    description="ONVIF camera: WS-UsernameToken SOAP device/media services, HTTP-Digest JPEG snapshots "
                "of the face shown to it; vendors examhw/bosch/hikvision/dahua",
)

__all__ = ["CameraModel", "OnvifCameraSimulator", "SIMULATOR"]
