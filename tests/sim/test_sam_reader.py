"""The examhw.sam-serial driver against the examhw.sim.sam-serial simulator over a real pty.

Covers the ID card reads of the service desk (R-DEV-DESK), check-in (R-OPS-CHECKIN) and
the exam-room gate (R-DEV-GATE), the SAM status handling of BR-10 and split replies of
BR-09."""
from __future__ import annotations

import asyncio
import time
from datetime import date

import cv2
import numpy as np
import pytest

from examhw.errors import (ChecksumError, DeviceFault, DeviceTimeout, DeviceUnavailable, NoCard,
                           ProtocolError)
from examhw.kinds import CardType, ConnState, DriverContext
from examhw.sim import FaultPlan, SimContext
from examhw.urls import DeviceURL
from examhw_drivers.sam_serial import DRIVER
from examhw_simulators.idcard import PHOTO_DECODER, SIMULATOR, SimCard, synthetic_fingerprint
from examhw_simulators.idcard.photo import synthetic_wlt

ROLE = "gate-reader"


def card_a(**changes) -> SimCard:
    base = dict(name="张三", sex="1", nation="01", birth=date(1990, 3, 7), address="北京市东城区示例大街1号",
                id_number="110101199003070011", authority="北京市公安局东城分局",
                valid_from=date(2017, 7, 27), valid_to=date(2037, 7, 27))
    base.update(changes)
    return SimCard(**base)


CARD_B = dict(name="李示例", sex="2", nation="01", birth=date(1949, 12, 31), address="北京市朝阳区示例路2号",
              id_number="11010519491231002X", authority="北京市公安局朝阳分局",
              valid_from=date(2010, 1, 1), valid_to=None)
CARD_J = dict(name="陈示例", sex="1", nation="", birth=date(1990, 1, 1), address="北京市朝阳区示例路3号",
              id_number="810000199001010019", authority="北京市公安局朝阳分局", valid_from=date(2020, 1, 1),
              valid_to=date(2025, 1, 1), card_type="J", pass_number="H12345678", issue_count="01")
CARD_I = dict(name="约翰", sex="1", nation="", birth=date(1990, 1, 1), address="", id_number="USA110090010101",
              authority="1100", valid_from=date(2020, 1, 1), valid_to=date(2030, 1, 1), card_type="I",
              english_name="SAMPLE TESTER JOHN", nationality="USA", card_version="01")
CARD_Y = dict(name="约翰", sex="1", nation="", birth=date(1990, 1, 1), address="", id_number="911840199001010018",
              authority="", valid_from=date(2024, 1, 1), valid_to=date(2034, 1, 1), card_type="Y",
              english_name="SAMPLE TESTER JOHN", nationality="USA", renewal_count="00")


async def wait_until(cond, timeout: float = 2.0) -> None:
    """Wait for ``cond()`` to hold (checked every loop turn), failing after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


class GarbleBigReplies(FaultPlan):
    """Test fault: flip byte 500 of the next ``times`` replies longer than 1000 bytes
    (the card data), leaving the short replies alone."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.times = times

    def shape(self, data: bytes) -> list[tuple[float, bytes]]:
        if len(data) > 1000 and self.times > 0:
            self.times -= 1
            data = data[:500] + bytes([data[500] ^ 0xFF]) + data[501:]
        return super().shape(data)


class GarbleAt(FaultPlan):
    """Test fault: flip byte ``pos`` of the next reply."""

    def __init__(self, pos: int) -> None:
        super().__init__()
        self.pos = pos
        self.armed = False

    def shape(self, data: bytes) -> list[tuple[float, bytes]]:
        if self.armed:
            self.armed = False
            data = data[:self.pos] + bytes([data[self.pos] ^ 0xFF]) + data[self.pos + 1:]
        return super().shape(data)


class LoseTailOnce(FaultPlan):
    """BR-09 variant: the first card-data reply loses its last ``tail`` bytes, which then
    arrive in front of the next reply."""

    def __init__(self, tail: int) -> None:
        super().__init__()
        self.tail = tail
        self.done = False

    def shape(self, data: bytes) -> list[tuple[float, bytes]]:
        if len(data) > 1000 and not self.done:
            self.done = True
            self.prefix = data[-self.tail:]
            return [(0.0, data[:-self.tail])]
        return super().shape(data)


@pytest.fixture
async def rig(tmp_path):
    started: list = []

    async def make(options: dict | None = None, faults: FaultPlan | None = None):
        ctx = SimContext(role=ROLE, run_dir=tmp_path, faults=faults or FaultPlan())
        sim = SIMULATOR.factory(ctx)
        url = await sim.start()
        driver = DRIVER.factory(ROLE, DeviceURL.parse(url), {"poll_s": 0.02, **(options or {})},
                                DriverContext(timeout_s=2.0))
        started.append((sim, driver))
        await driver.open()
        return sim, driver

    yield make
    for sim, driver in started:
        await driver.close()
        await sim.stop()


