"""Face verification, live face against ID photo (R-DEV-GATE: the identity gate
compares the live face with the card photo, at most 1 s per comparison;
R-OPS-SEAT: the seat camera confirms identity again). Reference-photo quality
gate: BR-25. Threshold and three-way outcome: BR-24.

Ground truth comes from the public-domain / CC0 photos in tests/data/faces
(see SOURCES.md there). Scores are asserted as an ordering (same person >
threshold > different person), never as exact values. Timing is reported
(``ms``) but deliberately not asserted here: see tests/bench.
"""
from __future__ import annotations

import asyncio
import itertools
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from examhw.face import FaceResult, FaceVerifier
from examhw.face.crop import ID_PHOTO_SIZE, id_style_crop
from examhw.face.verifier import (ABOVE_THRESHOLD, BELOW_THRESHOLD, INCONCLUSIVE, LIVE_UNREADABLE, MATCH,
                                  NO_FACE, NO_LIVE_FACE, NO_MATCH, POOR_QUALITY, REFERENCE_UNUSABLE,
                                  laplacian_sharpness)

FACES = Path(__file__).parent.parent / "data" / "faces"
PORTRAITS = ["obama_1.jpg", "obama_3.jpg", "biden_1.jpg", "biden_2.jpg", "collins_1.jpg", "cameraman_1.png"]
SAME = [("obama_1.jpg", "obama_3.jpg"), ("biden_1.jpg", "biden_2.jpg")]


def person(name: str) -> str:
    return name.split("_")[0]


DIFFERENT = [(a, b) for a, b in itertools.combinations(PORTRAITS, 2) if person(a) != person(b)]


def load(name: str) -> bytes:
    return (FACES / name).read_bytes()


def decode_grey(png: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)


@pytest.fixture(scope="module")
def verifier() -> FaceVerifier:
    with FaceVerifier() as v:
        yield v


@pytest.fixture(scope="module")
def photos() -> dict[str, bytes]:
    return {n: load(n) for n in PORTRAITS + ["no_face_cat.png", "two_people_biden_obama.jpg"]}


@pytest.fixture(scope="module")
def id_photos(verifier: FaceVerifier, photos: dict[str, bytes]) -> dict[str, bytes]:
    """102×126 greyscale head-and-shoulders crops, one per portrait (the
    size of a decoded resident-ID-card photo)."""
    crops = {}
    for n in PORTRAITS:
        png = id_style_crop(photos[n], verifier=verifier)
        assert png is not None, n
        crops[n] = png
    return crops


# -- full photos -------------------------------------------------------------

@pytest.mark.parametrize(("live", "ref"), SAME)
def test_same_person_matches_r_dev_gate(verifier, photos, live, ref):
    """R-DEV-GATE / R-OPS-SEAT: two photos of one person match, both ways."""
    for a, b in ((live, ref), (ref, live)):
        r = verifier.verify(photos[a], photos[b])
        assert r.decision == MATCH and r.reason == ABOVE_THRESHOLD, (a, b, r)
        # BR-24: the threshold sits inside the gap, with room on this side.
        assert r.score is not None and r.score > verifier.threshold + 0.1
        assert r.live_faces == 1 and r.reference_faces == 1


@pytest.mark.parametrize(("live", "ref"), DIFFERENT)
def test_different_people_do_not_match(verifier, photos, live, ref):
    r = verifier.verify(photos[live], photos[ref])
    assert r.decision == NO_MATCH and r.reason == BELOW_THRESHOLD, (live, ref, r)
    # BR-24: same > threshold > different, with room on this side too.
    assert r.score is not None and r.score < verifier.threshold - 0.1


# -- ID-card-size references (BR-25) -----------------------------------------

def test_id_style_crop_is_102x126_grey_head_and_shoulders(verifier, id_photos):
    for name, png in id_photos.items():
        img = decode_grey(png)
        assert img.shape == (ID_PHOTO_SIZE[1], ID_PHOTO_SIZE[0]), name      # 126 rows × 102 columns, one channel
        faces = verifier.detect(png)
        assert len(faces) == 1, name
        assert 0.35 * 126 <= faces[0].h <= 0.65 * 126, (name, faces[0].h)   # face ≈ half the height


def test_id_style_crop_without_face_is_none(verifier, photos):
    assert id_style_crop(photos["no_face_cat.png"], verifier=verifier) is None
    assert id_style_crop(b"not an image", verifier=verifier) is None


