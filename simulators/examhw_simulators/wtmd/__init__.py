"""Simulated walk-through metal detector behind a Modbus TCP DI module
(docs/protocols/wtmd-modbus-di.md)."""
from __future__ import annotations

from examhw.kinds import DeviceKind
from examhw.plugins import SimulatorSpec
from examhw.sim import SimContext

from .model import WtmdModel
from .simulator import WtmdModbusSimulator


def _factory(ctx: SimContext) -> WtmdModbusSimulator:
    return WtmdModbusSimulator(ctx)


SIMULATOR = SimulatorSpec(
    name="examhw.sim.wtmd-modbus",
    kind=DeviceKind.METAL_DETECTOR,
    factory=_factory,
    transport="modbus-tcp",
    options={"unit": int, "active_low": bool, "transit_pulse_s": float, "alarm_pulse_s": float},
    description="Walk-through metal detector (alarm/transit/ready relays + counters) "
                "behind a Modbus TCP digital-input module; actions walk_through, set_fault, reset_counters",
)

__all__ = ["SIMULATOR", "WtmdModbusSimulator", "WtmdModel"]
