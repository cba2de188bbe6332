"""Evolis card printer: escape commands (ESC cmd;p…CR) over raw TCP."""
from examhw.kinds import DeviceKind
from examhw.plugins import DriverSpec

from .driver import EvolisCardPrinter, make_driver

DRIVER = DriverSpec(
    name="examhw.evolis",
    kind=DeviceKind.CARD_PRINTER,
    schemes=("tcp",),
    factory=make_driver,
    simulator="examhw.sim.evolis",
    options={"ack_nack": bool},
    description="Evolis escape-command card printer on tcp://host:port (default 9100)",
)

__all__ = ["DRIVER", "EvolisCardPrinter"]
