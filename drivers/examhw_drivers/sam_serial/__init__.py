"""``examhw.sam-serial``: ID card readers with a GA 467 SAM on a serial line
(resident ID, J, I and Y cards). Protocol: ``docs/protocols/sam-serial.md``."""
from __future__ import annotations

from examhw.kinds import DeviceKind
from examhw.plugins import DriverSpec

from .driver import SamSerialReader

DRIVER = DriverSpec(
    name="examhw.sam-serial",
    kind=DeviceKind.ID_READER,
    schemes=("serial",),
    factory=SamSerialReader,
    simulator="examhw.sim.sam-serial",
    options={"poll_s": float, "fingerprint": bool, "baud": int},
    description="China resident-ID card reader, SAM serial protocol (GA 467 family), 115200 8N1",
)

__all__ = ["DRIVER", "SamSerialReader"]
