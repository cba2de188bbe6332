"""1:1 face verification: a live camera frame against an ID-card photo.

Pipeline (see docs/face.md): OpenCV ``FaceDetectorYN`` (YuNet, 5 landmarks)
finds faces, ``FaceRecognizerSF`` aligns the largest one to 112×112, a
quality gate checks the live face (size, detector confidence, sharpness),
MobileFaceNet gives a 192-d embedding, and the cosine similarity of the two
embeddings is compared with a threshold (optionally with an inconclusive band
below it).

Both models are read once from package data when :class:`FaceVerifier` is
built. OpenCV's detector and recogniser objects are not thread-safe, so every
use of them holds one lock, and :meth:`FaceVerifier.averify` runs on the
verifier's single worker thread.

Not covered here: liveness / presentation-attack detection (BR-23). A match
says only that the two images show the same face, not that a live person
stood in front of the camera.
"""
from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from typing import Union

import cv2
import numpy as np

#: An encoded image (PNG, JPEG, WebP, BMP, JPEG 2000 … bytes) or a decoded
#: image as a numpy array (H×W greyscale, H×W×3 BGR or H×W×4 BGRA, uint8).
ImageInput = Union[bytes, bytearray, memoryview, np.ndarray]

DETECTOR_MODEL = "face_detection_yunet_2023mar.onnx"
RECOGNIZER_MODEL = "face_recognition_mobilefacenet_192_sf.onnx"

# Decisions.
MATCH = "match"
NO_MATCH = "no_match"
NO_FACE = "no_face"

# Reasons.
ABOVE_THRESHOLD = "above_threshold"          # decision "match": score >= threshold
BELOW_THRESHOLD = "below_threshold"          # decision "no_match": score < threshold
NO_LIVE_FACE = "no_live_face"                # no face in the live frame (retry the capture)
LIVE_UNREADABLE = "live_unreadable"          # live bytes are not a decodable image
REFERENCE_UNUSABLE = "reference_unusable"    # reference undecodable, faceless or face too small (BR-25)
POOR_QUALITY = "poor_quality"                # live face too small, uncertain or blurred (BR-24; retry the capture)
INCONCLUSIVE = "inconclusive"                # decision "no_face": threshold_low <= score < threshold (BR-24)

#: Images whose long side is at most this many pixels are upscaled before
#: detection (ID-chip photos are 102×126).
SMALL_IMAGE_PX = 256
#: Upscale factor for small images.
SMALL_IMAGE_UPSCALE = 3
#: Images whose long side exceeds this are downscaled for detection only
#: (alignment still uses the full-resolution pixels).
LARGE_IMAGE_PX = 1280

_NMS_THRESHOLD = 0.3
_TOP_K = 5000


@dataclass(frozen=True)
class FaceBox:
    """One detected face in the coordinates of the image given to
    :meth:`FaceVerifier.detect` (pixels). ``landmarks`` are five (x, y)
    points: right eye, left eye, nose tip, right and left mouth corner (as
    seen in the image: the first is on the viewer's left). ``score`` is the
    detector confidence 0..1."""

    x: float
    y: float
    w: float
    h: float
    score: float
    landmarks: tuple[tuple[float, float], ...]

    @property
    def area(self) -> float:
        return self.w * self.h

    def as_row(self) -> np.ndarray:
        """The 15-float row layout YuNet returns and ``alignCrop`` expects."""
        flat = [self.x, self.y, self.w, self.h]
        for px, py in self.landmarks:
            flat += [px, py]
        flat.append(self.score)
        return np.asarray(flat, dtype=np.float32)


