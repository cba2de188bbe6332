"""The simulated SAM reader's model (state machine, replies, injected statuses) and its
photo blocks, without any transport. Its replies must equal the research vectors, so the
simulated desk and gate readers (R-DEV-DESK, R-DEV-GATE, R-OPS-CHECKIN) behave like real ones."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import cv2
import numpy as np
import pytest

from examhw.errors import ChecksumError, FrameError
from examhw.plugins import PhotoDecoderSpec
from examhw_simulators.idcard import PHOTO_DECODER, SIMULATOR, CardState, IdCardModel, SimCard
from examhw_simulators.idcard.codec import FrameReader, RawFrame, SamRequest, build_reply, build_request
from examhw_simulators.idcard.model import synthetic_fingerprint
from examhw_simulators.idcard.photo import decode_photo_block, make_photo_block, synthetic_wlt

DATA = Path(__file__).resolve().parents[1] / "data" / "idcard"


def vec(name: str) -> bytes:
    return bytes.fromhex((DATA / f"{name}.hex").read_text().replace("\n", ""))


VECTOR_A = vec("vector_a_base_read")
FIND, SELECT, READ, READ_FP, READ_ADDR = (0x20, 0x01), (0x20, 0x02), (0x30, 0x01), (0x30, 0x10), (0x30, 0x03)


def card_a(**changes) -> SimCard:
    base = dict(name="张三", sex="1", nation="01", birth=date(1990, 3, 7), address="北京市东城区示例大街1号",
                id_number="110101199003070011", authority="北京市公安局东城分局",
                valid_from=date(2017, 7, 27), valid_to=date(2037, 7, 27))
    base.update(changes)
    return SimCard(**base)


def ask(model: IdCardModel, cmd_para: tuple[int, int], data: bytes = b"") -> bytes:
    """Send a request through the simulator's own parser and model."""
    items = FrameReader().feed(build_request(cmd_para[0], cmd_para[1], data))
    assert len(items) == 1
    return model.handle(items[0])


def sw3(reply: bytes) -> int:
    return reply[9]


def face_png(noise: bool = False) -> bytes:
    """A synthetic head-and-shoulders picture (no real person)."""
    img = np.full((240, 200), 200, np.uint8)
    cv2.ellipse(img, (100, 95), (48, 62), 0, 0, 360, 120, -1)        # head
    cv2.ellipse(img, (100, 240), (95, 60), 0, 180, 360, 70, -1)      # shoulders
    cv2.circle(img, (82, 85), 6, 30, -1)
    cv2.circle(img, (118, 85), 6, 30, -1)
    cv2.line(img, (85, 125), (115, 125), 40, 3)
    if noise:
        img = np.random.default_rng(3).integers(0, 256, img.shape, dtype=np.uint8)
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


# -- state machine -------------------------------------------------------------------------

def test_no_card_then_present_find_select_read_gives_vector_a():
    m = IdCardModel()
    assert ask(m, FIND) == bytes.fromhex("AAAAAA9669000400008084")
    m.present_card(card_a())
    assert ask(m, FIND) == bytes.fromhex("AAAAAA9669000800009F0000000097")
    assert ask(m, SELECT) == bytes.fromhex("AAAAAA9669000C00009000000000000000009C")
    assert ask(m, READ) == VECTOR_A
    assert m.state == CardState.SPENT


def test_read_card_is_not_found_again_until_removed():
    m = IdCardModel()
    m.present_card(card_a())
    for step in (FIND, SELECT, READ):
        ask(m, step)
    assert sw3(ask(m, FIND)) == 0x80
    assert sw3(ask(m, FIND)) == 0x80
    m.remove_card()
    assert sw3(ask(m, FIND)) == 0x80
    m.present_card(card_a())
    assert sw3(ask(m, FIND)) == 0x9F


def test_order_is_enforced():
    m = IdCardModel()
    assert sw3(ask(m, SELECT)) == 0x81
    assert sw3(ask(m, READ)) == 0x41
    m.present_card(card_a())
    assert sw3(ask(m, SELECT)) == 0x81          # select before find
    assert sw3(ask(m, READ)) == 0x41            # read before select
    ask(m, FIND)
    assert sw3(ask(m, READ)) == 0x41            # found but not selected


