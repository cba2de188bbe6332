"""Frames the simulated camera sends: a 640×480 JPEG of an empty exam-room
seat, or of the person whose photo is "shown" to the camera.

Pure image code (numpy + OpenCV); no I/O, no clock. Randomness comes from the
``random.Random`` the caller passes, so a seeded model gives reproducible
frames that still differ from one another.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import cv2
import numpy as np

WIDTH = 640
HEIGHT = 480
JPEG_QUALITY = 85
#: height of the pasted head-and-shoulders photo, as a fraction of the frame
PORTRAIT_HEIGHT_FRACTION = 0.70
#: max jitter of the pasted photo, pixels, and of brightness, fraction
POSITION_JITTER_PX = 12
BRIGHTNESS_JITTER = 0.08


def decode_image(data: bytes) -> np.ndarray:
    """Decode an encoded image (JPEG/PNG/…) into a BGR array.

    Raises :class:`ValueError` if ``data`` is not a decodable image."""
    if not data:
        raise ValueError("empty image data")
    arr = np.frombuffer(data, dtype=np.uint8)
    img = cv2.imdecode(arr, cv2.IMREAD_COLOR)
    if img is None or img.size == 0:
        raise ValueError(f"not a decodable image (first bytes {data[:8]!r})")
    return img


def make_background(seed: int) -> np.ndarray:
    """An empty exam-room seat seen from the seat camera (640×480 BGR):
    a lit wall with a soft vertical gradient, a partition, a desk edge and a
    monitor back. ``seed`` varies the colours slightly per camera."""
    rng = random.Random(seed)
    wall = np.array([200 + rng.randint(-12, 12), 205 + rng.randint(-12, 12), 210 + rng.randint(-12, 12)],
                    dtype=np.float32)
    ramp = np.linspace(1.05, 0.80, HEIGHT, dtype=np.float32)[:, None, None]
    img = np.clip(ramp * wall[None, None, :], 0, 255).astype(np.uint8).repeat(WIDTH, axis=1)
    # partition panels left and right
    panel = (150 + rng.randint(-10, 10), 140 + rng.randint(-10, 10), 120)
    cv2.rectangle(img, (0, 60), (70, HEIGHT), panel, thickness=-1)
    cv2.rectangle(img, (WIDTH - 70, 60), (WIDTH, HEIGHT), panel, thickness=-1)
    # desk at the bottom
    desk = (70, 105, 140)
    cv2.rectangle(img, (0, HEIGHT - 70), (WIDTH, HEIGHT), desk, thickness=-1)
    cv2.line(img, (0, HEIGHT - 70), (WIDTH, HEIGHT - 70), (50, 80, 110), 3)
    # monitor back on the left of the desk, keyboard edge
    cv2.rectangle(img, (95, HEIGHT - 170), (215, HEIGHT - 75), (45, 45, 48), thickness=-1)
    cv2.rectangle(img, (300, HEIGHT - 62), (520, HEIGHT - 48), (35, 35, 35), thickness=-1)
    return img


@dataclass(frozen=True)
class Portrait:
    """A shown photo prepared for compositing: scaled BGR pixels and a
    float alpha mask (1 inside, feathered to 0 at the edges)."""

    pixels: np.ndarray
    alpha: np.ndarray


def prepare_portrait(photo: np.ndarray) -> Portrait:
    """Scale ``photo`` (a head-and-shoulders picture, e.g. an ID photo) to a
    plausible size in the seat view and build its soft-edged mask."""
    h, w = photo.shape[:2]
    target_h = int(HEIGHT * PORTRAIT_HEIGHT_FRACTION)
    scale = target_h / h
    target_w = max(1, int(round(w * scale)))
    if target_w > WIDTH - 40:                 # very wide photos: fit the width instead
        target_w = WIDTH - 40
        target_h = max(1, int(round(h * target_w / w)))
    pixels = cv2.resize(photo, (target_w, target_h), interpolation=cv2.INTER_AREA)
    alpha = np.zeros((target_h, target_w), dtype=np.float32)
    centre = (target_w // 2, target_h // 2)
    axes = (max(1, int(target_w * 0.49)), max(1, int(target_h * 0.52)))
    cv2.ellipse(alpha, centre, axes, 0, 0, 360, 1.0, thickness=-1)
    k = max(3, (min(target_w, target_h) // 8) | 1)
    alpha = cv2.GaussianBlur(alpha, (k, k), 0)
    return Portrait(pixels=pixels, alpha=alpha[:, :, None])


def compose_frame(background: np.ndarray, portrait: Portrait | None, rng: random.Random,
                  osd: str = "") -> np.ndarray:
    """One BGR frame: ``background`` with ``portrait`` (or nobody) blended
    in at a jittered position and brightness, plus an OSD text line."""
    frame = background.copy()
    if portrait is not None:
        ph, pw = portrait.pixels.shape[:2]
        x0 = (WIDTH - pw) // 2 + rng.randint(-POSITION_JITTER_PX, POSITION_JITTER_PX)
        y0 = HEIGHT - 60 - ph + rng.randint(-POSITION_JITTER_PX, POSITION_JITTER_PX)
        x0 = min(max(x0, 0), WIDTH - pw)
        y0 = min(max(y0, 0), HEIGHT - ph)
        region = frame[y0:y0 + ph, x0:x0 + pw].astype(np.float32)
        blended = portrait.alpha * portrait.pixels.astype(np.float32) + (1.0 - portrait.alpha) * region
        frame[y0:y0 + ph, x0:x0 + pw] = np.clip(blended, 0, 255).astype(np.uint8)
    gain = 1.0 + rng.uniform(-BRIGHTNESS_JITTER, BRIGHTNESS_JITTER)
    frame = cv2.convertScaleAbs(frame, alpha=gain, beta=0)
    if osd:
        (tw, th), _ = cv2.getTextSize(osd, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        cv2.rectangle(frame, (4, 4), (12 + tw, 12 + th), (0, 0, 0), thickness=-1)
        cv2.putText(frame, osd, (8, 8 + th), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return frame


def encode_jpeg(frame: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    """JPEG-encode a BGR frame. Raises :class:`ValueError` if OpenCV fails."""
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()
