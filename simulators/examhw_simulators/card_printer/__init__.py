"""Simulated Evolis card printer (escape commands over loopback TCP)."""
from examhw.kinds import DeviceKind
from examhw.plugins import SimulatorSpec

from .model import CapturedCard, CardPrinterModel
from .simulator import EvolisSimulator

SIMULATOR = SimulatorSpec(
    name="examhw.sim.evolis",
    kind=DeviceKind.CARD_PRINTER,
    factory=EvolisSimulator,
    transport="tcp",
    options={"print_time_s": float, "cards": int, "ribbon_panels": int, "ribbon_low_at": int,
             "feeder_low_at": int, "serial": str},
    description="Evolis-style card printer: ESC commands, ACK/NACK, job timing on the site clock",
)

__all__ = ["SIMULATOR", "CapturedCard", "CardPrinterModel", "EvolisSimulator"]
