"""Walk-through metal detector via a Modbus digital-input module
(Modbus TCP; docs/protocols/wtmd-modbus-di.md)."""
from __future__ import annotations

from typing import Any, Mapping

from examhw.kinds import DeviceKind, DriverContext
from examhw.plugins import DriverSpec
from examhw.urls import DeviceURL

from .driver import WtmdModbusDetector


def _factory(role: str, url: DeviceURL, options: Mapping[str, Any], ctx: DriverContext) -> WtmdModbusDetector:
    return WtmdModbusDetector(role, url, options, ctx)


DRIVER = DriverSpec(
    name="examhw.wtmd-modbus",
    kind=DeviceKind.METAL_DETECTOR,
    schemes=("modbus+tcp",),
    factory=_factory,
    simulator="examhw.sim.wtmd-modbus",
    options={"unit": int, "poll_s": float, "active_low": bool, "di_base": int, "counter_base": int,
             "fresh_s": float},
    description="Walk-through metal detector: alarm/transit/ready relays and pulse counters "
                "read from a Modbus TCP digital-input module",
)

__all__ = ["DRIVER", "WtmdModbusDetector"]
