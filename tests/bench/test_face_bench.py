"""Face verification timing (R-DEV-GATE: one comparison in at most 1 s;
R-OPS-SEAT: the same check at the seat).

Measured: :meth:`FaceVerifier.verify` on a 640×480 live frame against a
102×126 greyscale ID photo, and the same OpenCV calls made directly (no
wrapper) in the same run, so the table shows the wrapper's overhead as the
ratio between the two rows of group ``face-verify``. Nothing here asserts a
time; run ``pytest tests/bench --benchmark-only`` for numbers (see
tests/bench/conftest.py; a plain run executes each function once).
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import pytest

from examhw.face import FaceVerifier
from examhw.face.crop import id_style_crop
from examhw.face.verifier import DETECTOR_MODEL, MATCH, RECOGNIZER_MODEL

FACES = Path(__file__).parent.parent / "data" / "faces"
BENCH = pytest.mark.benchmark(group="face-verify", min_rounds=20, warmup=True, warmup_iterations=3)


def letterbox(bgr: np.ndarray, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """Fit ``bgr`` inside ``size`` (w, h) keeping its aspect, grey borders."""
    w, h = size
    s = min(w / bgr.shape[1], h / bgr.shape[0])
    small = cv2.resize(bgr, (round(bgr.shape[1] * s), round(bgr.shape[0] * s)), interpolation=cv2.INTER_AREA)
    frame = np.full((h, w, 3), 90, np.uint8)
    y0, x0 = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
    frame[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
    return frame


@pytest.fixture(scope="module")
def verifier() -> FaceVerifier:
    with FaceVerifier() as v:
        yield v


@pytest.fixture(scope="module")
def live_frame() -> np.ndarray:
    return letterbox(cv2.imread(str(FACES / "obama_1.jpg"), cv2.IMREAD_COLOR))


@pytest.fixture(scope="module")
def id_photo(verifier: FaceVerifier) -> np.ndarray:
    """102×126 greyscale ID-style crop of another photo of the same person."""
    png = id_style_crop((FACES / "obama_3.jpg").read_bytes(), verifier=verifier)
    assert png is not None
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert img.shape == (126, 102)
    return img


class RawPipeline:
    """The same OpenCV calls the verifier makes, written out directly."""

    def __init__(self) -> None:
        pkg = resources.files("examhw.face").joinpath("models")
        with resources.as_file(pkg / DETECTOR_MODEL) as det, resources.as_file(pkg / RECOGNIZER_MODEL) as rec:
            self.det = cv2.FaceDetectorYN.create(str(det), "", (640, 480), 0.8, 0.3, 5000)
            self.rec = cv2.FaceRecognizerSF.create(str(rec), "")

    def largest(self, img: np.ndarray) -> np.ndarray:
        self.det.setInputSize((img.shape[1], img.shape[0]))
        _, faces = self.det.detect(img)
        return max(faces, key=lambda f: f[2] * f[3])

    def verify(self, live: np.ndarray, ref_grey: np.ndarray) -> float:
        ref = cv2.cvtColor(ref_grey, cv2.COLOR_GRAY2BGR)
        up = cv2.resize(ref, (ref.shape[1] * 3, ref.shape[0] * 3), interpolation=cv2.INTER_CUBIC)
        ref_face = self.largest(up).copy()
        ref_face[:14] /= 3.0
        live_face = self.largest(live)
        e_live = self.rec.feature(self.rec.alignCrop(live, live_face))
        e_ref = self.rec.feature(self.rec.alignCrop(ref, ref_face))
        return self.rec.match(e_live, e_ref, cv2.FaceRecognizerSF_FR_COSINE)


@BENCH
def test_bench_verify_640x480_vs_id_photo(benchmark, verifier, live_frame, id_photo):
    """(a) FaceVerifier.verify, decoded arrays in."""
    result = benchmark(verifier.verify, live_frame, id_photo)
    assert result.decision == MATCH


@BENCH
def test_bench_raw_opencv_same_calls(benchmark, verifier, live_frame, id_photo):
    """(b) The raw OpenCV pipeline on the same inputs; must give the
    verifier's score (so the comparison is like for like)."""
    raw = RawPipeline()
    score = benchmark(raw.verify, live_frame, id_photo)
    assert score == pytest.approx(verifier.verify(live_frame, id_photo).score, abs=1e-4)


@pytest.mark.benchmark(group="face-verify-encoded", min_rounds=20, warmup=True, warmup_iterations=3)
def test_bench_verify_encoded_jpeg_and_png(benchmark, verifier, live_frame, id_photo):
    """(c) As the gate gets them: a JPEG camera frame and a PNG card photo
    (includes decoding both)."""
    ok1, jpg = cv2.imencode(".jpg", live_frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
    ok2, png = cv2.imencode(".png", id_photo)
    assert ok1 and ok2
    result = benchmark(verifier.verify, jpg.tobytes(), png.tobytes())
    assert result.decision == MATCH


@pytest.mark.benchmark(group="face-load", min_rounds=5, warmup=False)
def test_bench_model_load(benchmark):
    """(d) Building a FaceVerifier: both models read from package data."""
    v = benchmark(FaceVerifier)
    v.close()