def test_spent_card_can_be_read_again_in_place_and_reset_makes_it_findable():
    m = IdCardModel()
    m.present_card(card_a())
    for step in (FIND, SELECT, READ):
        ask(m, step)
    assert ask(m, READ) == VECTOR_A             # host resends after a garbled reply
    assert ask(m, (0x10, 0xFF)) == bytes.fromhex("AAAAAA9669000400009094")
    assert sw3(ask(m, FIND)) == 0x9F


def test_appended_address_after_read_and_none():
    m = IdCardModel()
    m.present_card(card_a(appended_address="北京市东城区示例大街2号"))
    for step in (FIND, SELECT, READ):
        ask(m, step)
    assert ask(m, READ_ADDR) == vec("appended_address")
    m.present_card(card_a())
    for step in (FIND, SELECT):
        ask(m, step)
    assert ask(m, READ_ADDR) == bytes.fromhex("AAAAAA9669000400009195")


@pytest.mark.parametrize("size, vector", [(0, "vector_fp0"), (512, None), (1024, "vector_fp1024")])
def test_fingerprint_reads(size, vector):
    m = IdCardModel()
    m.present_card(card_a(fingerprint=synthetic_fingerprint(size)))
    for step in (FIND, SELECT):
        ask(m, step)
    reply = ask(m, READ_FP)
    assert len(reply) == {0: 1297, 512: 1809, 1024: 2321}[size]
    if vector:
        assert reply == vec(vector)
    else:
        assert reply[:16] == bytes.fromhex("AAAAAA9669070A000090010004000200") and reply[-1] == 0xA3
    # the base read of a fingerprint card is still the plain 1295-byte reply
    assert ask(m, READ) == VECTOR_A


def test_sam_status_number_and_baud():
    m = IdCardModel()
    assert ask(m, (0x11, 0xFF)) == bytes.fromhex("AAAAAA9669000400009094")
    assert ask(m, (0x12, 0xFF)) == vec("sam_number")
    assert sw3(ask(m, (0x60, 0x04))) == 0x90 and m.baud_code == 4
    assert sw3(ask(m, (0x60, 0x05))) == 0x21
    assert sw3(ask(m, (0x61, 0xFF), b"\x50")) == 0x90


# -- bad requests ------------------------------------------------------------------------

def test_bad_host_checksum_gets_10():
    """idcard-vectors §3.7: ``…20 01 23`` (wrong CHK) → ``…00 00 10 14``."""
    m = IdCardModel()
    (item,) = FrameReader().feed(bytes.fromhex("AAAAAA96690003200123"))
    assert isinstance(item, ChecksumError)
    assert m.handle(item) == bytes.fromhex("AAAAAA9669000400001014")


def test_unknown_command_gets_21():
    """idcard-vectors §3.7: ``…99 99 03`` → ``…00 00 21 25``; BearPi's ``01 FF`` reset too."""
    m = IdCardModel()
    (item,) = FrameReader().feed(bytes.fromhex("AAAAAA96690003999903"))
    assert m.handle(item) == bytes.fromhex("AAAAAA9669000400002125")
    assert ask(m, (0x01, 0xFF)) == bytes.fromhex("AAAAAA9669000400002125")
    assert sw3(ask(m, (0x20, 0x07))) == 0x21
    assert sw3(ask(m, (0x10, 0x00))) == 0x21


def test_wrong_length_gets_11():
    m = IdCardModel()
    assert sw3(ask(m, FIND, b"\x00")) == 0x11                  # find carries no data
    assert sw3(ask(m, (0x61, 0xFF))) == 0x11                   # 61 needs one byte
    (item, *_) = FrameReader().feed(bytes.fromhex("AAAAAA9669000220 01"))
    assert isinstance(item, FrameError)
    assert m.handle(item) == bytes.fromhex("AAAAAA9669000400001115")
    assert m.handle(RawFrame(b"\x20")) == bytes.fromhex("AAAAAA9669000400001115")


# -- injected statuses -------------------------------------------------------------------

@pytest.mark.parametrize("status, target", [(0x80, FIND), (0x81, SELECT), (0x41, READ), (0x31, READ),
                                            (0x32, READ), (0x10, FIND), (0x11, FIND), (0x21, FIND),
                                            (0x60, FIND)])
