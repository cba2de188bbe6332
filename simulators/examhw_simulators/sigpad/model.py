"""State of the simulated STU-530-like signature pad and its scripted pen.

The model answers host reports (docs/protocols/stu-serial.md §2–§5) and,
through backdoor actions, plays a signer: ``sign`` streams a handwritten
signature as 200 Hz pen reports of *virtual* pen time and taps the
host-drawn OK box (§6); ``tap``/``cancel`` tap a box; ``unplug``/``replug``
pull the USB-serial cable.
"""
from __future__ import annotations

import asyncio
import logging
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Sequence

from examhw.clock import Clock, RealClock
from examhw.errors import DeviceTimeout
from examhw.sim.base import SimModel, action

from . import pen

log = logging.getLogger("examhw.sim.sigpad")

# report IDs (protocol doc §3)
PEN_DATA = 0x01
STATUS = 0x03
RESET = 0x04
INFORMATION = 0x08
CAPABILITY = 0x09
UID2 = 0x0B
CLEAR_SCREEN = 0x20
INKING_MODE = 0x21
PEN_DATA_OPTION_MODE = 0x32
PEN_DATA_TCS = 0x34
GET_REPORT = 0x80
SET_RESULT = 0x81

# result codes (protocol doc §4)
RESULTS = {"None": 0x00, "WrongReportId": 0x01, "WrongState": 0x02, "CRC": 0x03,
           "BadParameter": 0x04, "PadNotExist": 0x20}

Report = tuple[int, bytes]