def test_id_style_crop_builds_its_own_detector(photos):
    png = id_style_crop(photos["obama_1.jpg"])
    assert png is not None and decode_grey(png).shape == (126, 102)


@pytest.mark.parametrize(("live", "ref"), SAME + [(b, a) for a, b in SAME])
def test_id_size_reference_matches_same_person_r_dev_gate(verifier, photos, id_photos, live, ref):
    """R-DEV-GATE: a live photo against a 102×126 grey ID crop of ANOTHER
    photo of the same person still matches, and the reference passes the
    quality gate."""
    r = verifier.verify(photos[live], id_photos[ref])
    assert r.decision == MATCH, (live, ref, r)
    assert r.reference_face_px is not None and r.reference_face_px >= verifier.ref_min_face_px


def test_id_size_reference_does_not_match_other_people(verifier, photos, id_photos):
    """BR-25: a small reference must not 'match almost everyone'."""
    for live, ref in itertools.permutations(PORTRAITS, 2):
        if person(live) == person(ref):
            continue
        r = verifier.verify(photos[live], id_photos[ref])
        assert r.decision == NO_MATCH, (live, ref, r)
        assert r.score < verifier.threshold - 0.1


def test_id_size_reference_survives_heavy_jpeg(verifier, photos, id_photos):
    """A chip photo is heavily compressed: JPEG quality 40 still matches the
    same person and still rejects the others."""
    def q40(png: bytes) -> bytes:
        ok, buf = cv2.imencode(".jpg", decode_grey(png), [cv2.IMWRITE_JPEG_QUALITY, 40])
        assert ok
        return buf.tobytes()

    for live, ref in SAME:
        assert verifier.verify(photos[live], q40(id_photos[ref])).decision == MATCH
    assert verifier.verify(photos["collins_1.jpg"], q40(id_photos["biden_1.jpg"])).decision == NO_MATCH


def test_blank_grey_reference_is_unusable_not_no_match(verifier, photos):
    """BR-25: a blank reference (photo decode failure) → no_face /
    reference_unusable, never match or no_match."""
    grey = np.full((126, 102), 128, np.uint8)
    r = verifier.verify(photos["obama_1.jpg"], grey)
    assert (r.decision, r.reason) == (NO_FACE, REFERENCE_UNUSABLE)
    assert r.score is None and r.reference_faces == 0 and r.live_faces == 1
    assert r.reference_face_px is None


def test_tiny_reference_fails_quality_gate(verifier, photos, id_photos):
    """BR-25: the ID photo shrunk to 51×63: the face is found but is under
    ref_min_face_px high → reference_unusable."""
    tiny = cv2.resize(decode_grey(id_photos["obama_3.jpg"]), (51, 63), interpolation=cv2.INTER_AREA)
    r = verifier.verify(photos["obama_1.jpg"], tiny)
    assert (r.decision, r.reason) == (NO_FACE, REFERENCE_UNUSABLE), r
    assert r.reference_faces == 1
    assert r.reference_face_px is not None and r.reference_face_px < verifier.ref_min_face_px


def test_quality_gate_is_configurable(photos, id_photos):
    tiny = cv2.resize(decode_grey(id_photos["obama_3.jpg"]), (51, 63), interpolation=cv2.INTER_AREA)
    with FaceVerifier(ref_min_face_px=0) as v:
        r = v.verify(photos["obama_1.jpg"], tiny)
    assert r.decision in (MATCH, NO_MATCH) and r.score is not None


def test_undecodable_reference_is_unusable(verifier, photos):
    for bad in (b"", b"\x00" * 1024, b"WLT not an image", np.zeros((0, 0), np.uint8),
                np.zeros((1, 1), np.uint8), np.zeros((2, 500, 3), np.uint8)):
        r = verifier.verify(photos["obama_1.jpg"], bad)
        assert (r.decision, r.reason) == (NO_FACE, REFERENCE_UNUSABLE)


# -- live frame ---------------------------------------------------------------

def test_cat_is_no_face(verifier, photos, id_photos):
    r = verifier.verify(photos["no_face_cat.png"], id_photos["obama_1.jpg"])
    assert (r.decision, r.reason) == (NO_FACE, NO_LIVE_FACE)
    assert r.live_faces == 0 and r.reference_faces == 1 and r.score is None
    assert verifier.detect(photos["no_face_cat.png"]) == []
    assert verifier.embed(photos["no_face_cat.png"]) is None


