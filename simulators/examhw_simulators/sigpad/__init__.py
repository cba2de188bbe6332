"""Simulated Wacom-STU-style signature pad on a pty
(docs/protocols/stu-serial.md)."""
from __future__ import annotations

from examhw.kinds import DeviceKind
from examhw.plugins import SimulatorSpec

from .model import SigPadModel
from .simulator import SigPadSimulator

SIMULATOR = SimulatorSpec(
    name="examhw.sim.stu-serial",
    kind=DeviceKind.SIGNATURE_PAD,
    factory=SigPadSimulator,
    transport="pty",
    options={"model": str, "uid": str, "time0": int, "pace": bool},
    description="STU-530-like signature pad: STU serial framing on a pty, scripted signer "
                "(sign/tap/cancel), unplug/replug",
)

__all__ = ["SIMULATOR", "SigPadModel", "SigPadSimulator"]
