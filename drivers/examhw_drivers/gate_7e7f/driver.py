"""Turnstile driver for DS205A-style gate boards ("7E/7F" RS485 protocol,
docs/protocols/gate-7e7f.md).

Master/slave: one request at a time, one reply per request, a per-request
timeout (``reply_timeout_s``, real seconds) and one retry after a timeout or a
garbled reply. Replies from another machine number are ignored.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from examhw.errors import (CapabilityNotSupported, ChecksumError, ConfigError, DeviceError, DeviceFault,
                           DeviceTimeout, DeviceUnavailable, ProtocolError)
from examhw.kinds import DeviceInfo, DriverContext
from examhw.kinds.turnstile import Direction, GateMode, PassageResult, Turnstile, TurnstileStatus
from examhw.transports.serial import open_serial
from examhw.transports.stream import ByteStream
from examhw.urls import DeviceURL

from . import codec
from .codec import Cmd, GateState, Reply

log = logging.getLogger("examhw.drivers.gate_7e7f")

LEFT, RIGHT = "left", "right"


@dataclass(frozen=True)
class GateStatus(TurnstileStatus):
    """:class:`TurnstileStatus` plus what this board reports besides.

    ``state`` is the gate state name (``closed``, ``open_left``, …,
    ``unknown(0xN)``), ``open_in``/``open_out`` whether passage is possible
    that way, ``forbidden`` the restricted directions, ``supply_v`` volts,
    ``ir`` the raw infrared byte, ``result`` the command result byte.
    """

    state: str = "closed"
    open_in: bool = False
    open_out: bool = False
    forbidden: frozenset[Direction] = field(default_factory=frozenset)
    supply_v: float = 0.0
    ir: int = 0
    result: int = codec.RESULT_OK
    firmware: int = 0


@dataclass
class _Authorisation:
    base_count: int       # counter value when authorised
    passes: int           # passes authorised since then
    base_alarm: int       # alarm byte right after authorising


class Gate7E7F(Turnstile):
    """DS205A-style gate board on a serial line (``serial:///dev/ttyUSB0?baud=9600``).

    Options: ``address`` machine number (1-255, default 1); ``baud``
    (default 9600; ``?baud=`` in the URL wins); ``poll_s`` status poll period
    while waiting for a passage (real s, default 0.05); ``in_direction``
    board side of :attr:`Direction.IN` (``left`` default, or ``right``);
    ``reply_timeout_s`` per-request timeout (real s, default 0.3).
    """

    capabilities = frozenset({"events", "counters", "emergency", "alarm"})

    def __init__(self, role: str, url: DeviceURL, options: Mapping[str, Any] | None = None,
                 ctx: DriverContext | None = None) -> None:
        super().__init__(role, url, options, ctx)
        opts = self.options
        try:
            self._address = int(opts.get("address", 1))
            self._baud = int(opts.get("baud", 9600))
            self._poll_s = float(opts.get("poll_s", 0.05))
            self._reply_timeout = float(opts.get("reply_timeout_s", 0.3))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"bad gate option: {exc}", role=role, key="options") from None
        if not 1 <= self._address <= 255:
            raise ConfigError("must be 1-255", role=role, key="options.address")
        if self._poll_s <= 0 or self._reply_timeout <= 0:
            raise ConfigError("poll_s and reply_timeout_s must be > 0", role=role, key="options")
        in_side = str(opts.get("in_direction", LEFT)).lower()
        if in_side not in (LEFT, RIGHT):
            raise ConfigError("must be 'left' or 'right'", role=role, key="options.in_direction")
        self._side = {Direction.IN: in_side, Direction.OUT: RIGHT if in_side == LEFT else LEFT}
        self._direction = {v: k for k, v in self._side.items()}
        self._stream: ByteStream | None = None
        self._decoder = codec.ReplyDecoder()
        self._tags = itertools.cycle(range(1, 256))
        self._pending: dict[Direction, _Authorisation] = {}
        self._last: Reply | None = None
        self.last_reply: Reply | None = None

    # -- lifecycle ---------------------------------------------------------
    async def _open(self) -> None:
        self._stream = await open_serial(self.url, baudrate=self._baud)
        self._decoder.reset()
        try:
            reply = await self._exchange(Cmd.STATUS)
        except BaseException:
            await self._close()
            raise
        self.info = DeviceInfo(vendor="", model="DS205A-compatible gate board",
                               serial=f"machine {self._address}", firmware=f"0x{reply.firmware:02X}")

    async def _close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.close()

    async def _probe(self) -> str:
        reply = await self._exchange(Cmd.STATUS)
        st = self._decode(reply)
        return f"state={st.state} in={st.count_in} out={st.count_out} supply={st.supply_v} V"

    # -- request / reply -----------------------------------------------------
    async def _exchange(self, cmd: int, d0: int = 0, d1: int = 0, d2: int = 0) -> Reply:
        """Send one request and return the board's reply (any result code).

        One retry after :class:`DeviceTimeout` or :class:`ChecksumError`.
        Raises those after the retry, :class:`ProtocolError` when only
        another machine number answered, :class:`DeviceUnavailable` when the
        port is gone.
        """
        frame = codec.encode_request(self._address, int(cmd), d0, d1, d2)
        async with self._lock:
            error: Exception | None = None
            for attempt in (1, 2):
                stream = self._stream
                if stream is None:
                    raise DeviceUnavailable("gate port is not open", role=self.role)
                try:
                    reply = await self._transact(stream, frame)
                except (DeviceTimeout, ChecksumError) as exc:
                    log.info("%s: gate cmd 0x%02X attempt %d failed: %s", self.role, int(cmd), attempt, exc)
                    error = exc
                    continue
                self._observe(reply)
                return reply
            assert error is not None
            if isinstance(error, ChecksumError):
                raise ChecksumError(f"garbled reply to cmd 0x{int(cmd):02X} twice: {error}", role=self.role)
            raise DeviceTimeout(f"no reply to cmd 0x{int(cmd):02X} after retry: {error}", role=self.role)

    async def _transact(self, stream: ByteStream, frame: bytes) -> Reply:
        stream.discard_input()           # a late reply to an earlier request is never ours
        self._decoder.reset()
        await stream.write(frame)
        deadline = time.monotonic() + self._reply_timeout
        foreign: set[int] = set()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                data = await stream.read_some(left)
            except DeviceTimeout:
                break
            for reply in self._decoder.feed(data):
                if reply.address == self._address:
                    return reply
                foreign.add(reply.address)
        if foreign:
            raise ProtocolError(f"replies came from machine {sorted(foreign)}, expected {self._address}",
                                role=self.role)
        raise DeviceTimeout(f"no reply within {self._reply_timeout:.3f} s")

    async def _command(self, cmd: int, d0: int = 0, d1: int = 0, d2: int = 0, *,
                       extension: bool = False) -> Reply:
        """One request through :meth:`_call`; a result other than 0x55 raises
        :class:`DeviceFault` (``code`` = result byte), or
        :class:`CapabilityNotSupported` for 0x02 on an examhw extension."""
        reply = await self._call(self._exchange(cmd, d0, d1, d2),
                                 timeout=max(self.timeout_s, 2.5 * self._reply_timeout))
        if not reply.ok:
            name = codec.RESULT_NAMES.get(reply.result, "unknown result")
            if extension and reply.result == 0x02:
                raise CapabilityNotSupported(f"board does not know extension command 0x{int(cmd):02X}",
                                             role=self.role)
            detail = name
            faults = codec.bit_names(reply.fault, codec.FAULT_BITS)
            if faults:
                detail += f"; faults: {', '.join(sorted(faults))}"
            if codec.gate_state(reply.gate) == GateState.EMERGENCY:
                detail += "; emergency free-open active"
            raise DeviceFault(f"gate command 0x{int(cmd):02X} not executed: {detail}",
                              code=reply.result, role=self.role)
        return reply

    # -- decoding and events ---------------------------------------------------
    def _decode(self, reply: Reply) -> GateStatus:
        state = codec.gate_state(reply.gate)
        left_open, right_open = codec.open_sides(state)
        opened = {LEFT: left_open, RIGHT: right_open}
        forbidden = set()
        if reply.gate & codec.GATE_FORBID_LEFT:
            forbidden.add(self._direction[LEFT])
        if reply.gate & codec.GATE_FORBID_RIGHT:
            forbidden.add(self._direction[RIGHT])
        if state == GateState.EMERGENCY:
            mode = GateMode.EMERGENCY
        elif len(forbidden) == 2:
            mode = GateMode.LOCKED
        elif state == GateState.HELD_BOTH:
            mode = GateMode.FREE
        else:
            mode = GateMode.NORMAL
        open_in, open_out = opened[self._side[Direction.IN]], opened[self._side[Direction.OUT]]
        open_direction = (Direction.IN if open_in and not open_out
                          else Direction.OUT if open_out and not open_in else None)
        counts = {LEFT: reply.count_left, RIGHT: reply.count_right}
        return GateStatus(
            mode=mode, open_direction=open_direction,
            count_in=counts[self._side[Direction.IN]], count_out=counts[self._side[Direction.OUT]],
            alarms=codec.bit_names(reply.alarm, codec.ALARM_BITS),
            faults=codec.bit_names(reply.fault, codec.FAULT_BITS), raw=reply.raw,
            state=state.name.lower() if state is not None else f"unknown(0x{reply.gate & 0x0F:X})",
            open_in=open_in, open_out=open_out, forbidden=frozenset(forbidden),
            supply_v=reply.supply_v, ir=reply.ir, result=reply.result, firmware=reply.firmware)

    def _observe(self, reply: Reply) -> None:
        """Emit edge events (alarms, faults, emergency) for a new reply."""
        prev, self._last = self._last, reply
        self.last_reply = reply
        before_alarm = prev.alarm if prev else 0
        before_fault = prev.fault if prev else 0
        was_emergency = prev is not None and codec.gate_state(prev.gate) == GateState.EMERGENCY
        new_alarm = reply.alarm & ~before_alarm
        direction = next(iter(self._pending), None)
        dir_value = direction.value if direction else None
        if new_alarm & codec.ALARM_TAILGATING:
            self.events.emit("tailgating", direction=dir_value)
        for bit, kind in ((codec.ALARM_REVERSE, "reverse"), (codec.ALARM_FORCED, "forced"),
                          (codec.ALARM_CLIMB, "climb")):
            if new_alarm & bit:
                self.events.emit("intrusion", kind=kind, direction=dir_value)
        if new_alarm & codec.ALARM_PINCH:
            self.events.emit("pinch")
        new_fault = reply.fault & ~before_fault
        if new_fault:
            self.events.emit("fault", faults=sorted(codec.bit_names(new_fault, codec.FAULT_BITS)),
                             code=reply.fault)
        elif before_fault and not reply.fault:
            self.events.emit("fault_cleared")
        is_emergency = codec.gate_state(reply.gate) == GateState.EMERGENCY
        if is_emergency and not was_emergency:
            self.events.emit("emergency_open", active=True)
        elif was_emergency and not is_emergency:
            self.events.emit("emergency_cleared")

    def _next_tag(self) -> int:
        return next(self._tags)

    # -- Turnstile API -----------------------------------------------------------
    async def open_for(self, direction: Direction, passes: int = 1) -> None:
        """Authorise ``passes`` (1-255) passages in ``direction``.

        Raises :class:`ValueError` for a bad count, :class:`DeviceFault`
        (code 0x04 in emergency or for a forbidden direction, 0x01 on a motor
        fault), :class:`DeviceTimeout`, :class:`DeviceUnavailable`.
        """
        direction = Direction(direction)
        if not 1 <= passes <= 255:
            raise ValueError(f"passes must be 1-255, not {passes}")
        side = self._side[direction]
        cmd = Cmd.OPEN_LEFT if side == LEFT else Cmd.OPEN_RIGHT
        reply = await self._command(cmd, passes, 0, self._next_tag())
        count = reply.count_left if side == LEFT else reply.count_right
        pending = self._pending.get(direction)
        if pending is None:
            self._pending[direction] = _Authorisation(count, passes, reply.alarm)
        else:
            pending.passes += passes
            pending.base_alarm = reply.alarm

    async def wait_passage(self, direction: Direction, *, timeout: float) -> PassageResult:
        """Poll the board every ``poll_s`` until the authorised passage in
        ``direction`` ends, or ``timeout`` real seconds pass.

        PASSED when the direction's counter rose by the authorised passes,
        TAILGATE / REVERSED on those alarms, TIMEOUT when the flaps close
        without the passage or at the deadline (then the still-open flaps are
        closed with 0x84 so nobody passes unrecorded). Emits ``passage_done`` or
        ``passage_timeout``. Raises :class:`DeviceTimeout` /
        :class:`DeviceUnavailable` when the board stops answering.
        """
        direction = Direction(direction)
        side = self._side[direction]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        auth = self._pending.get(direction)
        if auth is None:
            first = await self._command(Cmd.STATUS)
            auth = _Authorisation(first.count_left if side == LEFT else first.count_right, 1, first.alarm)
            self._pending[direction] = auth
        try:
            while True:
                reply = await self._command(Cmd.STATUS)
                result = self._judge(reply, side, auth)
                if result is not None:
                    break
                left = deadline - loop.time()
                if left <= 0:
                    result = PassageResult.TIMEOUT
                    await self._revoke(reply, side)
                    break
                await asyncio.sleep(min(self._poll_s, left))
        finally:
            self._pending.pop(direction, None)
        count = reply.count_left if side == LEFT else reply.count_right
        if result == PassageResult.PASSED:
            self.events.emit("passage_done", direction=direction.value,
                             count=codec.counter_delta(auth.base_count, count), total=count)
        elif result == PassageResult.TIMEOUT:
            self.events.emit("passage_timeout", direction=direction.value)
        return result

    async def _revoke(self, reply: Reply, side: str) -> None:
        """Our deadline passed while the board still holds the flaps open for
        this authorisation: close them, so nobody passes unrecorded."""
        state = codec.gate_state(reply.gate)
        still_open = ((GateState.OPENING_LEFT, GateState.OPEN_LEFT) if side == LEFT
                      else (GateState.OPENING_RIGHT, GateState.OPEN_RIGHT))
        if state in still_open:
            try:
                await self._command(Cmd.CLOSE)
            except DeviceError as exc:
                log.warning("%s: could not close the gate after a passage timeout: %s", self.role, exc)

    @staticmethod
    def _judge(reply: Reply, side: str, auth: _Authorisation) -> PassageResult | None:
        new_alarm = reply.alarm & ~auth.base_alarm
        if new_alarm & codec.ALARM_REVERSE:
            return PassageResult.REVERSED
        if new_alarm & codec.ALARM_TAILGATING:
            return PassageResult.TAILGATE
        count = reply.count_left if side == LEFT else reply.count_right
        if codec.counter_delta(auth.base_count, count) >= auth.passes:
            return PassageResult.PASSED
        state = codec.gate_state(reply.gate)
        if state in (GateState.CLOSED, GateState.CLOSING):
            return PassageResult.TIMEOUT
        return None

    async def alarm(self, seconds: float = 3.0) -> None:
        """Sound the board buzzer for ``seconds`` (0.1-6553.5 s); the gate
        stays as it is (shut for a refused candidate, R-DEV-GATE).

        Uses the examhw extension command 0xA1; raises
        :class:`CapabilityNotSupported` if the board does not know it,
        :class:`DeviceFault` if it refuses.
        """
        tenths = max(1, min(0xFFFF, round(seconds * 10)))
        await self._command(Cmd.SOUND_ALARM, tenths >> 8, tenths & 0xFF, self._next_tag(), extension=True)

    async def set_mode(self, mode: GateMode) -> None:
        """NORMAL: close and clear restrictions (releasing a commanded
        emergency first); LOCKED: close and forbid both ways; FREE: hold open
        both ways; EMERGENCY: free-open both ways (R-OPS-EMERGENCY).

        While the board's fire input holds the emergency, every other mode is
        refused: :class:`DeviceFault` with code 0x04.
        """
        mode = GateMode(mode)
        if mode == GateMode.EMERGENCY:
            await self._command(Cmd.EMERGENCY, 0x01, extension=True)
            self._pending.clear()
            return
        current = await self._command(Cmd.STATUS)
        if codec.gate_state(current.gate) == GateState.EMERGENCY:
            await self._command(Cmd.EMERGENCY, 0x00, extension=True)
        self._pending.clear()
        if mode == GateMode.NORMAL:
            await self._command(Cmd.CLOSE)
            await self._command(Cmd.CLEAR_RESTRICTIONS)
        elif mode == GateMode.LOCKED:
            await self._command(Cmd.CLOSE)
            await self._command(Cmd.FORBID_LEFT)
            await self._command(Cmd.FORBID_RIGHT)
        elif mode == GateMode.FREE:
            await self._command(Cmd.CLEAR_RESTRICTIONS)
            await self._command(Cmd.HOLD_LEFT, 0x01)
            await self._command(Cmd.HOLD_RIGHT, 0x01)

    async def status(self) -> GateStatus:
        """Poll the board (command 0x10) and decode its reply."""
        return self._decode(await self._command(Cmd.STATUS))

    # -- board extras --------------------------------------------------------------
    async def reset_counter(self, direction: Direction) -> None:
        """Zero the cumulative counter of ``direction`` (0x20/0x21)."""
        side = self._side[Direction(direction)]
        await self._command(Cmd.RESET_LEFT if side == LEFT else Cmd.RESET_RIGHT)

    async def set_wait_time(self, seconds: int) -> None:
        """Set the board's passage wait time (parameter 3, 1-255 s)."""
        if not 1 <= seconds <= 255:
            raise ValueError("wait time must be 1-255 s")
        await self._command(Cmd.SET_PARAM, 3, seconds)

    async def restart(self) -> None:
        """Restart the board (0x35 with key 0x60)."""
        self._pending.clear()
        await self._command(Cmd.RESTART, codec.RESTART_KEY)