def test_undecodable_live_frame(verifier, id_photos):
    r = verifier.verify(b"garbage", id_photos["obama_1.jpg"])
    assert (r.decision, r.reason) == (NO_FACE, LIVE_UNREADABLE)


def test_bad_reference_reported_before_bad_live(verifier):
    """When both sides fail, the reference problem wins: a new live capture
    cannot fix it."""
    r = verifier.verify(load("no_face_cat.png"), np.full((126, 102), 128, np.uint8))
    assert r.reason == REFERENCE_UNUSABLE and r.live_faces == 0


def test_two_people_counts_both_and_uses_largest(verifier, photos, id_photos):
    """Two faces in the live frame: both are counted (the flow can ask for
    one person at a time); the largest face is compared."""
    boxes = verifier.detect(photos["two_people_biden_obama.jpg"])
    assert len(boxes) == 2 and boxes[0].area >= boxes[1].area
    r = verifier.verify(photos["two_people_biden_obama.jpg"], id_photos["biden_2.jpg"])
    assert r.live_faces == 2
    assert r.decision in (MATCH, NO_MATCH) and r.score is not None


def test_large_frame_is_detected_at_reduced_size_but_boxes_stay_in_its_pixels(verifier, photos):
    """A high-resolution camera must not blow the time budget: frames over
    1280 px are detected on a shrunk copy; boxes come back in full-size pixels."""
    bgr = cv2.imdecode(np.frombuffer(photos["obama_1.jpg"], np.uint8), cv2.IMREAD_COLOR)
    big = cv2.resize(bgr, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)      # 2048×2560
    (small_box,) = verifier.detect(bgr)
    (big_box,) = verifier.detect(big)
    assert big_box.h == pytest.approx(4 * small_box.h, rel=0.1)
    assert big_box.x == pytest.approx(4 * small_box.x, rel=0.1)
    assert verifier.verify(big, photos["obama_3.jpg"]).decision == MATCH


def test_detect_boxes_are_in_image_coordinates(verifier, photos, id_photos):
    img = decode_grey(id_photos["collins_1.jpg"])
    (box,) = verifier.detect(img)
    assert 0 <= box.x < 102 and 0 <= box.y < 126 and box.x + box.w <= 102 + 5 and box.y + box.h <= 126 + 5
    assert 0.8 <= box.score <= 1.0 and len(box.landmarks) == 5


def test_embed_shape_and_self_similarity(verifier, photos):
    e1 = verifier.embed(photos["obama_1.jpg"])
    e2 = verifier.embed(cv2.imdecode(np.frombuffer(photos["obama_1.jpg"], np.uint8), cv2.IMREAD_COLOR))
    assert e1.shape == (192,) and e1.dtype == np.float32
    np.testing.assert_allclose(e1, e2, rtol=1e-5, atol=1e-5)


def test_accepts_grey_bgr_and_bgra_arrays(verifier, photos):
    bgr = cv2.imdecode(np.frombuffer(photos["obama_3.jpg"], np.uint8), cv2.IMREAD_COLOR)
    for img in (bgr, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)):
        assert verifier.verify(photos["obama_1.jpg"], img).decision == MATCH


def test_wrong_array_types_raise(verifier):
    with pytest.raises(TypeError):
        verifier.verify(np.zeros((10, 10), np.float32), b"x")
    with pytest.raises(ValueError):
        verifier.verify(np.zeros((10, 10, 2), np.uint8), b"x")
    with pytest.raises(TypeError):
        verifier.detect("obama_1.jpg")  # type: ignore[arg-type]


# -- live quality gate and inconclusive band (BR-24) ------------------------------

def blurred(photo: bytes, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_COLOR), (0, 0), sigma)


def small_face_frame(photo: bytes, face_px: float, verifier: FaceVerifier) -> np.ndarray:
    """``photo`` shrunk so its face is about ``face_px`` high, on a 640×480 grey frame."""
    bgr = cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_COLOR)
    scale = face_px / verifier.detect(bgr)[0].h
    small = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = np.full((480, 640, 3), 200, np.uint8)
    frame[:small.shape[0], :small.shape[1]] = small
    return frame


