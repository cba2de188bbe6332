"""Make an ID-card-style photo from an ordinary picture.

Chinese resident ID cards hold a 102×126 pixel head-and-shoulders photo.
:func:`id_style_crop` produces the same kind of image from any photo so
simulated cards (and tests) carry a realistic reference: the largest face
centred, its detected height about half the image height, greyscale, PNG.
"""
from __future__ import annotations

import cv2
import numpy as np

from .verifier import FaceVerifier, ImageInput, to_bgr

#: Size of the photo on a resident ID card, pixels (width, height).
ID_PHOTO_SIZE = (102, 126)
#: Detected face height as a fraction of the output height.
FACE_HEIGHT_FRACTION = 0.5
#: Vertical position of the face-box centre as a fraction of the output
#: height from the top (leaves room for hair above, shoulders below).
FACE_CENTRE_Y = 0.42


def id_style_crop(image: ImageInput, *, verifier: FaceVerifier | None = None,
                  size: tuple[int, int] = ID_PHOTO_SIZE) -> bytes | None:
    """A greyscale PNG of ``size`` (default 102×126) cropped around the
    largest face of ``image``, or ``None`` when no face is found (or the
    bytes do not decode).

    ``verifier`` supplies the face detector; without one a
    :class:`FaceVerifier` is built for this call (≈30 ms to load the models).
    Areas outside the source picture are filled by repeating its edge.
    """
    bgr = to_bgr(image)
    if bgr is None:
        return None
    owner = verifier or FaceVerifier()
    try:
        faces = owner.detect(bgr)
    finally:
        if verifier is None:
            owner.close()
    if not faces:
        return None
    face = faces[0]
    out_w, out_h = size
    crop_h = face.h / FACE_HEIGHT_FRACTION
    crop_w = crop_h * out_w / out_h
    cx = face.x + face.w / 2.0
    top = face.y + face.h / 2.0 - FACE_CENTRE_Y * crop_h
    # Affine map: output pixel (u, v) samples source (left + u*s, top + v*s).
    s = crop_h / out_h
    left = cx - crop_w / 2.0
    m = np.array([[1.0 / s, 0.0, -left / s], [0.0, 1.0 / s, -top / s]], dtype=np.float64)
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    if s > 1.0:  # shrinking: smooth first so the small photo does not alias
        grey = cv2.GaussianBlur(grey, (0, 0), sigmaX=0.5 * s)
    out = cv2.warpAffine(grey, m, (out_w, out_h), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    ok, png = cv2.imencode(".png", out)
    if not ok:  # pragma: no cover - PNG encoding of a small uint8 image does not fail
        raise RuntimeError("PNG encoding failed")
    return png.tobytes()
