"""Registers ACME's driver and simulator with examhw."""
from __future__ import annotations

from examhw.kinds import DeviceKind
from examhw.plugins import DriverSpec, Registry, SimulatorSpec, hookimpl

EXAMHW_API = 1


@hookimpl
def examhw_register_drivers(registry: Registry) -> None:
    from .driver import Ax1Ups
    registry.add_driver(DriverSpec(name="acme.ax1-ups", kind=DeviceKind.UPS, schemes=("tcp",),
                                   factory=Ax1Ups, simulator="acme.sim.ax1-ups",
                                   description="ACME AX-1 UPS, ASCII over TCP"))


@hookimpl
def examhw_register_simulators(registry: Registry) -> None:
    from .simulator import Ax1Simulator
    registry.add_simulator(SimulatorSpec(name="acme.sim.ax1-ups", kind=DeviceKind.UPS, factory=Ax1Simulator,
                                         transport="tcp", description="ACME AX-1 UPS simulator"))