@dataclass(frozen=True)
class FaceResult:
    """Outcome of one verification.

    ``decision`` is ``"match"``, ``"no_match"`` or ``"no_face"``; ``reason``
    says why (one of the ``*_THRESHOLD`` / ``NO_LIVE_FACE`` /
    ``LIVE_UNREADABLE`` / ``REFERENCE_UNUSABLE`` / ``POOR_QUALITY`` /
    ``INCONCLUSIVE`` constants of this module). ``score`` is the cosine
    similarity (−1..1), ``None`` when no comparison was made (every
    ``no_face`` except ``INCONCLUSIVE``). ``ms`` is the wall time of the whole verification in
    milliseconds (decoding, both detections, embeddings, comparison; for
    :meth:`FaceVerifier.averify` it excludes time spent queued behind other
    calls). ``live_faces`` / ``reference_faces`` are the numbers of faces the
    detector found (the largest one is used). ``threshold`` is the threshold
    applied and ``reference_face_px`` the height in reference pixels of the
    reference face used for the quality gate (``None`` if none was found).
    """

    decision: str
    score: float | None
    ms: float
    reason: str
    live_faces: int
    reference_faces: int
    threshold: float = 0.45
    reference_face_px: float | None = None

    @property
    def matched(self) -> bool:
        return self.decision == MATCH


def _read_model(name: str) -> np.ndarray:
    data = resources.files("examhw.face").joinpath("models", name).read_bytes()
    return np.frombuffer(data, dtype=np.uint8)


