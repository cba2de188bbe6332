"""Clocks. The flow and the simulators take time from a :class:`Clock`, never
from ``time`` directly, so a whole exam day can run on an accelerated clock.
"""
from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Source of (possibly scaled) time."""

    def now(self) -> float:
        """Seconds of *site* time since an arbitrary origin (monotonic)."""

    def wall(self) -> datetime:
        """Site wall-clock time (UTC)."""

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of site time."""

    def to_real(self, seconds: float) -> float:
        """Convert a site-time duration into real seconds (for I/O timeouts)."""


class RealClock:
    """Site time is real time."""

    def __init__(self) -> None:
        self._wall0 = datetime.now(timezone.utc)
        self._mono0 = time.monotonic()

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> datetime:
        return self._wall0 + timedelta(seconds=time.monotonic() - self._mono0)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def to_real(self, seconds: float) -> float:
        return seconds


class ScaledClock:
    """Site time runs ``speed`` times faster than real time.

    ``ScaledClock(600)`` runs a 45-minute exam in 4.5 real seconds. Device I/O
    timeouts stay in real seconds; only modelled durations (answer times,
    exam limits, passage waits) are scaled.
    """

    def __init__(self, speed: float, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.speed = float(speed)
        self._mono0 = time.monotonic()
        self._wall0 = start or datetime.now(timezone.utc)

    def now(self) -> float:
        return (time.monotonic() - self._mono0) * self.speed

    def wall(self) -> datetime:
        return self._wall0 + timedelta(seconds=self.now())

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    def to_real(self, seconds: float) -> float:
        return seconds / self.speed