@pytest.mark.parametrize(("live", "ref"), SAME + [(b, a) for a, b in SAME])
def test_blurred_live_frame_of_same_person_is_poor_quality_br24(verifier, photos, id_photos, live, ref):
    """BR-24 / R-DEV-GATE: a badly out-of-focus live frame (Gaussian σ=8) of
    the right person still has a detected face, but it is reported as
    no_face / poor_quality (retake), never no_match ('someone else')."""
    r = verifier.verify(blurred(photos[live], 8), id_photos[ref])
    assert (r.decision, r.reason) == (NO_FACE, POOR_QUALITY), r
    assert r.live_faces == 1 and r.score is None


def test_blurred_frame_fails_only_the_sharpness_gate(photos, id_photos):
    """The σ=8 frame is rejected for sharpness, not size or confidence: with
    the sharpness gate off it is compared (and scores as 'someone else')."""
    with FaceVerifier(live_min_sharpness=0.0) as v:
        r = v.verify(blurred(photos["obama_1.jpg"], 8), id_photos["obama_3.jpg"])
    assert r.decision == NO_MATCH and r.score is not None


def test_small_live_face_is_poor_quality_br24(verifier, photos, id_photos):
    """BR-24: a sharp live face lower than live_min_face_px → poor_quality;
    the same frame with the face above the minimum is compared and matches."""
    tiny = small_face_frame(photos["obama_1.jpg"], 25, verifier)
    r = verifier.verify(tiny, id_photos["obama_3.jpg"])
    assert (r.decision, r.reason) == (NO_FACE, POOR_QUALITY), r
    assert r.live_faces == 1 and r.score is None
    ok = verifier.verify(small_face_frame(photos["obama_1.jpg"], 64, verifier), id_photos["obama_3.jpg"])
    assert ok.decision == MATCH, ok


def test_live_gate_limits_are_configurable(photos, id_photos):
    """R-DEV-GATE: each gate limit comes from configuration."""
    live, ref = photos["obama_1.jpg"], id_photos["obama_3.jpg"]
    with FaceVerifier(live_min_face_px=1000) as big, FaceVerifier(live_min_detector_score=0.999) as sure, \
            FaceVerifier(live_min_sharpness=1e6) as sharp:
        for v in (big, sure, sharp):
            assert v.verify(live, ref).reason == POOR_QUALITY
    with FaceVerifier(live_min_face_px=0, live_min_detector_score=0.0, live_min_sharpness=0.0) as off:
        assert off.verify(small_face_frame(live, 25, off), ref).score is not None


@pytest.mark.parametrize("name", PORTRAITS)
def test_sharp_photos_pass_the_gate_with_margin(verifier, photos, name):
    """Every sharp test portrait clears the sharpness limit at least 10×
    (measured 215–865 on the aligned crop; limit 15)."""
    bgr = cv2.imdecode(np.frombuffer(photos[name], np.uint8), cv2.IMREAD_COLOR)
    face = verifier.detect(bgr)[0]
    crop = verifier._recognizer.alignCrop(bgr, face.as_row())
    assert laplacian_sharpness(crop) > 10 * verifier.live_min_sharpness, name
    assert face.h >= verifier.live_min_face_px and face.score >= verifier.live_min_detector_score


def test_laplacian_sharpness_orders_blur():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (112, 112), dtype=np.uint8)
    values = [laplacian_sharpness(cv2.GaussianBlur(img, (0, 0), s)) for s in (0.5, 1, 2, 4)]
    assert values == sorted(values, reverse=True)
    assert laplacian_sharpness(np.full((112, 112, 3), 128, np.uint8)) == 0.0


def test_inconclusive_band_br24(photos, id_photos):
    """BR-24: with threshold_low set, a score between threshold_low and
    threshold gives no_face / inconclusive (score kept); above threshold is
    still a match and below threshold_low still no_match."""
    live, ref = photos["obama_1.jpg"], id_photos["obama_3.jpg"]
    with FaceVerifier() as plain:
        score = plain.verify(live, ref).score
    assert score is not None
    with FaceVerifier(threshold=score + 0.05, threshold_low=score - 0.05) as band:
        r = band.verify(live, ref)
        assert (r.decision, r.reason) == (NO_FACE, INCONCLUSIVE) and r.score == pytest.approx(score, abs=1e-4)
        other = band.verify(photos["collins_1.jpg"], ref)
        assert (other.decision, other.reason) == (NO_MATCH, BELOW_THRESHOLD)
    with FaceVerifier(threshold_low=0.2) as default_threshold:
        assert default_threshold.verify(live, ref).decision == MATCH
        assert default_threshold.threshold_low == 0.2