def laplacian_sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian (3×3 aperture) of ``image`` (H×W grey or
    H×W×3 BGR, uint8), in squared grey levels. Higher is sharper; it also
    rises with contrast and noise. :class:`FaceVerifier` measures it on the
    aligned 112×112 face crop, so the value does not depend on the frame size.
    """
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def to_bgr(image: ImageInput) -> np.ndarray | None:
    """Decode/convert ``image`` to a contiguous H×W×3 uint8 BGR array.

    Returns ``None`` for bytes that are not a decodable image (or decode to
    an empty image) and for empty arrays. Raises :class:`TypeError` / :class:`ValueError` for
    arrays of the wrong dtype or shape (a programming error, not bad data).
    """
    if isinstance(image, (bytes, bytearray, memoryview)):
        buf = np.frombuffer(image, dtype=np.uint8)
        if buf.size == 0:
            return None
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        if img is None or img.size == 0:
            return None
        return img
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be bytes or numpy.ndarray, not {type(image).__name__}")
    if image.dtype != np.uint8:
        raise TypeError(f"image array must be uint8, not {image.dtype}")
    if image.size == 0:
        return None
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return np.ascontiguousarray(image)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    raise ValueError(f"image array must be H×W, H×W×3 or H×W×4, got shape {image.shape}")


class FaceVerifier:
    """Compares a live face with a reference (ID-card) photo.

    :param threshold: cosine similarity at or above which two faces match.
        0.45 comes from the measured gap on the project's test photos
        (docs/face.md); calibrate it on real gate-camera/ID-card pairs.
    :param ref_min_face_px: quality gate: a reference face whose detected
        box is lower than this many pixels (in the reference's own pixels,
        before any upscaling) makes the reference unusable (BR-25).
    :param detector_score: YuNet confidence (0..1) below which a detection is
        ignored.
    :param live_min_face_px: live quality gate: a live face whose detected
        box is lower than this many pixels (live image's own pixels) gives
        ``no_face`` / ``poor_quality``. Scores stay within ≈0.06 of their
        64-px value down to 40 px and fall off below 30 px (docs/face.md).
    :param live_min_detector_score: live quality gate: a live face detected
        with a YuNet confidence below this (0..1) gives ``poor_quality``.
        Only has an effect when above ``detector_score``.
    :param live_min_sharpness: live quality gate: a Laplacian variance
        (:func:`laplacian_sharpness`) of the aligned 112×112 live crop below
        this gives ``poor_quality``. 15 sits between the blurred test frames
        whose scores collapse (≤ 7.6) and the least sharp simulator camera
        frame (55.7); sharp test photos measure 215–865 (docs/face.md).
    :param threshold_low: optional inconclusive band: a score in
        ``[threshold_low, threshold)`` gives ``no_face`` / ``inconclusive``
        (retake, then staff review) instead of ``no_match``. ``None`` (the
        default) disables the band. Must not exceed ``threshold``.

    Building one loads both models (≈30 ms); build it once and reuse it.
    Call :meth:`close` (or use ``with``) to stop the worker thread used by
    :meth:`averify`.
    """

    def __init__(self, threshold: float = 0.45, ref_min_face_px: int = 40,
                 detector_score: float = 0.8, *, live_min_face_px: int = 40,
                 live_min_detector_score: float = 0.85, live_min_sharpness: float = 15.0,
                 threshold_low: float | None = None) -> None:
        if not -1.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be a cosine similarity in [-1, 1], got {threshold}")
        if ref_min_face_px < 0:
            raise ValueError(f"ref_min_face_px must be >= 0, got {ref_min_face_px}")
        if not 0.0 < detector_score <= 1.0:
            raise ValueError(f"detector_score must be in (0, 1], got {detector_score}")
        if live_min_face_px < 0:
            raise ValueError(f"live_min_face_px must be >= 0, got {live_min_face_px}")
        if not 0.0 <= live_min_detector_score <= 1.0:
            raise ValueError(f"live_min_detector_score must be in [0, 1], got {live_min_detector_score}")
        if live_min_sharpness < 0:
            raise ValueError(f"live_min_sharpness must be >= 0, got {live_min_sharpness}")
        if threshold_low is not None and not -1.0 <= threshold_low <= threshold:
            raise ValueError(f"threshold_low must be in [-1, threshold={threshold}], got {threshold_low}")
        self.threshold = float(threshold)
        self.ref_min_face_px = int(ref_min_face_px)
        self.detector_score = float(detector_score)
        self.live_min_face_px = int(live_min_face_px)
        self.live_min_detector_score = float(live_min_detector_score)
        self.live_min_sharpness = float(live_min_sharpness)
        self.threshold_low = None if threshold_low is None else float(threshold_low)
        empty = np.empty(0, dtype=np.uint8)
        # OpenCV 5.0 warns "setPreferableTarget: Targets are not supported by the
        # new graph engine" on every model load; harmless, so hush it for the load only.
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        try:
            self._detector = cv2.FaceDetectorYN.create(
                "onnx", _read_model(DETECTOR_MODEL), empty, (320, 320),
                self.detector_score, _NMS_THRESHOLD, _TOP_K)
            self._recognizer = cv2.FaceRecognizerSF.create("onnx", _read_model(RECOGNIZER_MODEL), empty)
        finally:
            cv2.utils.logging.setLogLevel(level)
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        """Stop the :meth:`averify` worker thread (waits for running calls)."""
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    def __enter__(self) -> "FaceVerifier":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- building blocks ---------------------------------------------------

    def detect(self, image: ImageInput) -> list[FaceBox]:
        """All faces in ``image`` at or above ``detector_score``, largest
        first, in the image's own pixel coordinates. Undecodable bytes give
        an empty list."""
        bgr = to_bgr(image)
        if bgr is None:
            return []
        with self._lock:
            return self._detect(bgr)

    def embed(self, image: ImageInput) -> np.ndarray | None:
        """The 192-d embedding (float32, shape (192,)) of the largest face in
        ``image``, or ``None`` when there is no face (or the bytes do not
        decode). No quality gate is applied."""
        bgr = to_bgr(image)
        if bgr is None:
            return None
        with self._lock:
            faces = self._detect(bgr)
            return self._embed(bgr, faces[0]).reshape(-1) if faces else None

    def verify(self, live: ImageInput, reference: ImageInput) -> FaceResult:
        """Compare the largest face of ``live`` with the face of ``reference``.

        Blocks for the computation (≈30 ms for a 640×480 frame and an ID
        photo on 2 cores). Never raises for bad image *content*: an
        undecodable or faceless image, a live face that fails the quality
        gate (``POOR_QUALITY``) and, when ``threshold_low`` is set, a score
        in the inconclusive band (``INCONCLUSIVE``) give
        ``decision="no_face"`` with the reason; raises :class:`TypeError`/:class:`ValueError` only for arrays
        of the wrong type or shape.
        """
        t0 = time.perf_counter()
        live_bgr = to_bgr(live)
        ref_bgr = to_bgr(reference)
        with self._lock:
            ref_faces = self._detect(ref_bgr) if ref_bgr is not None else []
            live_faces = self._detect(live_bgr) if live_bgr is not None else []
            ref_px = ref_faces[0].h if ref_faces else None

            def done(decision: str, reason: str, score: float | None = None) -> FaceResult:
                return FaceResult(decision=decision, score=score,
                                  ms=(time.perf_counter() - t0) * 1000.0, reason=reason,
                                  live_faces=len(live_faces), reference_faces=len(ref_faces),
                                  threshold=self.threshold, reference_face_px=ref_px)

            # A bad reference is checked first: retrying the live capture cannot fix it.
            if ref_bgr is None or not ref_faces or ref_faces[0].h < self.ref_min_face_px:
                return done(NO_FACE, REFERENCE_UNUSABLE)
            if live_bgr is None:
                return done(NO_FACE, LIVE_UNREADABLE)
            if not live_faces:
                return done(NO_FACE, NO_LIVE_FACE)
            # Live quality gate (BR-24): a frame too poor to judge asks for a
            # new capture instead of saying "someone else".
            live_face = live_faces[0]
            if live_face.h < self.live_min_face_px or live_face.score < self.live_min_detector_score:
                return done(NO_FACE, POOR_QUALITY)
            live_crop = self._recognizer.alignCrop(live_bgr, live_face.as_row())
            if laplacian_sharpness(live_crop) < self.live_min_sharpness:
                return done(NO_FACE, POOR_QUALITY)
            live_emb = self._recognizer.feature(live_crop).copy()
            ref_emb = self._embed(ref_bgr, ref_faces[0])
            score = float(self._recognizer.match(live_emb, ref_emb, cv2.FaceRecognizerSF_FR_COSINE))
        if score >= self.threshold:
            return done(MATCH, ABOVE_THRESHOLD, score)
        if self.threshold_low is not None and score >= self.threshold_low:
            return done(NO_FACE, INCONCLUSIVE, score)
        return done(NO_MATCH, BELOW_THRESHOLD, score)

    async def averify(self, live: ImageInput, reference: ImageInput) -> FaceResult:
        """:meth:`verify` run on the verifier's single worker thread, so the
        event loop stays free. Concurrent calls queue and run one at a time."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker(), self.verify, live, reference)

    # -- internals (call with self._lock held) -----------------------------

    def _worker(self) -> ThreadPoolExecutor:
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="examhw-face")
            return self._executor

    def _detect(self, bgr: np.ndarray) -> list[FaceBox]:
        h, w = bgr.shape[:2]
        long_side = max(h, w)
        if long_side <= SMALL_IMAGE_PX:
            scale = float(SMALL_IMAGE_UPSCALE)
        elif long_side > LARGE_IMAGE_PX:
            scale = LARGE_IMAGE_PX / long_side
        else:
            scale = 1.0
        if scale != 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            interp = cv2.INTER_CUBIC if scale > 1.0 else cv2.INTER_AREA
            img = cv2.resize(bgr, size, interpolation=interp)
        else:
            img = bgr
        self._detector.setInputSize((img.shape[1], img.shape[0]))
        _, rows = self._detector.detect(img)
        if rows is None:
            return []
        boxes = []
        for r in rows:
            v = [float(x) / scale for x in r[:14]]
            boxes.append(FaceBox(x=v[0], y=v[1], w=v[2], h=v[3], score=float(r[14]),
                                 landmarks=tuple((v[i], v[i + 1]) for i in range(4, 14, 2))))
        boxes.sort(key=lambda b: b.area, reverse=True)
        return boxes

    def _embed(self, bgr: np.ndarray, face: FaceBox) -> np.ndarray:
        aligned = self._recognizer.alignCrop(bgr, face.as_row())
        return self._recognizer.feature(aligned).copy()
