"""Turns a pen report stream into strokes and button taps (pure, no I/O).

Time: ``timeCount`` (1 ms ticks, wraps at 0xFFFF) is unwrapped by summing
``(tc - previous) & 0xFFFF``; plain PenData without a time count advances by
one report period. ``t_ms`` is counted from the first report after the last
:meth:`StrokeTracker.reset`.
"""
from __future__ import annotations

from typing import Any

from examhw.kinds.signature_pad import PenPoint

from .hotspots import ButtonLayout
from .reports import PenSample


class StrokeTracker:
    """Collects ink strokes; reports ``pen_down``, ``pen_up`` and ``button``
    happenings from :meth:`add`."""

    def __init__(self, layout: ButtonLayout, period_ms: int = 5) -> None:
        self.layout = layout
        self.period_ms = period_ms
        self.strokes: list[tuple[PenPoint, ...]] = []
        self.lost_reports = 0
        self._cur: list[PenPoint] = []
        self._button: str | None = None
        self._down = False
        self._t: int | None = None
        self._last_tc: int | None = None
        self._last_seq: int | None = None

    def reset(self) -> None:
        """Forget all ink and restart timing (Clear)."""
        self.strokes.clear()
        self._cur = []
        self._button = None
        self._down = False
        self._t = self._last_tc = self._last_seq = None

    def _time(self, s: PenSample) -> int:
        if self._t is None:
            self._t = 0
        elif s.time_count is not None and self._last_tc is not None:
            self._t += (s.time_count - self._last_tc) & 0xFFFF
        else:
            self._t += self.period_ms
        self._last_tc = s.time_count
        if s.sequence is not None:
            if self._last_seq is not None:
                self.lost_reports += ((s.sequence - self._last_seq) & 0xFFFF) - 1
            self._last_seq = s.sequence
        return self._t

    def add(self, s: PenSample) -> list[tuple[str, dict[str, Any]]]:
        """Take one report; return ``(event, data)`` happenings in order."""
        t = self._time(s)
        out: list[tuple[str, dict[str, Any]]] = []
        if s.down:
            point = PenPoint(s.x, s.y, s.pressure, t, True)
            if not self._down:
                self._down = True
                self._button = self.layout.button_at(s.x, s.y)
                self._cur = []
                if self._button is None:
                    out.append(("pen_down", {"x": s.x, "y": s.y, "pressure": s.pressure, "t_ms": t}))
            self._cur.append(point)
        elif self._down:
            self._down = False
            if self._button is not None:
                last = self._cur[-1]
                if self.layout.button_at(last.x, last.y) == self._button:
                    out.append(("button", {"button": self._button, "t_ms": t}))
            else:
                self.strokes.append(tuple(self._cur))
                out.append(("pen_up", {"points": len(self._cur), "t_ms": t}))
            self._cur = []
            self._button = None
        return out

    @property
    def point_count(self) -> int:
        return sum(len(s) for s in self.strokes)


def bbox(strokes: tuple[tuple[PenPoint, ...], ...] | list[tuple[PenPoint, ...]]) -> tuple[int, int, int, int] | None:
    """``(min_x, min_y, max_x, max_y)`` in tablet units, ``None`` if no points."""
    pts = [p for s in strokes for p in s]
    if not pts:
        return None
    xs = [p.x for p in pts]
    ys = [p.y for p in pts]
    return (min(xs), min(ys), max(xs), max(ys))
