"""Turn the raw photo block of an ID card into an ordinary image.

Resident ID cards store the photo as 1024 bytes in a vendor format (WLT)
that only a vendor library can decode; simulated cards use the simulator's
own test format. Each format is handled by a :class:`PhotoDecoderSpec` that a
plugin registers (``registry.photo_decoders``). :func:`decode_id_photo` asks
them in turn and returns the first image one produces.

Without a vendor library a real card's WLT block decodes to ``None``: the
gate must then fall back to a manual identity check (BR-25), never to a
face "no match".
"""
from __future__ import annotations

import logging
from typing import Iterable

import cv2
import numpy as np

from ..plugins.registry import PhotoDecoderSpec

log = logging.getLogger("examhw.face.idphoto")


def _is_image(data: bytes) -> bool:
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size == 0:
        return False
    img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return img is not None and img.size > 0


def decode_id_photo(photo: bytes, decoders: Iterable[PhotoDecoderSpec]) -> bytes | None:
    """Decode ``photo`` (the card's raw photo block) with the first decoder
    that recognises it.

    Each decoder's ``decode(photo)`` returns encoded image bytes (PNG, JPEG,
    WebP …) or ``None`` when the format is not its own. A result that OpenCV
    cannot decode, and a decoder that raises, are logged as warnings (with
    the decoder's and plugin's names) and skipped, so one broken plugin does
    not hide the others. Returns ``None`` when no decoder produced an image
    (e.g. a real WLT block and no vendor library installed), or when
    ``photo`` is empty.
    """
    if not photo:
        return None
    for spec in decoders:
        try:
            image = spec.decode(photo)
        except Exception as exc:  # noqa: BLE001 - third-party decoder; logged, next one tried
            log.warning("photo decoder %s (plugin %s) failed: %s: %s",
                        spec.name, spec.plugin or "?", type(exc).__name__, exc)
            continue
        if image is None:
            continue
        if not isinstance(image, (bytes, bytearray, memoryview)) or not _is_image(bytes(image)):
            log.warning("photo decoder %s (plugin %s) returned something that is not an encoded image; ignored",
                        spec.name, spec.plugin or "?")
            continue
        log.debug("ID photo decoded by %s (%d bytes in, %d bytes out)", spec.name, len(photo), len(image))
        return bytes(image)
    return None


#: The name :mod:`examhw.kinds.id_reader` refers to.
decode_photo = decode_id_photo