async def test_happy_path_reads_vector_a_card(rig):
    """R-DEV-GATE, R-OPS-CHECKIN: a presented resident card is read completely."""
    sim, reader = await rig()
    assert reader.state == ConnState.READY
    assert reader.info.serial == "05.01-20200101-000123456-987654321"
    events = reader.events.subscribe()
    sim.model.present_card(card_a())
    card = await reader.read_card(timeout=1.0)
    assert (card.name, card.sex, card.nation, card.birth_date, card.address, card.id_number, card.authority,
            card.valid_from, card.valid_to, card.card_type) == (
        "张三", "1", "01", date(1990, 3, 7), "北京市东城区示例大街1号", "110101199003070011",
        "北京市公安局东城分局", date(2017, 7, 27), date(2037, 7, 27), CardType.RESIDENT)
    assert card.id_number_valid and card.photo == synthetic_wlt() and card.fingerprint == b""
    assert card.is_valid_on(date(2025, 6, 1))
    assert [e.type for e in events.pending()] == ["card_presented"]


async def test_card_removed_event_and_no_card_after_read(rig):
    """After a read the SAM does not offer the card again: the next poll reports it gone."""
    sim, reader = await rig()
    events = reader.events.subscribe()
    sim.model.present_card(card_a())
    await reader.read_card(timeout=1.0)
    with pytest.raises(NoCard):
        await reader.read_card(timeout=0.1)
    assert [e.type for e in events.pending()] == ["card_presented", "card_removed"]
    sim.model.remove_card()
    sim.model.present_card(card_a())
    assert (await reader.read_card(timeout=1.0)).name == "张三"


async def test_long_term_card(rig):
    """R-DEV-DESK: 长期 validity reads as valid_to None."""
    sim, reader = await rig()
    sim.model.present_card(SimCard(**CARD_B))
    card = await reader.read_card(timeout=1.0)
    assert card.valid_to is None and card.id_number == "11010519491231002X" and card.id_number_valid
    assert card.is_valid_on(date(2090, 1, 1))


@pytest.mark.parametrize("fields, kind", [(CARD_J, CardType.HMT_PERMIT), (CARD_I, CardType.FOREIGNER_2017),
                                          (CARD_Y, CardType.FOREIGNER_2023)])
async def test_j_i_y_cards(rig, fields, kind):
    """R-OPS-CHECKIN: residence permits and foreigner cards are told apart by the flag at 248."""
    sim, reader = await rig()
    sim.model.present_card(SimCard(**fields))
    card = await reader.read_card(timeout=1.0)
    assert card.card_type == kind and card.id_number == fields["id_number"]
    assert card.name == fields["name"] and card.birth_date == date(1990, 1, 1)
    if kind == CardType.HMT_PERMIT:
        assert card.nation == "" and card.address == "北京市朝阳区示例路3号" and card.id_number_valid
        assert card.extras["pass_number"] == "H12345678" and card.extras["issue_count"] == "01"
    else:
        assert card.english_name == "SAMPLE TESTER JOHN" and card.nationality == "USA"
    if kind == CardType.FOREIGNER_2023:
        assert card.id_number_valid


@pytest.mark.parametrize("size", [0, 512, 1024])
async def test_fingerprint_variants(rig, size):
    sim, reader = await rig({"fingerprint": True})
    fp = synthetic_fingerprint(size)
    sim.model.present_card(card_a(fingerprint=fp))
    card = await reader.read_card(timeout=1.0)
    assert card.fingerprint == fp and len(card.photo) == 1024 and card.name == "张三"


async def test_no_card_raises_nocard_within_timeout(rig):
    sim, reader = await rig()
    t0 = time.monotonic()
    with pytest.raises(NoCard):
        await reader.read_card(timeout=0.3)
    assert 0.25 <= time.monotonic() - t0 < 1.0
    assert reader.state == ConnState.READY


async def test_card_presented_while_polling(rig):
    sim, reader = await rig()
    task = asyncio.create_task(reader.read_card(timeout=2.0))
    await wait_until(lambda: sim.model.requests >= 5)        # a few polls saw no card
    sim.model.present_card(card_a())
    card = await asyncio.wait_for(task, 2.0)
    assert card.id_number == "110101199003070011"


# -- BR-10 status handling ---------------------------------------------------------------

