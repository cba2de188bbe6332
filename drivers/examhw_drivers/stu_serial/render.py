"""Renders a PNG of a signature from its stored pen points with OpenCV, so
the image can never show anything the point data does not hold."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from examhw.errors import DeviceFault
from examhw.kinds.signature_pad import PenPoint


def render_png(strokes: Sequence[Sequence[PenPoint]], max_x: int, max_y: int,
               max_pressure: int, *, width: int = 800) -> bytes:
    """Black ink on white, ``width`` pixels wide, tablet aspect ratio kept;
    line thickness 1–4 px by pressure. Raises :class:`DeviceFault`
    (code ``render``) if OpenCV cannot encode the image."""
    height = max(1, round(width * max_y / max(1, max_x)))
    img = np.full((height, width), 255, dtype=np.uint8)
    sx = (width - 1) / max(1, max_x)
    sy = (height - 1) / max(1, max_y)
    mp = max(1, max_pressure)

    def px(p: PenPoint) -> tuple[int, int]:
        return (round(p.x * sx), round(p.y * sy))

    for stroke in strokes:
        if not stroke:
            continue
        if len(stroke) == 1:
            cv2.circle(img, px(stroke[0]), 2, 0, -1, cv2.LINE_AA)
            continue
        for a, b in zip(stroke, stroke[1:]):
            thick = 1 + round(3 * min(1.0, (a.pressure + b.pressure) / (2 * mp)))
            cv2.line(img, px(a), px(b), 0, thick, cv2.LINE_AA)
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise DeviceFault("cannot encode signature PNG", code="render")
    return buf.tobytes()
