"""The simulated signer's hand: deterministic, plausible handwriting.

Everything here is in tablet units and 200 Hz samples (one sample = one pen
report = 5 ms of pen time). No I/O, no clock.
"""
from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass
from typing import Iterable, Sequence

#: one stroke: points (x, y, pressure) sampled at the report rate
Stroke = list[tuple[int, int, int]]


@dataclass(frozen=True)
class Sample:
    """One pen report's worth of pen state."""

    x: int
    y: int
    pressure: int
    rdy: bool
    touching: bool


def _clamp(v: float, lo: int, hi: int) -> int:
    return int(min(hi, max(lo, round(v))))


def signature_strokes(name: str, max_x: int, max_y: int, max_pressure: int) -> list[Stroke]:
    """A cursive-looking signature for ``name`` (same name → same strokes):
    one looping stroke per word (about 40 samples per letter) plus an
    underline flourish, kept inside the top 72 % of the tablet (above the
    OK/Clear/Cancel bar)."""
    words = [w for w in name.split() if w][:4] or ["signer"]
    rng = random.Random(zlib.crc32(name.encode("utf-8")))
    left, right = 0.08 * max_x, 0.92 * max_x
    top, bottom = 0.15 * max_y, 0.65 * max_y
    letters_total = sum(min(8, max(2, len(w))) for w in words) + len(words) - 1
    letter_w = (right - left) / max(1, letters_total)
    height = min((bottom - top) * 0.55, letter_w * 1.6)
    base_y = top + (bottom - top) * 0.6
    strokes: list[Stroke] = []
    x_cursor = left
    for word in words:
        n_letters = min(8, max(2, len(word)))
        n = 40 * n_letters
        width = letter_w * n_letters
        phase = rng.uniform(0, math.pi)
        amp = [rng.uniform(0.55, 1.0) for _ in range(n_letters)]
        loop = rng.uniform(0.25, 0.45)
        slant = rng.uniform(0.1, 0.3)
        pts: Stroke = []
        for i in range(n):
            u = i / (n - 1)
            k = min(n_letters - 1, int(u * n_letters))
            wave = math.sin(2 * math.pi * n_letters * u + phase)
            y = base_y - height * amp[k] * (0.5 + 0.5 * wave)
            x = x_cursor + width * u + letter_w * loop * math.cos(2 * math.pi * n_letters * u + phase)
            x += slant * (base_y - y)
            taper = min(1.0, i / 8, (n - 1 - i) / 8)
            p = max_pressure * (0.45 + 0.15 * math.sin(5 * math.pi * u)) * (0.3 + 0.7 * taper)
            pts.append((_clamp(x, 0, max_x), _clamp(y, 0, max_y), _clamp(p, 1, max_pressure)))
        strokes.append(pts)
        x_cursor += width + letter_w
    # underline flourish
    n = 60
    y0 = base_y + height * 0.35
    x0, x1 = left + letter_w * 0.5, min(right, x_cursor - letter_w * 0.5)
    bow = rng.uniform(0.05, 0.15) * height
    flourish: Stroke = []
    for i in range(n):
        u = i / (n - 1)
        x = x0 + (x1 - x0) * u
        y = y0 + bow * math.sin(math.pi * u) - 0.2 * height * u
        p = max_pressure * 0.5 * (0.3 + 0.7 * min(1.0, i / 6, (n - 1 - i) / 6))
        flourish.append((_clamp(x, 0, max_x), _clamp(y, 0, max_y), _clamp(p, 1, max_pressure)))
    strokes.append(flourish)
    return strokes


def normalise(strokes: Iterable[Sequence[Sequence[int]]], max_x: int, max_y: int,
              max_pressure: int) -> list[Stroke]:
    """Accept strokes as lists of ``(x, y)`` or ``(x, y, pressure)``; clamp
    to the tablet. Raises ``ValueError`` for a malformed point."""
    out: list[Stroke] = []
    for stroke in strokes:
        pts: Stroke = []
        for pt in stroke:
            if len(pt) not in (2, 3):
                raise ValueError(f"pen point must be (x, y) or (x, y, pressure), got {pt!r}")
            p = pt[2] if len(pt) == 3 else max_pressure // 2
            pts.append((_clamp(pt[0], 0, max_x), _clamp(pt[1], 0, max_y), _clamp(p, 1, max_pressure)))
        if pts:
            out.append(pts)
    return out


def _hover(a: tuple[int, int], b: tuple[int, int], n: int) -> list[Sample]:
    return [Sample(round(a[0] + (b[0] - a[0]) * i / n), round(a[1] + (b[1] - a[1]) * i / n), 0, True, False)
            for i in range(1, n + 1)]


def samples_for(strokes: Sequence[Stroke], start: tuple[int, int] | None = None,
                *, lift_last: bool = True) -> list[Sample]:
    """Turn strokes into a report-by-report pen timeline: hover to each
    stroke start, touch along it, lift (one hover sample) at its end.
    ``lift_last=False`` leaves the pen down after the last stroke."""
    out: list[Sample] = []
    pos = start
    for k, stroke in enumerate(strokes):
        first = (stroke[0][0], stroke[0][1])
        out += _hover(pos, first, 10) if pos is not None else [Sample(first[0], first[1], 0, True, False)] * 3
        out += [Sample(x, y, p, True, True) for x, y, p in stroke]
        last = (stroke[-1][0], stroke[-1][1])
        if lift_last or k < len(strokes) - 1:
            out.append(Sample(last[0], last[1], 0, True, False))
        pos = last
    return out


def tap_samples(at: tuple[int, int], pressure: int, start: tuple[int, int] | None = None) -> list[Sample]:
    """Hover to ``at``, touch for 4 samples (20 ms), lift, leave proximity."""
    out = _hover(start, at, 6) if start is not None else [Sample(at[0], at[1], 0, True, False)] * 2
    out += [Sample(at[0], at[1], pressure, True, True)] * 4
    out.append(Sample(at[0], at[1], 0, True, False))
    out.append(Sample(at[0], at[1], 0, False, False))
    return out