async def test_read_failed_once_is_retried(rig):
    """BR-10: 41 → one automatic find→select→read retry, which succeeds."""
    sim, reader = await rig()
    events = reader.events.subscribe("read_failed")
    sim.model.present_card(card_a())
    sim.model.inject_status(0x41)
    card = await reader.read_card(timeout=1.0)
    assert card.name == "张三"
    (event,) = events.pending()
    assert event.data == {"code": 0x41, "stage": "read", "retry": True}


async def test_read_failed_twice_is_a_device_fault(rig):
    """BR-10: 41 twice → DeviceFault(code=0x41) ("hold the card still")."""
    sim, reader = await rig()
    events = reader.events.subscribe("read_failed")
    sim.model.present_card(card_a())
    sim.model.inject_status(0x41, count=2)
    with pytest.raises(DeviceFault) as info:
        await reader.read_card(timeout=1.0)
    assert info.value.code == 0x41
    assert [e.data["retry"] for e in events.pending()] == [True, False]


async def test_select_failed_once_is_retried(rig):
    sim, reader = await rig()
    sim.model.present_card(card_a())
    sim.model.inject_status(0x81)
    assert (await reader.read_card(timeout=1.0)).name == "张三"


@pytest.mark.parametrize("code", [0x31, 0x32, 0x33, 0x40])
async def test_authentication_failure_never_returns_data(rig, code):
    """BR-10: 31/32/33/40 → DeviceFault at once, no retry, no data."""
    sim, reader = await rig()
    sim.model.present_card(card_a())
    sim.model.inject_status(code, count=3)
    with pytest.raises(DeviceFault) as info:
        await reader.read_card(timeout=1.0)
    assert info.value.code == code
    assert sim.model.snapshot()["pending_injections"] == [(code, 2, "read")]    # asked once only


@pytest.mark.parametrize("code", [0x60, 0x66])
async def test_reader_unusable(rig, code):
    sim, reader = await rig()
    sim.model.present_card(card_a())
    sim.model.inject_status(code)
    with pytest.raises(DeviceFault) as info:
        await reader.read_card(timeout=1.0)
    assert info.value.code == code


async def test_sam_status_fault_surfaces(rig):
    sim, reader = await rig()
    assert await reader.sam_status() == 0x90
    sim.model.inject_status(0x60)
    with pytest.raises(DeviceFault):
        await reader.sam_status()
    assert (await reader.health()).ok


@pytest.mark.parametrize("code", [0x10, 0x11, 0x21])
async def test_rejected_request_is_resent_once(rig, code):
    """BR-10: 10/11/21 → resend once; twice → ProtocolError."""
    sim, reader = await rig()
    sim.model.present_card(card_a())
    sim.model.inject_status(code)
    assert (await reader.read_card(timeout=1.0)).name == "张三"
    sim.model.remove_card()
    sim.model.present_card(card_a())
    sim.model.inject_status(code, count=2)
    with pytest.raises(ProtocolError) as info:
        await reader.read_card(timeout=1.0)
    assert not isinstance(info.value, ChecksumError)


async def test_find_failed_status_keeps_polling(rig):
    sim, reader = await rig()
    sim.model.present_card(card_a())
    sim.model.inject_status(0x80, count=3)
    assert (await reader.read_card(timeout=1.0)).name == "张三"


# -- faults on the line -------------------------------------------------------------------

async def test_garbled_reply_is_resent(rig):
    """A reply with one byte flipped is never interpreted; the resend succeeds."""
    faults = FaultPlan()
    sim, reader = await rig(faults=faults)
    sim.model.present_card(card_a())
    faults.garble = 1                      # the next reply (find) is garbled
    card = await reader.read_card(timeout=2.0)
    assert card.name == "张三" and faults.garble == 0


async def test_garbled_card_data_is_resent_then_checksum_error(rig):
    faults = GarbleBigReplies(1)
    sim, reader = await rig(faults=faults)
    sim.model.present_card(card_a())
    assert (await reader.read_card(timeout=1.0)).photo == synthetic_wlt()
    faults.times = 2
    sim.model.remove_card()
    sim.model.present_card(card_a())
    with pytest.raises(ChecksumError):
        await reader.read_card(timeout=1.0)


@pytest.mark.parametrize("pos, where", [(1, "preamble"), (5, "LEN high"), (6, "LEN low"), (9, "SW3"),
                                        (14, "CHK")])
async def test_garble_anywhere_in_the_find_reply_is_recovered(rig, pos, where):
    """Whether the flip hides the preamble, breaks LEN or the XOR, the reply is never
    interpreted and the resent find succeeds."""
    faults = GarbleAt(pos)
    sim, reader = await rig(faults=faults)
    sim.model.present_card(card_a())
    faults.armed = True
    card = await reader.read_card(timeout=2.0)
    assert card.name == "张三" and not faults.armed


