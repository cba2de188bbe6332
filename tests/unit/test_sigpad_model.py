"""The simulated STU-530-like pad: report handling, state machine and the
scripted signer (R-DEV-DESK signature pad; R-OPS-SCORE signing)."""
from __future__ import annotations

import asyncio
import struct

import pytest

from examhw.errors import ConfigError, DeviceTimeout
from examhw.sim.base import SimContext
from examhw_simulators.sigpad import SIMULATOR
from examhw_simulators.sigpad import model as M
from examhw_simulators.sigpad import pen


class Sink:
    def __init__(self):
        self.reports: list[tuple[int, bytes]] = []

    def __call__(self, rid, payload):
        self.reports.append((rid, payload))

    def pens(self):
        return [(r, p) for r, p in self.reports if r in (M.PEN_DATA, M.PEN_DATA_TCS)]


def _pad(**kw):
    m = M.SigPadModel(M.PadIdentity(uid2=bytes(range(10))), **kw)
    sink = Sink()
    m.connect(sink)
    return m, sink


def _enter_capture(m):
    assert m.handle(M.PEN_DATA_OPTION_MODE, b"\x03") == [(M.SET_RESULT, b"\x32\x00")]
    assert m.handle(M.CLEAR_SCREEN, b"\x00") == [(M.SET_RESULT, b"\x20\x00")]
    assert m.handle(M.INKING_MODE, b"\x01") == [(M.SET_RESULT, b"\x21\x00")]


def _decode(rid, payload):
    b0 = payload[0]
    x, y = struct.unpack_from(">HH", payload, 2)
    tc = seq = None
    if rid == M.PEN_DATA_TCS:
        tc, seq = struct.unpack_from(">HH", payload, 6)
    return dict(rdy=bool(b0 & 0x80), down=bool(b0 & 0x70), p=((b0 & 0x0F) << 8) | payload[1],
                x=x, y=y, tc=tc, seq=seq)


def test_power_up_state_and_identity_reports():
    m, _ = _pad()
    assert m.state.inking and m.state.option_mode == 0 and not m.capture_ready
    ((rid, info),) = m.handle(M.GET_REPORT, bytes([M.INFORMATION]))
    assert rid == M.INFORMATION and info[:9] == b"STU-530\0\0" and len(info) == 16
    ((rid, cap),) = m.handle(M.GET_REPORT, bytes([M.CAPABILITY]))
    assert struct.unpack(">HHHHHBHB", cap) == (9600, 6000, 1023, 800, 480, 200, 2540, 0x0F)
    assert m.handle(M.GET_REPORT, bytes([M.UID2])) == [(M.UID2, bytes(range(10)))]
    assert m.handle(M.GET_REPORT, bytes([M.STATUS])) == [(M.STATUS, bytes(4))]


def test_wrong_report_ids_and_bad_parameters():
    m, _ = _pad()
    assert m.handle(M.GET_REPORT, bytes([0x77])) == [(M.SET_RESULT, b"\x77\x01")]
    assert m.handle(M.GET_REPORT, bytes([M.CLEAR_SCREEN])) == [(M.SET_RESULT, b"\x20\x01")]
    assert m.handle(M.GET_REPORT, b"") == [(M.SET_RESULT, b"\x80\x04")]
    assert m.handle(0x55, b"\x00") == [(M.SET_RESULT, b"\x55\x01")]
    assert m.handle(M.INKING_MODE, b"\x02") == [(M.SET_RESULT, b"\x21\x04")]
    assert m.handle(M.PEN_DATA_OPTION_MODE, b"\x04") == [(M.SET_RESULT, b"\x32\x04")]
    assert m.handle(M.CLEAR_SCREEN, b"") == [(M.SET_RESULT, b"\x20\x04")]
    assert m.handle(M.GET_REPORT, bytes([M.STATUS])) == [(M.STATUS, bytes([0, 4, 0, 0]))]


def test_capture_mode_needs_inking_after_a_clear():
    m, _ = _pad()
    m.handle(M.CLEAR_SCREEN, b"\x00")
    assert m.capture_ready                        # inking is on at power-up
    m.handle(M.INKING_MODE, b"\x00")
    assert not m.capture_ready
    m.handle(M.INKING_MODE, b"\x01")
    assert m.capture_ready
    assert m.handle(M.GET_REPORT, bytes([M.INKING_MODE])) == [(M.INKING_MODE, b"\x01")]
    m.handle(M.RESET, b"\x00")
    assert not m.capture_ready and m.state.inking and m.state.option_mode == 0


def test_reject_next_and_corrupted_frames():
    m, _ = _pad()
    m.reject_next("WrongState", 2)
    assert m.handle(M.CLEAR_SCREEN, b"\x00") == [(M.SET_RESULT, b"\x20\x02")]
    assert m.handle(M.INKING_MODE, b"\x01") == [(M.SET_RESULT, b"\x21\x02")]
    assert m.handle(M.INKING_MODE, b"\x01") == [(M.SET_RESULT, b"\x21\x00")]
    assert m.corrupted() == [(M.SET_RESULT, b"\x00\x03")]
    assert m.handle(M.GET_REPORT, bytes([M.STATUS]))[0][1][1] == 0x03
    with pytest.raises(ValueError):
        m.reject_next("Nope")