def test_injected_status_hits_its_command_once_without_side_effect(status, target):
    m = IdCardModel()
    m.present_card(card_a())
    m.inject_status(status)
    sequence = [FIND, SELECT, READ]
    before = sequence[:sequence.index(target)]
    for step in before:
        assert sw3(ask(m, step)) in (0x9F, 0x90)
    state = m.state
    assert ask(m, target) == build_reply(status)
    assert m.state == state                                      # no side effect
    assert sw3(ask(m, target)) in (0x9F, 0x90)                   # consumed after one reply


def test_injection_count_and_explicit_command():
    m = IdCardModel()
    m.present_card(card_a())
    m.inject_status(0x41, count=2)
    m.inject_status(0x60, command="select")
    assert sw3(ask(m, FIND)) == 0x9F
    assert sw3(ask(m, SELECT)) == 0x60
    assert sw3(ask(m, SELECT)) == 0x90
    assert [sw3(ask(m, READ)) for _ in range(3)] == [0x41, 0x41, 0x90]
    assert m.snapshot()["pending_injections"] == []
    with pytest.raises(ValueError):
        m.inject_status(0x41, command="eject")
    with pytest.raises(ValueError):
        m.inject_status(0x141)


async def test_actions_are_backdoor_verbs():
    m = IdCardModel()
    assert {"present_card", "remove_card", "inject_status"} <= set(m.actions())
    await m.act("present_card", card={"name": "张三", "sex": "1", "nation": "01", "birth": "1990-03-07",
                                      "address": "北京市东城区示例大街1号", "id_number": "110101199003070011",
                                      "authority": "北京市公安局东城分局", "valid_from": "20170727",
                                      "valid_to": "20370727"})
    for step in (FIND, SELECT):
        ask(m, step)
    assert ask(m, READ) == VECTOR_A
    await m.act("remove_card")
    assert m.snapshot()["state"] == "empty"


def test_simcard_validation():
    with pytest.raises(ValueError):
        card_a(card_type="X")
    with pytest.raises(ValueError):
        card_a(fingerprint=bytes(100))
    with pytest.raises(ValueError):
        IdCardModel().present_card(card_a(name="张" * 16))
    with pytest.raises(ValueError):
        IdCardModel().present_card(card_a(face_image=b"not an image"))
    assert SimCard.from_dict({**card_a().__dict__, "valid_to": "长期"}).valid_to is None


# -- photo blocks --------------------------------------------------------------------------

def test_no_face_gives_the_synthetic_wlt_of_vector_a():
    block = make_photo_block(None)
    assert block == synthetic_wlt() == VECTOR_A[270:1294]
    assert block[:8] == bytes.fromhex("574C6600C67E816B")
    assert decode_photo_block(block) is None


def test_xsim_block_holds_a_102x126_greyscale_webp():
    block = make_photo_block(face_png())
    assert len(block) == 1024 and block[:4] == b"XSIM"
    size = int.from_bytes(block[4:6], "big")
    assert 0 < size <= 1018 and block[6:14].startswith(b"RIFF") and block[14:18] == b"WEBP"
    assert block[6 + size:] == bytes(1018 - size)
    png = decode_photo_block(block)
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert img.shape == (126, 102)
    # the picture survives: the head is darker than the background
    assert img[40:80, 35:65].mean() < img[5:15, 5:15].mean()


def test_detailed_image_is_squeezed_until_it_fits():
    block = make_photo_block(face_png(noise=True))
    assert len(block) == 1024 and decode_photo_block(block) is not None


def test_malformed_xsim_blocks_decode_to_none():
    assert decode_photo_block(b"XSIM\x00\x00" + bytes(1018)) is None
    assert decode_photo_block(b"XSIM\x04\x00" + bytes(1018)) is None           # length past the end
    assert decode_photo_block(b"XSIM\x00\x10" + bytes(1018)) is None           # not a WebP
    assert decode_photo_block(b"XSI") is None


def test_plugin_exports():
    assert isinstance(PHOTO_DECODER, PhotoDecoderSpec) and PHOTO_DECODER.name == "examhw.sim-photo"
    assert PHOTO_DECODER.decode(make_photo_block(face_png())) is not None
    assert SIMULATOR.name == "examhw.sim.sam-serial" and SIMULATOR.transport == "pty"
    assert SIMULATOR.kind.value == "id_reader"


def test_sam_request_dataclass():
    assert SamRequest(0x20, 0x01).data == b""