async def test_lost_tail_arrives_before_the_next_reply(rig):
    """BR-09 variant: the first read reply is incomplete (no partial record is returned);
    its orphaned 325-byte tail precedes the resent reply and is skipped."""
    faults = LoseTailOnce(325)
    sim, reader = await rig(faults=faults)
    sim.model.present_card(card_a())
    card = await reader.read_card(timeout=2.0)
    assert card.photo == synthetic_wlt() and faults.done and faults.prefix == b""


@pytest.mark.parametrize("count, chunk, gap_s", [(3, 7, 0.0005), (1, 400, 0.04)])
async def test_split_replies_are_reassembled(rig, count, chunk, gap_s):
    """BR-09: replies delivered 7 bytes at a time, or in bursts 40 ms apart, still parse
    by the LEN field."""
    faults = FaultPlan()
    sim, reader = await rig(faults=faults)
    sim.model.present_card(card_a())
    faults.split, faults.chunk, faults.chunk_delay_s = count, chunk, gap_s   # replies longer than chunk
    card = await reader.read_card(timeout=2.0)
    assert card.id_number == "110101199003070011" and faults.split == 0


async def test_silent_reader_times_out(rig):
    faults = FaultPlan()
    sim, reader = await rig(faults=faults)
    faults.drop = 1000
    with pytest.raises(DeviceTimeout) as info:
        await reader.read_card(timeout=0.5)
    assert not isinstance(info.value, NoCard)


async def test_unplug_then_replug_reconnects(rig):
    """R-DEV-GATE: a pulled adapter is reported; after replugging the next read works."""
    sim, reader = await rig()
    sim.model.present_card(card_a())
    await sim.unplug()
    with pytest.raises(DeviceUnavailable):
        await reader.read_card(timeout=0.5)
    assert reader.state == ConnState.UNAVAILABLE
    await sim.replug()
    card = await reader.read_card(timeout=1.0)
    assert card.name == "张三" and reader.state == ConnState.READY


# -- other commands -----------------------------------------------------------------------

async def test_sam_id_reset_and_appended_address(rig):
    """R-DEV-DESK: the desk reads the newest appended address after the card."""
    sim, reader = await rig()
    number = await reader.sam_id()
    assert number.raw.hex() == "05000100a53a340140e20100b168de3a"
    sim.model.present_card(card_a(appended_address="北京市东城区示例大街2号"))
    await reader.read_card(timeout=1.0)
    assert await reader.read_new_address() == "北京市东城区示例大街2号"
    await reader.reset()                          # card is offered again after a SAM reset
    assert await reader.read_new_address() == "北京市东城区示例大街2号"
    sim.model.remove_card()
    with pytest.raises(NoCard):
        await reader.read_new_address()
    sim.model.present_card(card_a())
    assert await reader.read_new_address() is None


async def test_xsim_photo_decodes_to_102x126(rig):
    """R-DEV-GATE: the gate compares the live face with the card photo; the simulator's photo
    decodes to the 102 × 126 image a real WLT photo would give."""
    img = np.full((180, 150), 210, np.uint8)
    cv2.ellipse(img, (75, 70), (36, 48), 0, 0, 360, 110, -1)
    cv2.ellipse(img, (75, 180), (70, 45), 0, 180, 360, 60, -1)
    ok, png = cv2.imencode(".png", img)
    sim, reader = await rig()
    sim.model.present_card(card_a(face_image=png.tobytes()))
    card = await reader.read_card(timeout=1.0)
    assert card.photo[:4] == b"XSIM" and len(card.photo) == 1024
    decoded = PHOTO_DECODER.decode(card.photo)
    assert decoded is not None
    assert cv2.imdecode(np.frombuffer(decoded, np.uint8), cv2.IMREAD_UNCHANGED).shape == (126, 102)


async def test_reply_delay_option(tmp_path):
    ctx = SimContext(role=ROLE, run_dir=tmp_path, options={"reply_delay_s": "0.05"})
    sim = SIMULATOR.factory(ctx)
    url = await sim.start()
    reader = DRIVER.factory(ROLE, DeviceURL.parse(url), {}, DriverContext())
    try:
        t0 = time.monotonic()
        await reader.open()                        # two exchanges: status, SAM number
        assert time.monotonic() - t0 >= 0.1
        assert reader.poll_s == 0.3 and reader.baud == 115200 and reader.fingerprint is False
    finally:
        await reader.close()
        await sim.stop()


def test_driver_spec():
    assert DRIVER.name == "examhw.sam-serial" and DRIVER.simulator == SIMULATOR.name
    assert DRIVER.schemes == ("serial",)
    assert dict(DRIVER.options) == {"poll_s": float, "fingerprint": bool, "baud": int}
