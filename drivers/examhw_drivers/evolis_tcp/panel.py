"""Turn a card side image into the 2-level K panel payload (82 296 bytes)."""
from __future__ import annotations

import cv2
import numpy as np

from .codec import K_PANEL_BYTES, PANEL_DOTS, PANEL_LINES

_PNG = b"\x89PNG\r\n\x1a\n"


def k_panel(image: bytes, *, threshold: int = 128) -> bytes:
    """Convert ``image`` (PNG or any OpenCV-readable image, or already a raw
    panel of exactly 82 296 bytes) into the K panel payload.

    A landscape image is turned 90° clockwise (lines run across the short
    card edge), then resized to 648 × 1016 (w × h). Grey < ``threshold``
    becomes a printed dot (bit 1), packed MSB first, 81 bytes per line.
    Raises :class:`ValueError` when the bytes are not a decodable image.
    """
    if len(image) == K_PANEL_BYTES and not image.startswith(_PNG):
        return bytes(image)
    if not image:
        raise ValueError("empty card image")
    buf = np.frombuffer(image, dtype=np.uint8)
    grey = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    if grey is None or grey.size == 0:
        raise ValueError("card image is not a decodable image")
    h, w = grey.shape[:2]
    if w > h:
        grey = cv2.rotate(grey, cv2.ROTATE_90_CLOCKWISE)
    grey = cv2.resize(grey, (PANEL_DOTS, PANEL_LINES), interpolation=cv2.INTER_AREA)
    bits = (grey < threshold).astype(np.uint8)
    packed = np.packbits(bits, axis=1, bitorder="big")
    data = packed.tobytes()
    assert len(data) == K_PANEL_BYTES
    return data
