"""Simulated camera model and frames: the seat camera shows whoever stands in
front of it (R-DEV-SEAT, R-OPS-SEAT, gate face camera R-DEV-GATE), an empty
seat otherwise; frames are 640×480 JPEGs that differ from one another; the
backdoor actions validate their input; the password is never reported
(R-SEC-CRED)."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest

from examhw_simulators.camera import frames
from examhw_simulators.camera.model import CameraModel

FACE = Path(__file__).resolve().parents[1] / "data" / "onvif" / "face_obama_1.jpg"


def decode(jpeg: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img


def test_empty_seat_and_shown_face_frames_are_640x480_and_differ():
    model = CameraModel("seat-007", password="pw")
    empty = decode(model.render(model.next_frame_order()))
    assert empty.shape == (480, 640, 3)
    model.show_face(FACE.read_bytes())
    a = decode(model.render(model.next_frame_order()))
    b = decode(model.render(model.next_frame_order()))
    assert a.shape == b.shape == (480, 640, 3)
    centre = (slice(100, 380), slice(220, 420))          # empty wall there: flat, whatever the brightness
    assert empty[centre].std() < 15
    assert a[centre].std() > 40                                                         # somebody is there
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 0.5                          # jitter: frames differ
    model.show_face(None)
    again = decode(model.render(model.next_frame_order()))
    assert again[centre].std() < 15


def test_frames_are_reproducible_for_the_same_role_and_differ_between_roles():
    m1, m2, m3 = CameraModel("seat-001"), CameraModel("seat-001"), CameraModel("seat-002")
    for m in (m1, m2, m3):
        m.show_face(FACE.read_bytes())
    o1, o2, o3 = m1.next_frame_order(), m2.next_frame_order(), m3.next_frame_order()
    assert o1.seed == o2.seed != o3.seed
    assert not np.array_equal(m1.background, m3.background)


def test_backdoor_actions_validate_input():
    model = CameraModel("seat-001")
    with pytest.raises(ValueError):
        model.show_face(b"<html>not an image</html>")
    with pytest.raises(ValueError):
        model.show_face(b"")
    with pytest.raises(ValueError):
        model.set_snapshot_broken("on fire")
    with pytest.raises(ValueError):
        CameraModel("seat-001", vendor="acme")
    model.set_snapshot_broken("html")
    model.set_clock_skew(-3600)
    assert model.snapshot_broken == "html"
    assert abs((model.camera_now() - datetime.now(timezone.utc)).total_seconds() + 3600) < 1


async def test_actions_are_reachable_through_act():
    model = CameraModel("seat-001")
    assert {"show_face", "set_clock_skew", "set_snapshot_broken"} <= set(model.actions())
    await model.act("show_face", image=FACE.read_bytes())
    assert model.face_shown
    await model.act("set_clock_skew", seconds=5.0)
    assert model.clock_skew_s == 5.0


def test_snapshot_never_contains_the_password():
    """R-SEC-CRED: the model's report shows whether a password is set, never the password."""
    model = CameraModel("seat-001", password="Sup3r-Secret-Pw")
    report = repr(model.snapshot())
    assert "Sup3r-Secret-Pw" not in report and "'requires_auth': True" in report


def test_wide_and_tiny_photos_fit_the_frame():
    for shape in ((50, 4000, 3), (3, 3, 3), (4000, 50, 3)):
        p = frames.prepare_portrait(np.full(shape, 128, np.uint8))
        h, w = p.pixels.shape[:2]
        assert h <= frames.HEIGHT and w <= frames.WIDTH
        frame = frames.compose_frame(frames.make_background(1), p, __import__("random").Random(1), "osd")
        assert frame.shape == (480, 640, 3)
