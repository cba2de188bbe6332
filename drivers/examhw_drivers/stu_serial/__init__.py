"""Wacom-STU-style signature pad over the STU serial framing
(docs/protocols/stu-serial.md)."""
from __future__ import annotations

from examhw.kinds import DeviceKind
from examhw.plugins import DriverSpec

from .driver import StuSerialPad

DRIVER = DriverSpec(
    name="examhw.stu-serial",
    kind=DeviceKind.SIGNATURE_PAD,
    schemes=("serial",),
    factory=StuSerialPad,
    simulator="examhw.sim.stu-serial",
    options={"baud": int},
    description="Signature pad: Wacom-STU-style reports over the STU serial framing "
                "(7-bit packed, CRC-16), OK/Clear/Cancel hotspots drawn by the host",
)

__all__ = ["DRIVER", "StuSerialPad"]
