"""Walk-through metal detector."""
from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime

from ._base import DeviceBase, DeviceKind


@dataclass(frozen=True)
class TransitResult:
    """One person walked through. ``alarm`` is True when metal was detected;
    ``zones`` is ``None`` when the detector does not report zones."""

    alarm: bool
    zones: tuple[int, ...] | None
    at: datetime


@dataclass(frozen=True)
class DetectorCounters:
    transits: int
    alarms: int


class MetalDetector(DeviceBase, abc.ABC):
    """Uniform walk-through detector. Events: ``transit``, ``alarm``, ``fault``."""

    kind = DeviceKind.METAL_DETECTOR

    @abc.abstractmethod
    async def wait_transit(self, *, timeout: float) -> TransitResult:
        """Wait (real s) for the next person to pass through the arch.
        Raises :class:`~examhw.errors.DeviceTimeout` if nobody passes."""

    @abc.abstractmethod
    async def counters(self) -> DetectorCounters:
        """Transits and alarms counted since open."""