@dataclass(frozen=True)
class PadIdentity:
    """What the pad reports about itself (STU-530-like defaults)."""

    model_name: str = "STU-530"
    fw_major: int = 2
    fw_minor: int = 11
    uid2: bytes = bytes(10)
    tablet_max_x: int = 9600
    tablet_max_y: int = 6000
    tablet_max_pressure: int = 1023
    screen_width: int = 800
    screen_height: int = 480
    report_rate: int = 200
    resolution: int = 2540
    encoding_flag: int = 0x0F

    def information(self) -> bytes:
        name = self.model_name.encode("ascii", "replace")[:9].ljust(9, b"\0")
        return name + bytes((self.fw_major, self.fw_minor, 0)) + bytes(4)

    def capability(self) -> bytes:
        return struct.pack(">HHHHHBHB", self.tablet_max_x, self.tablet_max_y,
                           self.tablet_max_pressure, self.screen_width, self.screen_height,
                           self.report_rate, self.resolution, self.encoding_flag)

    def button_centre(self, button: str) -> tuple[int, int]:
        """Tablet point at the centre of the host's OK/Clear/Cancel box
        (protocol doc §6: bottom sixth of the screen, OK | Clear | Cancel)."""
        index = {"ok": 0, "clear": 1, "cancel": 2}[button]
        w, h = self.screen_width, self.screen_height
        sx = (index * w // 3 + (index + 1) * w // 3) // 2
        sy = (h - h // 6 + h) // 2
        return ((sx * (self.tablet_max_x + 1) + w // 2) // w,
                (sy * (self.tablet_max_y + 1) + h // 2) // h)


def uid2_for(role: str) -> bytes:
    """A stable 10-byte Uid2 derived from the role name."""
    a = zlib.crc32(role.encode("utf-8"))
    b = zlib.crc32(role.encode("utf-8")[::-1] + b"stu")
    return b"\x53\x30" + a.to_bytes(4, "big") + b.to_bytes(4, "big")


@dataclass
class PadState:
    """Volatile pad state (lost on power loss / unplug)."""

    status: int = 0x00             # Ready
    last_result: int = 0x00
    inking: bool = True            # power-up default (protocol doc §5)
    option_mode: int = 0
    fresh: bool = False            # host cleared the screen and nothing was drawn since
    ink_samples: int = 0           # samples drawn on the screen since the last clear
    clears: int = 0
    reject: list[int] = field(default_factory=list)  # result codes forced on the next sets


class SigPadModel(SimModel):
    """STU-530-like pad. ``connect(out)`` is called by the session when the
    cable is plugged in (power-up state), ``disconnect()`` when pulled.

    ``time0`` is the pad's timeCount at model creation (default 0xFF00, so
    a capture crosses the 0xFFFF wrap after ~256 ms); ``pace`` sends pen
    reports in real time on the site clock instead of in quick bursts.
    """

    def __init__(self, identity: PadIdentity | None = None, *, clock: Clock | None = None,
                 time0: int = 0xFF00, pace: bool = False) -> None:
        self.identity = identity or PadIdentity()
        self.clock = clock or RealClock()
        self.state = PadState()
        self.time0 = time0 & 0xFFFF
        self.pace = pace
        self._t0 = self.clock.now()
        self._vt_ms = 0                # virtual pen time since model creation
        self._seq = 0
        self._pen_at: tuple[int, int] | None = None
        self._out: Callable[[int, bytes], None] | None = None
        self._changed = asyncio.Event()
        self.reports_sent = 0
        self.corrupted_frames = 0
        #: set by the simulator: coroutines pulling / re-plugging the cable
        self.unplug_hook: Callable[[], Awaitable[Any]] | None = None
        self.replug_hook: Callable[[], Awaitable[Any]] | None = None

    # -- cable -----------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._out is not None

    def connect(self, out: Callable[[int, bytes], None]) -> None:
        """Cable plugged in: power-up state; ``out(report_id, payload)`` sends."""
        self.state = PadState()
        self._pen_at = None
        self._out = out
        self._notify()

    def disconnect(self, out: Callable[[int, bytes], None] | None = None) -> None:
        """Cable pulled (only if ``out`` is the current sender, when given)."""
        if out is None or self._out == out:
            self._out = None
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    @property
    def capture_ready(self) -> bool:
        """Host has put the pad in capture mode: inking on after a ClearScreen."""
        return self.connected and self.state.inking and self.state.fresh

    # -- host reports ------------------------------------------------------------
    def handle(self, report_id: int, payload: bytes) -> list[Report]:
        """Replies to one report from the host."""
        st = self.state
        if report_id == GET_REPORT:
            if len(payload) != 1:
                return [self._result(GET_REPORT, RESULTS["BadParameter"])]
            want = payload[0]
            body = self._readable(want)
            if body is None:
                return [self._result(want, RESULTS["WrongReportId"])]
            return [(want, body)]
        if report_id not in (RESET, CLEAR_SCREEN, INKING_MODE, PEN_DATA_OPTION_MODE):
            return [self._result(report_id, RESULTS["WrongReportId"])]
        if st.reject:
            return [self._result(report_id, st.reject.pop(0))]
        return [self._result(report_id, self._apply(report_id, payload))]

    def corrupted(self) -> list[Report]:
        """A frame from the host failed the CRC/framing checks."""
        self.corrupted_frames += 1
        return [self._result(0x00, RESULTS["CRC"])]

    def _result(self, report_id: int, code: int) -> Report:
        self.state.last_result = code
        return (SET_RESULT, bytes((report_id, code)))

    def _readable(self, report_id: int) -> bytes | None:
        st, ident = self.state, self.identity
        if report_id == STATUS:
            return bytes((st.status, st.last_result, 0, 0))
        if report_id == INFORMATION:
            return ident.information()
        if report_id == CAPABILITY:
            return ident.capability()
        if report_id == UID2:
            return ident.uid2
        if report_id == INKING_MODE:
            return bytes((int(st.inking),))
        if report_id == PEN_DATA_OPTION_MODE:
            return bytes((st.option_mode,))
        return None

    def _apply(self, report_id: int, payload: bytes) -> int:
        st = self.state
        bad = RESULTS["BadParameter"]
        if len(payload) != 1:
            return bad
        value = payload[0]
        if report_id == RESET:
            if value > 1:
                return bad
            reject = st.reject
            self.state = PadState(reject=reject)
        elif report_id == CLEAR_SCREEN:
            if value != 0:
                return bad
            st.fresh = True
            st.ink_samples = 0
            st.clears += 1
        elif report_id == INKING_MODE:
            if value > 1:
                return bad
            st.inking = bool(value)
        elif report_id == PEN_DATA_OPTION_MODE:
            if value > 3:
                return bad
            st.option_mode = value
        self._notify()
        return RESULTS["None"]

    # -- pen ---------------------------------------------------------------------
    def _sync_time(self) -> None:
        """Pen time never runs behind the site clock between actions."""
        now_ms = int((self.clock.now() - self._t0) * 1000)
        self._vt_ms = max(self._vt_ms, now_ms)

    def pen_report(self, s: pen.Sample) -> Report:
        """Encode one sample as the pen report the option mode selects;
        advances pen time by one report period."""
        b0 = (0x80 if s.rdy else 0) | (0x10 if s.touching else 0) | ((s.pressure >> 8) & 0x0F)
        six = bytes((b0, s.pressure & 0xFF)) + struct.pack(">HH", s.x, s.y)
        tc = (self.time0 + self._vt_ms) & 0xFFFF
        seq = self._seq
        self._vt_ms += 1000 // self.identity.report_rate
        self._seq = (self._seq + 1) & 0xFFFF
        if self.state.option_mode == 3:
            return (PEN_DATA_TCS, six + struct.pack(">HH", tc, seq))
        return (PEN_DATA, six)

    async def _play(self, samples: Sequence[pen.Sample], batch: int = 20) -> int:
        """Send samples as pen reports; returns how many were sent (fewer if
        the cable is pulled meanwhile)."""
        self._sync_time()
        sent = 0
        period_s = 1.0 / self.identity.report_rate
        for i, s in enumerate(samples):
            out = self._out
            if out is None:
                break
            if s.touching:
                self.state.fresh = False
                self.state.ink_samples += 1
            out(*self.pen_report(s))
            self._pen_at = (s.x, s.y) if s.rdy else None
            sent += 1
            self.reports_sent += 1
            if (i + 1) % batch == 0:
                if self.pace:
                    await self.clock.sleep(batch * period_s)
                else:
                    await asyncio.sleep(0.001)    # let the host drain the line
        return sent

    async def _wait_for(self, cond: Callable[[], bool], timeout: float, what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not cond():
            left = deadline - loop.time()
            if left <= 0:
                raise DeviceTimeout(f"simulated signer: {what} within {timeout:.1f} s")
            event = self._changed
            try:
                await asyncio.wait_for(event.wait(), left)
            except (asyncio.TimeoutError, TimeoutError):
                pass

    # -- backdoor actions --------------------------------------------------------
    @action
    async def wait_for_capture(self, timeout: float = 5.0) -> None:
        """Wait (≤ ``timeout`` real s) until the host has put the pad in
        capture mode (inking on after a ClearScreen); raises DeviceTimeout."""
        await self._wait_for(lambda: self.capture_ready, timeout, "host did not start a capture")

    @action
    async def sign(self, name: str = "", strokes: list | None = None, confirm: bool = True,
                   timeout: float = 5.0, stop_after: int | None = None) -> int:
        """Wait (≤ ``timeout`` real s) until the host put the pad in capture
        mode, stream a signature (``strokes`` as lists of (x, y[, p]) tablet
        points at 200 Hz, else one generated from ``name``), then tap OK if
        ``confirm``. ``stop_after`` = stop after that many reports with the
        pen still down (to pull the cable mid-stroke). Returns the number of
        pen reports written. Raises DeviceTimeout if the host never starts a
        capture."""
        await self.wait_for_capture(timeout)
        ident = self.identity
        if strokes is None:
            plan = pen.signature_strokes(name, ident.tablet_max_x, ident.tablet_max_y,
                                         ident.tablet_max_pressure)
        else:
            plan = pen.normalise(strokes, ident.tablet_max_x, ident.tablet_max_y,
                                 ident.tablet_max_pressure)
        samples = pen.samples_for(plan, self._pen_at, lift_last=stop_after is None)
        if stop_after is not None:
            samples = samples[:stop_after]
            return await self._play(samples)
        sent = await self._play(samples)
        if confirm:
            sent += await self._play(self._tap_plan("ok"))
        elif plan:
            sent += await self._play([pen.Sample(*(self._pen_at or plan[-1][-1][:2]), 0, False, False)])
        return sent

    def _tap_plan(self, button: str) -> list[pen.Sample]:
        return pen.tap_samples(self.identity.button_centre(button),
                               self.identity.tablet_max_pressure // 2, self._pen_at)

    @action
    async def tap(self, button: str = "ok", timeout: float = 5.0) -> int:
        """Tap the host-drawn ``ok`` / ``clear`` / ``cancel`` box once inking
        is on (≤ ``timeout`` real s). Returns pen reports written."""
        if button not in ("ok", "clear", "cancel"):
            raise ValueError(f"no button {button!r}; use ok, clear or cancel")
        await self._wait_for(lambda: self.connected and self.state.inking, timeout,
                             "inking not switched on")
        return await self._play(self._tap_plan(button))

    @action
    async def cancel(self, timeout: float = 5.0) -> int:
        """Tap the Cancel box."""
        return await self.tap("cancel", timeout)

    @action
    def reject_next(self, code: str = "WrongState", count: int = 1) -> None:
        """Answer the next ``count`` set reports with result ``code``."""
        if code not in RESULTS:
            raise ValueError(f"unknown result code {code!r}; known: {', '.join(RESULTS)}")
        self.state.reject.extend([RESULTS[code]] * count)

    @action
    async def unplug(self) -> None:
        """Pull the cable (the pty disappears; pad state is lost)."""
        if self.unplug_hook is None:
            raise RuntimeError("pad model is not attached to an endpoint")
        await self.unplug_hook()

    @action
    async def replug(self) -> None:
        """Plug the cable back in (pad powers up again)."""
        if self.replug_hook is None:
            raise RuntimeError("pad model is not attached to an endpoint")
        await self.replug_hook()

    def snapshot(self) -> dict[str, Any]:
        st = self.state
        return {"connected": self.connected, "model": self.identity.model_name,
                "uid2": self.identity.uid2.hex().upper(), "status": st.status,
                "last_result": st.last_result, "inking": st.inking,
                "option_mode": st.option_mode, "screen_fresh": st.fresh,
                "ink_samples": st.ink_samples, "clears": st.clears,
                "capture_ready": self.capture_ready, "reports_sent": self.reports_sent,
                "corrupted_frames": self.corrupted_frames}
