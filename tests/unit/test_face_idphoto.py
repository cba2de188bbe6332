"""ID-card photo decoding through registered PhotoDecoderSpecs (R-DEV-GATE:
the gate compares the live face with the card photo; BR-25: a photo that
cannot be decoded must lead to a manual check, not to a face 'no match')."""
from __future__ import annotations

import logging

import cv2
import numpy as np

from examhw.face.idphoto import decode_id_photo, decode_photo
from examhw.plugins.registry import PhotoDecoderSpec

WLT_LIKE = bytes(range(256)) * 4          # 1024 bytes, opaque like a real WLT block


def _png() -> bytes:
    ok, buf = cv2.imencode(".png", np.full((126, 102), 200, np.uint8))
    assert ok
    return buf.tobytes()


PNG = _png()


def spec(name: str, fn) -> PhotoDecoderSpec:
    return PhotoDecoderSpec(name=name, decode=fn, plugin="test")


def test_first_decoder_that_recognises_wins():
    calls: list[str] = []

    def not_mine(photo: bytes) -> None:
        calls.append("a")
        return None

    def mine(photo: bytes) -> bytes:
        calls.append("b")
        return PNG

    def never(photo: bytes) -> bytes:
        calls.append("c")
        return PNG

    assert decode_id_photo(WLT_LIKE, [spec("a", not_mine), spec("b", mine), spec("c", never)]) == PNG
    assert calls == ["a", "b"]


def test_real_wlt_without_vendor_library_is_none():
    assert decode_id_photo(WLT_LIKE, []) is None
    assert decode_id_photo(WLT_LIKE, [spec("sim", lambda p: None)]) is None


def test_empty_photo_is_none():
    assert decode_id_photo(b"", [spec("any", lambda p: PNG)]) is None


def test_raising_decoder_is_logged_and_skipped(caplog):
    def broken(photo: bytes) -> bytes:
        raise RuntimeError("vendor library crashed")

    with caplog.at_level(logging.WARNING, logger="examhw.face.idphoto"):
        assert decode_id_photo(WLT_LIKE, [spec("broken", broken), spec("ok", lambda p: PNG)]) == PNG
    assert "broken" in caplog.text and "vendor library crashed" in caplog.text


def test_non_image_result_is_logged_and_skipped(caplog):
    with caplog.at_level(logging.WARNING, logger="examhw.face.idphoto"):
        result = decode_id_photo(WLT_LIKE, [spec("junk", lambda p: b"\x00" * 50),
                                            spec("text", lambda p: "not bytes"),  # type: ignore[arg-type,return-value]
                                            spec("ok", lambda p: bytearray(PNG))])
    assert result == PNG and isinstance(result, bytes)
    assert "junk" in caplog.text and "text" in caplog.text


def test_alias_used_by_id_reader_docs():
    assert decode_photo is decode_id_photo
