"""Signature pad driver: Wacom-STU-style reports over the STU serial framing.

Protocol: docs/protocols/stu-serial.md. One background reader task decodes
frames; replies go to the one outstanding request, pen reports to the
capture queue. A lost port ends a capture with :class:`DeviceUnavailable`
and its partial signature is discarded (BR-28).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Mapping

from examhw.errors import (ChecksumError, DeviceFault, DeviceTimeout, DeviceUnavailable,
                           FrameError, ProtocolError)
from examhw.kinds import DeviceInfo, DriverContext
from examhw.kinds.signature_pad import Signature, SignaturePad
from examhw.transports.serial import open_serial
from examhw.transports.stream import ByteStream
from examhw.urls import DeviceURL

from . import reports as R
from .codec import Frame, FrameDecoder, encode
from .hotspots import CANCEL, CLEAR, OK, ButtonLayout
from .render import render_png
from .strokes import StrokeTracker, bbox

log = logging.getLogger("examhw.drivers.stu_serial")

#: our default line speed (the real pad default is unverified, see the protocol doc)
DEFAULT_BAUD = 115200
#: attempts for one request when frames arrive corrupted
MAX_ATTEMPTS = 3


class _Resend:
    """Marker: the request must be sent again (corrupted frame seen)."""


_RESEND = _Resend()


@dataclass
class _Pending:
    """The one outstanding request: what reply it waits for."""

    report_id: int          # the report set, or the report asked for by GetReport
    is_get: bool
    future: "asyncio.Future[Frame | _Resend]"

    def offer(self, frame: Frame) -> bool:
        if self.future.done():
            return False
        if frame.report_id == R.ReportId.SET_RESULT and len(frame.payload) == 2:
            rid, code = frame.payload[0], frame.payload[1]
            if rid == 0x00 and code == R.RESULT_CRC:
                self.future.set_result(_RESEND)
                return True
            if rid == self.report_id:
                self.future.set_result(frame)
                return True
            return False
        if self.is_get and frame.report_id == self.report_id:
            self.future.set_result(frame)
            return True
        return False


class StuSerialPad(SignaturePad):
    """Wacom-STU-style pad on a serial port (``serial:///dev/ttyUSB0?baud=N``).

    Options: ``baud`` (int, default 115200), ``timeout_s`` (per request,
    real seconds). After :meth:`open`: ``self.info`` (model, Uid2 serial,
    firmware), ``self.capability`` (tablet/screen geometry), ``self.layout``
    (OK/Clear/Cancel hotspots).
    """

    capabilities = frozenset({"events", "pressure", "timing"})

    def __init__(self, role: str, url: DeviceURL, options: Mapping[str, Any] | None = None,
                 ctx: DriverContext | None = None) -> None:
        super().__init__(role, url, options, ctx)
        self.baud = int(self.options.get("baud", DEFAULT_BAUD))
        self._stream: ByteStream | None = None
        self._decoder = FrameDecoder()
        self._reader: asyncio.Task[None] | None = None
        self._pending: _Pending | None = None
        self._req_lock = asyncio.Lock()
        self._capture_lock = asyncio.Lock()
        self._pen: asyncio.Queue[R.PenSample | DeviceUnavailable] = asyncio.Queue()
        self._capturing = False
        self._pen_before_reply = 0
        self._lost: DeviceUnavailable | None = None
        self.capability: R.Capability | None = None
        self.information: R.Information | None = None
        self.uid2 = ""
        self.layout: ButtonLayout | None = None
        #: corrupted frames seen (CRC / framing), for diagnostics
        self.protocol_errors = 0

    # -- lifecycle -------------------------------------------------------------
    async def _open(self) -> None:
        self._lost = None
        self._decoder = FrameDecoder()
        self._stream = await open_serial(self.url, baudrate=self.baud)
        self._reader = asyncio.get_running_loop().create_task(self._read_loop(self._stream))
        try:
            info = R.decode_information((await self._get(R.ReportId.INFORMATION)).payload)
            cap = R.decode_capability((await self._get(R.ReportId.CAPABILITY)).payload)
            uid = R.decode_uid2((await self._get(R.ReportId.UID2)).payload)
            await self._set(*R.inking_mode(False))
        except BaseException:
            await self._close()
            raise
        self.information, self.capability, self.uid2 = info, cap, uid
        self.layout = ButtonLayout(cap.screen_width, cap.screen_height,
                                   cap.tablet_max_x, cap.tablet_max_y)
        self.info = DeviceInfo(vendor="Wacom" if info.model.upper().startswith("STU") else "",
                               model=info.model, serial=uid, firmware=info.firmware)

    async def _close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            try:
                await reader
            except asyncio.CancelledError:
                pass
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.close()
        if self._pending is not None and not self._pending.future.done():
            self._pending.future.set_exception(DeviceUnavailable("port closed", role=self.role))

    async def _probe(self) -> str:
        st = R.decode_status((await self._get(R.ReportId.STATUS)).payload)
        return f"{st.status_name}, last result {R.result_name(st.last_result)}"

    @property
    def device_id(self) -> str:
        """``<model>:<Uid2 hex>`` (empty before open)."""
        return f"{self.info.model}:{self.uid2}" if self.uid2 else ""

    # -- reader ----------------------------------------------------------------
    async def _read_loop(self, stream: ByteStream) -> None:
        while True:
            try:
                data = await stream.read_some(3600.0)
            except DeviceTimeout:
                continue
            except DeviceUnavailable as exc:
                self._on_lost(exc)
                return
            for item in self._decoder.feed(data):
                if isinstance(item, ProtocolError):
                    self.protocol_errors += 1
                    log.debug("%s: corrupted frame dropped: %s", self.role, item)
                    if self._pending is not None and not self._pending.future.done():
                        self._pending.future.set_result(_RESEND)
                else:
                    self._dispatch(item)

    def _dispatch(self, frame: Frame) -> None:
        if frame.report_id in (R.ReportId.PEN_DATA, R.ReportId.PEN_DATA_TIME_COUNT_SEQUENCE):
            if not self._capturing:
                return
            try:
                self._pen.put_nowait(R.decode_pen(frame.report_id, frame.payload))
            except FrameError as exc:
                self.protocol_errors += 1
                log.debug("%s: bad pen report: %s", self.role, exc)
            return
        if self._pending is not None and self._pending.offer(frame):
            # pen reports queued before this reply left the pad before it
            self._pen_before_reply = self._pen.qsize()
            return
        log.debug("%s: unsolicited report 0x%02X dropped", self.role, frame.report_id)

    def _on_lost(self, exc: DeviceUnavailable) -> None:
        lost = DeviceUnavailable(f"pad lost: {exc}", role=self.role)
        self._lost = lost
        if self._pending is not None and not self._pending.future.done():
            self._pending.future.set_exception(lost)
        if self._capturing:
            self._pen.put_nowait(lost)
        self._mark_lost(str(exc))

    # -- requests --------------------------------------------------------------
    async def _transact(self, report_id: int, payload: bytes, *, want: int, is_get: bool) -> Frame:
        async with self._req_lock:
            for _attempt in range(MAX_ATTEMPTS):
                if self._lost is not None:
                    raise self._lost
                stream = self._stream
                if stream is None:
                    raise DeviceUnavailable("port not open", role=self.role)
                fut: asyncio.Future[Frame | _Resend] = asyncio.get_running_loop().create_future()
                self._pending = _Pending(want, is_get, fut)
                try:
                    await stream.write(encode(report_id, payload))
                    got = await fut
                finally:
                    self._pending = None
                if isinstance(got, Frame):
                    return got
                log.debug("%s: resending report 0x%02X after a corrupted frame", self.role, report_id)
            raise ChecksumError(f"report 0x{report_id:02X}: corrupted frames on {MAX_ATTEMPTS} attempts",
                                role=self.role)

    async def _request(self, report_id: int, payload: bytes, *, want: int, is_get: bool) -> Frame:
        try:
            return await asyncio.wait_for(
                self._transact(report_id, payload, want=want, is_get=is_get), self.timeout_s)
        except (asyncio.TimeoutError, TimeoutError):
            raise DeviceTimeout(f"no reply to report 0x{report_id:02X} within {self.timeout_s:.2f} s",
                                role=self.role) from None

    async def _get(self, report_id: int) -> Frame:
        """GetReport; raises :class:`DeviceFault` if the pad refuses."""
        frame = await self._request(*R.get_report(report_id), want=report_id, is_get=True)
        if frame.report_id == R.ReportId.SET_RESULT:
            res = R.decode_set_result(frame.payload)
            raise DeviceFault(f"get report 0x{report_id:02X} refused", code=res.name, role=self.role)
        return frame

    async def _set(self, report_id: int, payload: bytes) -> None:
        """Set a report; raises :class:`DeviceFault` with the result name
        (e.g. ``"WrongState"``) unless the pad answers success."""
        frame = await self._request(report_id, payload, want=report_id, is_get=False)
        res = R.decode_set_result(frame.payload)
        if not res.ok:
            raise DeviceFault(f"set report 0x{report_id:02X} refused", code=res.name, role=self.role)

    # -- public API ------------------------------------------------------------
    async def clear(self) -> None:
        """Clear the pad screen. Raises DeviceTimeout / DeviceUnavailable /
        DeviceFault."""
        await self._call(self._set(*R.clear_screen()))

    async def status(self) -> R.Status:
        """The pad's Status report."""
        frame = await self._call(self._get(R.ReportId.STATUS))
        return R.decode_status(frame.payload)

    async def capture(self, prompt: str = "", *, timeout: float) -> Signature:
        """Capture one signature (see :class:`SignaturePad`). ``timeout`` is
        in real seconds until the signer taps OK. Raises
        :class:`DeviceTimeout`, :class:`DeviceFault` (``cancelled``,
        ``empty``, or a pad result name), :class:`DeviceUnavailable`."""
        return await self._call(self._capture(prompt, timeout), timeout=timeout + 4 * self.timeout_s)

    async def _capture(self, prompt: str, timeout: float) -> Signature:
        async with self._capture_lock:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while not self._pen.empty():
                self._pen.get_nowait()
            cap = self.capability
            if self.layout is None or cap is None:
                raise DeviceUnavailable("pad not identified; open() first", role=self.role)
            tracker = StrokeTracker(self.layout, period_ms=max(1, 1000 // max(1, cap.max_report_rate)))
            self._capturing = True
            try:
                await self._set(*R.pen_data_option_mode(R.PenDataOption.TIME_COUNT_SEQUENCE))
                await self._set(*R.clear_screen())
                await self._set(*R.inking_mode(True))
                self.events.emit("capture_started", prompt=prompt)
                while True:
                    left = deadline - loop.time()
                    if left <= 0:
                        await self._stop_inking_quietly()
                        self.events.emit("signature_timeout", points=tracker.point_count)
                        raise DeviceTimeout(f"signature not confirmed within {timeout:.1f} s", role=self.role)
                    try:
                        item = await asyncio.wait_for(self._pen.get(), left)
                    except (asyncio.TimeoutError, TimeoutError):
                        continue
                    if isinstance(item, DeviceUnavailable):
                        self.events.emit("aborted", reason=str(item), points=tracker.point_count)
                        tracker.reset()          # BR-28: never keep a half signature
                        raise item
                    for name, data in tracker.add(item):
                        if name != "button":
                            self.events.emit(name, **data)
                            continue
                        button = data["button"]
                        self.events.emit("button", button=button)
                        if button == CLEAR:
                            await self._set(*R.clear_screen())
                            tracker.reset()
                            # drop pen reports the pad sent before it cleared
                            for _ in range(min(self._pen_before_reply, self._pen.qsize())):
                                stale = self._pen.get_nowait()
                                if isinstance(stale, DeviceUnavailable):
                                    raise stale
                            self.events.emit("cleared")
                        elif button == CANCEL:
                            await self._set(*R.inking_mode(False))
                            self.events.emit("cancelled", points=tracker.point_count)
                            raise DeviceFault("signer cancelled", code="cancelled", role=self.role)
                        elif button == OK:
                            await self._set(*R.inking_mode(False))
                            if not tracker.strokes:
                                self.events.emit("signature_empty")
                                raise DeviceFault("OK tapped with no ink", code="empty", role=self.role)
                            return self._finish(tracker, prompt)
            finally:
                self._capturing = False

    def _finish(self, tracker: StrokeTracker, prompt: str) -> Signature:
        cap = self.capability
        if cap is None:
            raise DeviceUnavailable("pad not identified", role=self.role)
        strokes = tuple(tracker.strokes)
        png = render_png(strokes, cap.tablet_max_x, cap.tablet_max_y, cap.tablet_max_pressure)
        sig = Signature(strokes=strokes, png=png, device_id=self.device_id,
                        max_x=cap.tablet_max_x, max_y=cap.tablet_max_y,
                        max_pressure=cap.tablet_max_pressure)
        self.events.emit("completed", point_count=sig.point_count, duration_ms=sig.duration_ms,
                         bbox=bbox(strokes), strokes=len(strokes), device_id=sig.device_id,
                         lost_reports=tracker.lost_reports, prompt=prompt)
        return sig

    async def _stop_inking_quietly(self) -> None:
        """Turn inking off after a timeout; a failure here is logged only
        (the timeout is what the caller must hear about)."""
        try:
            await self._set(*R.inking_mode(False))
        except (DeviceTimeout, DeviceFault, ProtocolError) as exc:
            log.debug("%s: inking off after timeout failed: %s", self.role, exc)
