"""Signature pad."""
from __future__ import annotations

import abc
from dataclasses import dataclass

from ._base import DeviceBase, DeviceKind


@dataclass(frozen=True)
class PenPoint:
    """One pen sample: tablet units x, y; pressure 0..max; t in ms since
    capture start; ``down`` when touching."""

    x: int
    y: int
    pressure: int
    t_ms: int
    down: bool


@dataclass(frozen=True)
class Signature:
    """A completed signature: strokes (lists of points while the pen was
    down), the rendered PNG, the pad's identity and tablet geometry."""

    strokes: tuple[tuple[PenPoint, ...], ...]
    png: bytes
    device_id: str
    max_x: int
    max_y: int
    max_pressure: int

    @property
    def point_count(self) -> int:
        return sum(len(s) for s in self.strokes)

    @property
    def duration_ms(self) -> int:
        pts = [p for s in self.strokes for p in s]
        return (pts[-1].t_ms - pts[0].t_ms) if pts else 0


class SignaturePad(DeviceBase, abc.ABC):
    """Uniform signature pad. Events: ``pen_down``, ``pen_up``, ``completed``,
    ``cancelled``."""

    kind = DeviceKind.SIGNATURE_PAD

    @abc.abstractmethod
    async def capture(self, prompt: str = "", *, timeout: float) -> Signature:
        """Capture one signature; ends when the signer confirms. Raises
        :class:`~examhw.errors.DeviceTimeout` if not confirmed in ``timeout``
        real seconds and :class:`~examhw.errors.DeviceFault` if cancelled or
        empty."""

    @abc.abstractmethod
    async def clear(self) -> None:
        """Clear the pad's screen and any partial ink."""