def test_pen_report_formats_time_wrap_and_sequence():
    m, _ = _pad(time0=0xFFFD)
    s = pen.Sample(4800, 4000, 500, True, True)
    rid, payload = m.pen_report(s)
    assert rid == M.PEN_DATA and payload == bytes.fromhex("91 F4 12 C0 0F A0")
    m.handle(M.PEN_DATA_OPTION_MODE, b"\x03")
    reps = [m.pen_report(s) for _ in range(3)]
    assert all(r == M.PEN_DATA_TCS and len(p) == 10 for r, p in reps)
    tcs = [_decode(*r)["tc"] for r in reps]
    seqs = [_decode(*r)["seq"] for r in reps]
    # time0 0xFFFD, one report already sent at 5 ms → 0x0002, then +5 ms each
    assert tcs == [0x0002, 0x0007, 0x000C] and seqs == [1, 2, 3]


async def test_sign_waits_for_capture_mode_then_streams_and_taps_ok():
    m, sink = _pad()
    task = asyncio.create_task(m.sign("Li Lei", timeout=2.0))
    await asyncio.sleep(0.01)
    assert not task.done() and sink.reports == []
    _enter_capture(m)
    n = await asyncio.wait_for(task, 2.0)
    pens = [_decode(*r) for r in sink.pens()]
    assert n == len(pens) > 200
    assert all(r == M.PEN_DATA_TCS for r, _ in sink.pens())
    assert [p["seq"] for p in pens] == list(range(len(pens)))
    ink = [p for p in pens[:-8] if p["down"]]
    assert all(p["y"] <= 5000 and 0 < p["p"] <= 1023 for p in ink)   # above the button bar
    # the final tap is at the OK box centre (doc §6: about (1600, 5500))
    tap = [p for p in pens[-8:] if p["down"]]
    assert len(tap) == 4 and all(abs(p["x"] - 1600) < 20 and abs(p["y"] - 5500) < 20 for p in tap)
    assert not pens[-1]["rdy"]
    assert not m.state.fresh and m.state.ink_samples == len(ink) + 4


async def test_sign_is_deterministic_per_name():
    a, sa = _pad()
    b, sb = _pad()
    c, sc_ = _pad()
    for m in (a, b, c):
        _enter_capture(m)
    await a.sign("Wang Fang")
    await b.sign("Wang Fang")
    await c.sign("Zhao Qiang")
    assert [p[:6] for _, p in sa.pens()] == [p[:6] for _, p in sb.pens()]   # time counts follow the clock
    assert [(_decode(*r)["x"], _decode(*r)["y"]) for r in sa.pens()] != \
           [(_decode(*r)["x"], _decode(*r)["y"]) for r in sc_.pens()]


async def test_sign_given_strokes_stop_after_and_no_confirm():
    m, sink = _pad()
    _enter_capture(m)
    strokes = [[(1000, 1000), (1100, 1100, 700), (1200, 1150)]]
    n = await m.sign(strokes=strokes, confirm=False)
    downs = [_decode(*r) for r in sink.pens() if _decode(*r)["down"]]
    assert [(d["x"], d["y"], d["p"]) for d in downs] == [(1000, 1000, 511), (1100, 1100, 700), (1200, 1150, 511)]
    assert n == len(sink.pens()) and not _decode(*sink.pens()[-1])["rdy"]
    # stop_after leaves the pen down (cable pulled mid-stroke)
    m.handle(M.CLEAR_SCREEN, b"\x00")
    sink.reports.clear()
    assert await m.sign("X", stop_after=30) == 30
    assert _decode(*sink.pens()[-1])["down"]


async def test_sign_times_out_when_host_never_captures_and_tap_validates():
    m, _ = _pad()
    with pytest.raises(DeviceTimeout):
        await m.sign("A", timeout=0.05)
    with pytest.raises(ValueError):
        await m.tap("help")


async def test_unplug_during_sign_stops_stream_and_power_up_on_reconnect():
    m, sink = _pad()
    _enter_capture(m)
    task = asyncio.create_task(m.sign("Long Name Here"))
    while len(sink.pens()) < 40:
        await asyncio.sleep(0)
    m.disconnect()
    n = await asyncio.wait_for(task, 2.0)
    assert n < 300 and not m.connected
    m.connect(sink)
    assert m.state.option_mode == 0 and not m.capture_ready
    snap = m.snapshot()
    assert snap["connected"] and snap["uid2"] == "00010203040506070809"


def test_generated_strokes_fit_the_signing_area():
    for name in ["", "A", "Zhang San", "Ouyang Xiaoming Jr", "x" * 40]:
        strokes = pen.signature_strokes(name, 9600, 6000, 1023)
        pts = [p for s in strokes for p in s]
        assert len(strokes) >= 2 and len(pts) >= 100
        assert all(0 <= x <= 9600 and 0 <= y < 5000 and 1 <= p <= 1023 for x, y, p in pts)


def test_simulator_options(tmp_path):
    sim = SIMULATOR.factory(SimContext(role="desk-pad", run_dir=tmp_path,
                                       options={"uid": "00112233445566778899", "model": "STU-430"}))
    assert sim.model.identity.uid2.hex() == "00112233445566778899"
    assert sim.model.identity.model_name == "STU-430"
    with pytest.raises(ConfigError):
        SIMULATOR.factory(SimContext(role="desk-pad", run_dir=tmp_path, options={"uid": "zz"}))
    a = SIMULATOR.factory(SimContext(role="desk-pad", run_dir=tmp_path))
    b = SIMULATOR.factory(SimContext(role="desk-pad", run_dir=tmp_path))
    assert a.model.identity.uid2 == b.model.identity.uid2 and len(a.model.identity.uid2) == 10
