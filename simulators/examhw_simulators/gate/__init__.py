"""Simulator of a DS205A-style turnstile board speaking the RS485 "7E/7F"
protocol over a pty (docs/protocols/gate-7e7f.md)."""
from examhw.kinds import DeviceKind
from examhw.plugins.registry import SimulatorSpec

from .model import GateModel
from .simulator import GateSimulator

SIMULATOR = SimulatorSpec(
    name="examhw.sim.gate-7e7f",
    kind=DeviceKind.TURNSTILE,
    factory=GateSimulator,
    transport="pty",
    options={"address": int, "wait_time_s": float, "stroke_s": float, "in_side": str, "firmware": int},
    description="DS205A-style gate board (7E/7F frames) on a pty; two flaps, counters, alarms, fire input",
)

__all__ = ["GateModel", "GateSimulator", "SIMULATOR"]