def test_no_inconclusive_band_by_default(verifier, photos, id_photos):
    assert verifier.threshold_low is None
    r = verifier.verify(photos["biden_2.jpg"], id_photos["obama_3.jpg"])
    assert (r.decision, r.reason) == (NO_MATCH, BELOW_THRESHOLD)


# -- configuration --------------------------------------------------------------

def test_threshold_is_configurable(photos):
    """BR-24: the threshold comes from configuration, not a library default."""
    with FaceVerifier(threshold=0.99) as strict, FaceVerifier(threshold=-0.99) as loose:
        assert strict.verify(photos["obama_1.jpg"], photos["obama_3.jpg"]).decision == NO_MATCH
        r = loose.verify(photos["obama_1.jpg"], photos["biden_1.jpg"])
        assert r.decision == MATCH and r.threshold == -0.99


@pytest.mark.parametrize("kwargs", [{"threshold": 1.5}, {"ref_min_face_px": -1}, {"detector_score": 0.0},
                                    {"live_min_face_px": -1}, {"live_min_detector_score": 1.5},
                                    {"live_min_sharpness": -1.0}, {"threshold_low": 0.5},
                                    {"threshold_low": -1.5}])
def test_invalid_settings_rejected(kwargs):
    with pytest.raises(ValueError):
        FaceVerifier(**kwargs)


# -- timing field and concurrency -------------------------------------------------

def test_results_carry_wall_time(verifier, photos, id_photos):
    """R-DEV-GATE: every result carries its wall time in ms (checked > 0
    only; the ≤ 1 s budget is measured in tests/bench, not asserted)."""
    results = [verifier.verify(photos["obama_1.jpg"], id_photos["obama_3.jpg"]),
               verifier.verify(photos["no_face_cat.png"], id_photos["obama_3.jpg"]),
               verifier.verify(photos["obama_1.jpg"], b"")]
    assert all(isinstance(r, FaceResult) and r.ms > 0 for r in results)


def _workload(photos, id_photos) -> list[tuple[bytes, bytes]]:
    pairs = [(photos[a], id_photos[b]) for a, b in itertools.product(PORTRAITS, repeat=2) if a != b]
    pairs.append((photos["no_face_cat.png"], id_photos["biden_1.jpg"]))
    return pairs[:20]


def _key(r: FaceResult) -> tuple:
    return (r.decision, r.reason, None if r.score is None else round(r.score, 5), r.live_faces, r.reference_faces)


async def test_averify_concurrent_equals_sequential(verifier, photos, id_photos):
    """R-DEV-GATE / R-OPS-SEAT: several cameras may ask at once; 20
    concurrent averify calls give exactly the sequential results."""
    work = _workload(photos, id_photos)
    assert len(work) == 20
    sequential = [verifier.verify(live, ref) for live, ref in work]
    concurrent = await asyncio.gather(*(verifier.averify(live, ref) for live, ref in work))
    assert [_key(r) for r in concurrent] == [_key(r) for r in sequential]
    assert all(r.ms > 0 for r in concurrent)


async def test_averify_runs_off_the_event_loop_on_one_thread(verifier, photos, id_photos, monkeypatch):
    seen: set[str] = set()
    real = verifier.verify

    def spy(live, ref):
        seen.add(threading.current_thread().name)
        return real(live, ref)

    monkeypatch.setattr(verifier, "verify", spy)
    await asyncio.gather(*(verifier.averify(photos["obama_1.jpg"], id_photos["obama_3.jpg"]) for _ in range(4)))
    assert len(seen) == 1 and threading.current_thread().name not in seen


def test_sync_verify_from_many_threads_is_safe(verifier, photos, id_photos):
    work = _workload(photos, id_photos)[:8]
    expected = [_key(verifier.verify(live, ref)) for live, ref in work]
    got: list[list] = [[] for _ in range(3)]

    def run(i: int) -> None:
        got[i] = [_key(verifier.verify(live, ref)) for live, ref in work]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(g == expected for g in got)


async def test_close_then_averify_restarts_worker(photos, id_photos):
    v = FaceVerifier()
    first = await v.averify(photos["obama_1.jpg"], id_photos["obama_3.jpg"])
    v.close()
    second = await v.averify(photos["obama_1.jpg"], id_photos["obama_3.jpg"])
    v.close()
    assert _key(first) == _key(second)
