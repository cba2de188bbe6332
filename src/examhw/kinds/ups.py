"""Uninterruptible power supply."""
from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field

from ._base import DeviceBase, DeviceKind


class PowerSource(str, enum.Enum):
    MAINS = "mains"
    BATTERY = "battery"
    UNKNOWN = "unknown"     # stale data, driver down, unreachable: never "mains OK"


@dataclass(frozen=True)
class UpsStatus:
    """Normalised UPS reading. ``flags`` is the full NUT-style flag set
    (``OL``, ``OB``, ``LB``, ``CHRG``, ``RB``…), unknown flags kept.
    Units: charge %, runtime s, voltages V, load %."""

    source: PowerSource
    flags: frozenset[str]
    charge_pct: float | None = None
    runtime_s: float | None = None
    input_v: float | None = None
    load_pct: float | None = None
    vars: dict[str, str] = field(default_factory=dict)

    @property
    def low_battery(self) -> bool:
        return bool({"LB", "FSD"} & self.flags)


class Ups(DeviceBase, abc.ABC):
    """Uniform UPS. Events: ``power_lost``, ``power_restored``,
    ``battery_low``, ``data_stale``."""

    kind = DeviceKind.UPS

    @abc.abstractmethod
    async def status(self) -> UpsStatus:
        """Read the current status (emits power events on transitions)."""
