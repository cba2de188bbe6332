"""The 1024-byte photo block a simulated card carries (docs/protocols/sam-serial.md §8).

- With a face image: examhw's own "XSIM" block = ``b"XSIM"`` + u16 BE length + a
  greyscale 102 × 126 WebP image + ``00`` filler. :func:`decode_photo_block` turns it
  back into PNG bytes (the ``examhw.sim-photo`` photo decoder).
- Without one: a synthetic WLT block, ``b"WLf\\0"`` + LCG filler (seed 1), which matches
  the research test vectors byte for byte and, like a real WLT photo, decodes to nothing.

OpenCV is imported lazily so loading the simulator plugin stays cheap.
"""
from __future__ import annotations

import logging
import struct

log = logging.getLogger("examhw.sim.idcard")

PHOTO_SIZE = 1024
WIDTH = 102
HEIGHT = 126
XSIM_MAGIC = b"XSIM"
WLT_MAGIC = b"WLf\x00"
_XSIM_HEAD = 6
MAX_IMAGE = PHOTO_SIZE - _XSIM_HEAD       # 1018 bytes of WebP at most
_QUALITIES = tuple(range(90, 0, -5)) + (1,)      # 90, 85, … 5, 1


def lcg_bytes(seed: int, count: int) -> bytes:
    """``count`` filler bytes: x ← (x·1103515245 + 12345) mod 2³¹, byte = (x >> 16) & 0xFF."""
    x = seed
    out = bytearray(count)
    for i in range(count):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out[i] = (x >> 16) & 0xFF
    return bytes(out)


def synthetic_wlt() -> bytes:
    """The synthetic WLT photo block (magic + 1020 filler bytes from seed 1)."""
    return WLT_MAGIC + lcg_bytes(1, PHOTO_SIZE - len(WLT_MAGIC))


def _encode_webp(face_image: bytes) -> bytes:
    import cv2
    import numpy as np

    img = cv2.imdecode(np.frombuffer(face_image, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise ValueError("face_image is not an image OpenCV can decode")
    img = cv2.resize(img, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
    sigma = 0.0
    while True:
        work = img if sigma == 0 else cv2.GaussianBlur(img, (0, 0), sigma)
        for quality in _QUALITIES:
            ok, buf = cv2.imencode(".webp", work, [cv2.IMWRITE_WEBP_QUALITY, quality])
            if ok and len(buf) <= MAX_IMAGE:
                return buf.tobytes()
        if sigma >= 32:
            raise ValueError("face image does not fit the 1024-byte photo block")
        sigma = 1.0 if sigma == 0 else sigma * 2
        log.debug("photo too detailed for %d bytes, blurring (sigma %.1f)", MAX_IMAGE, sigma)


def make_photo_block(face_image: bytes | None) -> bytes:
    """The 1024-byte photo block for a card.

    ``face_image`` is an encoded image (PNG/JPEG/…), ideally already cropped to head and
    shoulders; it is resized to 102 × 126 greyscale and stored as WebP (XSIM). ``None``
    gives the synthetic WLT block. Raises ValueError for undecodable images.
    """
    if face_image is None:
        return synthetic_wlt()
    webp = _encode_webp(face_image)
    block = XSIM_MAGIC + struct.pack(">H", len(webp)) + webp
    return block + bytes(PHOTO_SIZE - len(block))


def decode_photo_block(block: bytes) -> bytes | None:
    """PNG bytes of an XSIM photo block; ``None`` for any other block (WLT included)
    or a malformed one."""
    if len(block) < _XSIM_HEAD or bytes(block[:4]) != XSIM_MAGIC:
        return None
    (size,) = struct.unpack(">H", bytes(block[4:6]))
    if size == 0 or _XSIM_HEAD + size > len(block):
        return None
    import cv2
    import numpy as np

    img = cv2.imdecode(np.frombuffer(bytes(block[_XSIM_HEAD:_XSIM_HEAD + size]), dtype=np.uint8),
                       cv2.IMREAD_GRAYSCALE)
    if img is None:
        return None
    ok, png = cv2.imencode(".png", img)
    return png.tobytes() if ok else None
