"""Behavioural model of a two-flap identity gate driven by a DS205A-style
board (docs/protocols/gate-7e7f.md §4-§5).

Time comes from the site clock (``clock.now()``, site seconds) and the model
advances lazily: every request or action first applies what the elapsed time
implies (flap strokes, the passage wait time running out). So an accelerated
clock needs no background task and tests with a hand-driven clock are exact.
Read the state through :meth:`snapshot`, the ``*_byte()`` methods or
:meth:`advance`; the plain attributes show it as of the last advance.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from examhw.clock import Clock
from examhw.sim.base import SimModel, action

from .codec import Request, build_reply

LEFT, RIGHT = "left", "right"
SIDES = (LEFT, RIGHT)

OK, FAILED, UNKNOWN_CMD, BAD_PARAM, REFUSED = 0x55, 0x01, 0x02, 0x03, 0x04

# gate status byte (assumed map)
ST_CLOSED, ST_OPENING_L, ST_OPEN_L, ST_OPENING_R, ST_OPEN_R = 0x0, 0x1, 0x2, 0x3, 0x4
ST_CLOSING, ST_HELD_L, ST_HELD_R, ST_HELD_BOTH, ST_EMERGENCY = 0x5, 0x6, 0x7, 0x8, 0x9
FLAG_FORBID = {LEFT: 0x10, RIGHT: 0x20}
STATE_NAMES = {ST_CLOSED: "closed", ST_OPENING_L: "opening_left", ST_OPEN_L: "open_left",
               ST_OPENING_R: "opening_right", ST_OPEN_R: "open_right", ST_CLOSING: "closing",
               ST_HELD_L: "held_left", ST_HELD_R: "held_right", ST_HELD_BOTH: "held_both",
               ST_EMERGENCY: "emergency"}

# alarm byte (assumed map); bits 0-4 latch, bit 5 follows the buzzer timer
ALARM = {"tailgating": 0x01, "reverse_intrusion": 0x02, "forced_entry": 0x04,
         "climb": 0x08, "pinch": 0x10}
BUZZER = 0x20
# fault byte (assumed map)
FAULT = {"motor": 0x01, "ir_sensor": 0x02, "limit": 0x04, "low_voltage": 0x08}

LOW_VOLTAGE_V = 20.0
#: tagged commands: a repeat of the last executed (cmd, tag) is not re-executed
TAGGED = (0x80, 0x82, 0xA1)
NORMAL_GATE_CMDS = range(0x80, 0x90)
PARAM_WAIT_TIME = 3


@dataclass(frozen=True)
class HistoryEntry:
    """Something that happened at the gate (site time, what, which side)."""

    at: float
    what: str
    side: str | None = None


class GateModel(SimModel):
    """Two-flap gate: per-direction authorisation queues, wait-time
    auto-close, 24-bit counters, latched alarms, faults, fire input.

    ``wait_time_s`` and ``stroke_s`` are site seconds; ``in_side`` says which
    board side ("left"/"right") is the ``"in"`` direction of the actions.
    """

    def __init__(self, clock: Clock, *, address: int = 1, firmware: int = 0x23,
                 wait_time_s: float = 8.0, stroke_s: float = 0.6, in_side: str = LEFT,
                 voltage_v: float = 24.0) -> None:
        if not 1 <= address <= 255:
            raise ValueError(f"gate address must be 1-255, not {address}")
        if in_side not in SIDES:
            raise ValueError(f"in_side must be 'left' or 'right', not {in_side!r}")
        self.clock = clock
        self.address = address
        self.firmware = firmware & 0xFF
        self.wait_time_s = float(wait_time_s)
        self.stroke_s = float(stroke_s)
        self.in_side = in_side
        self.nominal_voltage_v = float(voltage_v)
        self.voltage_v = float(voltage_v)
        self.counters = {LEFT: 0, RIGHT: 0}
        self.queue = {LEFT: 0, RIGHT: 0}
        self.waiting: list[str] = []           # sides with passes waiting for the flaps
        self.active: str | None = None         # side the flaps are open for (authorised)
        self.opened_at = 0.0
        self.deadline = 0.0
        self.closing_until = -math.inf
        self.held = {LEFT: False, RIGHT: False}
        self.forbidden = {LEFT: False, RIGHT: False}
        self.fire_input = False
        self.emergency_latch = False
        self.alarm_latched = 0
        self.buzzer_until = -math.inf
        self.faults: set[str] = set()
        self.params: dict[int, int] = {PARAM_WAIT_TIME: max(1, min(255, round(self.wait_time_s)))}
        self.last_tagged: tuple[int, int] | None = None
        self.alarms_sounded = 0
        self.timeouts = {LEFT: 0, RIGHT: 0}
        self.requests = 0
        self.ignored_requests = 0
        self.history: list[HistoryEntry] = []

    # -- derived state ----------------------------------------------------
    @property
    def emergency(self) -> bool:
        """Emergency free-open is active (fire input or commanded latch)."""
        return self.fire_input or self.emergency_latch

    def gate_byte(self) -> int:
        """Gate status byte at the current site time."""
        now = self._advance()
        if self.emergency:
            code = ST_EMERGENCY
        elif self.active is not None:
            opening = now < self.opened_at + self.stroke_s
            if self.active == LEFT:
                code = ST_OPENING_L if opening else ST_OPEN_L
            else:
                code = ST_OPENING_R if opening else ST_OPEN_R
        elif self.held[LEFT] and self.held[RIGHT]:
            code = ST_HELD_BOTH
        elif self.held[LEFT]:
            code = ST_HELD_L
        elif self.held[RIGHT]:
            code = ST_HELD_R
        elif now < self.closing_until:
            code = ST_CLOSING
        else:
            code = ST_CLOSED
        for side in SIDES:
            if self.forbidden[side]:
                code |= FLAG_FORBID[side]
        return code

    def state_name(self) -> str:
        return STATE_NAMES[self.gate_byte() & 0x0F]

    def alarm_byte(self) -> int:
        now = self._advance()
        return self.alarm_latched | (BUZZER if now < self.buzzer_until else 0)

    def fault_byte(self) -> int:
        value = 0
        for name in self.faults:
            value |= FAULT[name]
        if self.voltage_v < LOW_VOLTAGE_V:
            value |= FAULT["low_voltage"]
        return value

    def ir_byte(self) -> int:
        return 0x70 if "ir_sensor" in self.faults else 0xF0

    def voltage_byte(self) -> int:
        return max(0, min(255, round(self.voltage_v / 0.2)))

    # -- time -------------------------------------------------------------
    def advance(self) -> float:
        """Bring the state up to the clock's now (site s, returned)."""
        return self._advance()

    def _advance(self) -> float:
        """Apply the passage wait time running out; returns site now."""
        now = self.clock.now()
        while self.active is not None and now >= self.deadline:
            side, at = self.active, self.deadline
            self.queue[side] = 0
            self.timeouts[side] += 1
            self._note(at, "passage_timeout", side)
            self._stop_active(at)
            self._serve_next(at)
        return now

    def _activate(self, side: str, at: float) -> None:
        self.active = side
        self.opened_at = at
        self.deadline = at + self.wait_time_s
        if side in self.waiting:
            self.waiting.remove(side)

    def _stop_active(self, at: float) -> None:
        self.active = None
        self.closing_until = at + self.stroke_s

    def _serve_next(self, at: float) -> None:
        while self.waiting:
            side = self.waiting.pop(0)
            if self.queue[side] > 0:
                self._activate(side, at)
                return

    def _note(self, at: float, what: str, side: str | None = None) -> None:
        self.history.append(HistoryEntry(at, what, side))

    # -- protocol ---------------------------------------------------------
    def handle(self, req: Request) -> bytes | None:
        """Execute a request; the 18-byte reply, or ``None`` when the request
        is for another machine number (multi-drop bus: stay silent)."""
        if req.address != self.address:
            self.ignored_requests += 1
            return None
        self.requests += 1
        result, after = self.execute(req.cmd, req.d0, req.d1, req.d2)
        reply = self.reply(result)
        if after is not None:
            after()
        return reply

    def reply(self, result: int) -> bytes:
        """The 18-byte reply carrying the current state and ``result``."""
        return build_reply(firmware=self.firmware, address=self.address, fault=self.fault_byte(),
                           gate=self.gate_byte(), alarm=self.alarm_byte(), left=self.counters[LEFT],
                           right=self.counters[RIGHT], ir=self.ir_byte(), result=result,
                           voltage=self.voltage_byte())

    def execute(self, cmd: int, d0: int = 0, d1: int = 0, d2: int = 0
                ) -> tuple[int, Callable[[], None] | None]:
        """Run one command; returns (result byte, action to run after the
        reply is built — used by restart)."""
        now = self._advance()
        if cmd in TAGGED and d2 and self.last_tagged == (cmd, d2):
            return OK, None
        if self.emergency and cmd in NORMAL_GATE_CMDS:
            return REFUSED, None
        after: Callable[[], None] | None = None
        if cmd == 0x10:
            result = OK
        elif cmd in (0x20, 0x21):
            self.counters[LEFT if cmd == 0x20 else RIGHT] = 0
            result = OK
        elif cmd == 0x35:
            result = OK if d0 == 0x60 else BAD_PARAM
            if result == OK:
                after = self._restart
        elif cmd in (0x80, 0x82):
            result = self._open(LEFT if cmd == 0x80 else RIGHT, d0, now)
        elif cmd in (0x81, 0x83):
            result = self._hold(LEFT if cmd == 0x81 else RIGHT)
        elif cmd == 0x84:
            self._close(now)
            result = OK
        elif cmd in (0x88, 0x89):
            self._forbid(LEFT if cmd == 0x88 else RIGHT, now)
            result = OK
        elif cmd == 0x8F:
            self.forbidden = {LEFT: False, RIGHT: False}
            result = OK
        elif cmd == 0x96:
            result = self._set_param(d0, d1)
        elif cmd == 0xA0:
            result = self._emergency_cmd(d0, now)
        elif cmd == 0xA1:
            result = self._sound(d0, d1, now)
        else:
            result = UNKNOWN_CMD
        if cmd in TAGGED and d2 and result == OK:
            self.last_tagged = (cmd, d2)
        return result, after

    def _open(self, side: str, passes: int, now: float) -> int:
        if passes == 0:
            return BAD_PARAM
        if self.forbidden[side]:
            return REFUSED
        if "motor" in self.faults:
            return FAILED
        self.alarm_latched = 0
        self.queue[side] = min(255, self.queue[side] + passes)
        if self.active is None:
            self._activate(side, now)
        elif self.active == side:
            self.deadline = now + self.wait_time_s
        elif side not in self.waiting:
            self.waiting.append(side)
        self._note(now, f"authorised x{passes}", side)
        return OK

    def _hold(self, side: str) -> int:
        if self.forbidden[side]:
            return REFUSED
        if "motor" in self.faults:
            return FAILED
        self.held[side] = True
        return OK

    def _close(self, now: float) -> None:
        was_open = self.active is not None or any(self.held.values())
        self.queue = {LEFT: 0, RIGHT: 0}
        self.waiting.clear()
        self.active = None
        self.held = {LEFT: False, RIGHT: False}
        self.alarm_latched = 0
        if was_open:
            self.closing_until = now + self.stroke_s

    def _forbid(self, side: str, now: float) -> None:
        self.forbidden[side] = True
        self.held[side] = False
        self.queue[side] = 0
        if side in self.waiting:
            self.waiting.remove(side)
        if self.active == side:
            self._stop_active(now)
            self._serve_next(now)

    def _restart(self) -> None:
        self.queue = {LEFT: 0, RIGHT: 0}
        self.waiting.clear()
        self.active = None
        self.held = {LEFT: False, RIGHT: False}
        self.forbidden = {LEFT: False, RIGHT: False}
        self.alarm_latched = 0
        self.buzzer_until = -math.inf
        self.emergency_latch = False
        self.closing_until = -math.inf
        self.last_tagged = None
        self._note(self.clock.now(), "restart")

    def _set_param(self, menu: int, value: int) -> int:
        if menu == PARAM_WAIT_TIME:
            if value == 0:
                return BAD_PARAM
            self.wait_time_s = float(value)
        elif not 2 <= menu <= 37:
            return BAD_PARAM
        self.params[menu] = value
        return OK

    def _emergency_cmd(self, d0: int, now: float) -> int:
        if d0 == 0x01:
            self.emergency_latch = True
            self._enter_emergency(now, "emergency_command")
            return OK
        if d0 == 0x00:
            if self.fire_input:
                return REFUSED
            if self.emergency_latch:
                self.emergency_latch = False
                self.closing_until = now + self.stroke_s
                self._note(now, "emergency_released")
            return OK
        return BAD_PARAM

    def _enter_emergency(self, now: float, why: str) -> None:
        self.queue = {LEFT: 0, RIGHT: 0}
        self.waiting.clear()
        self.active = None
        self.held = {LEFT: False, RIGHT: False}
        self._note(now, why)

    def _sound(self, hi: int, lo: int, now: float) -> int:
        tenths = (hi << 8) | lo
        if tenths == 0:
            return BAD_PARAM
        self.buzzer_until = now + tenths / 10.0
        self.alarms_sounded += 1
        self._note(now, "buzzer")
        return OK

    # -- backdoor actions ---------------------------------------------------
    def _side(self, direction: str) -> str:
        d = direction.lower()
        if d in SIDES:
            return d
        if d == "in":
            return self.in_side
        if d == "out":
            return RIGHT if self.in_side == LEFT else LEFT
        raise ValueError(f"direction must be in/out/left/right, not {direction!r}")

    @action
    def walk_through(self, direction: str = "in", people: int = 1) -> str:
        """``people`` walk through the channel in ``direction``.

        Returns what the board made of it: ``"passed"`` (authorised, counter
        +1 per authorised person), ``"tailgating"`` (more people than passes:
        the extra ones are not counted, tailgating alarm), ``"free"`` (held
        open or emergency: all counted), ``"reverse_intrusion"`` (the gate was
        open for the other side: flaps close, authorisation dropped) or
        ``"forced_entry"`` (not authorised: alarm, counter unchanged).
        """
        if people < 1:
            raise ValueError("people must be >= 1")
        side = self._side(direction)
        now = self._advance()
        if self.emergency or (self.held[side] and not self.forbidden[side]):
            self.counters[side] = (self.counters[side] + people) & 0xFFFFFF
            self._note(now, f"free passage x{people}", side)
            return "free"
        if self.active == side and self.queue[side] > 0:
            passes = min(people, self.queue[side])
            self.counters[side] = (self.counters[side] + passes) & 0xFFFFFF
            self.queue[side] -= passes
            self._note(now, f"passed x{passes}", side)
            outcome = "passed"
            if people > passes:
                self.alarm_latched |= ALARM["tailgating"]
                self._note(now, "tailgating", side)
                outcome = "tailgating"
            if self.queue[side] == 0 or outcome == "tailgating":
                self.queue[side] = 0
                self._stop_active(now)
                self._serve_next(now)
            else:
                self.deadline = now + self.wait_time_s
            return outcome
        if self.active is not None:
            self.alarm_latched |= ALARM["reverse_intrusion"]
            self.queue[self.active] = 0
            self._note(now, "reverse_intrusion", side)
            self._stop_active(now)
            return "reverse_intrusion"
        self.alarm_latched |= ALARM["forced_entry"]
        self._note(now, "forced_entry", side)
        return "forced_entry"

    @action
    def fire_alarm(self, active: bool = True) -> None:
        """Assert or release the board's fire input (emergency free-open)."""
        now = self._advance()
        was = self.emergency
        self.fire_input = bool(active)
        if self.fire_input and not was:
            self._enter_emergency(now, "fire_alarm")
        elif was and not self.emergency:
            self.closing_until = now + self.stroke_s
            self._note(now, "fire_alarm_released")

    @action
    def inject_fault(self, name: str) -> None:
        """Set a board fault: motor, ir_sensor, limit or low_voltage."""
        if name not in FAULT:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULT)}")
        self.faults.add(name)
        if name == "low_voltage":
            self.voltage_v = min(self.voltage_v, 19.0)
        self._note(self._advance(), f"fault {name}")

    @action
    def clear_fault(self) -> None:
        """Clear every fault and restore the nominal supply voltage."""
        self.faults.clear()
        self.voltage_v = self.nominal_voltage_v
        self._note(self._advance(), "faults cleared")

    @action
    def trigger_alarm(self, name: str) -> None:
        """Latch an alarm bit directly (climb, pinch, …)."""
        if name not in ALARM:
            raise ValueError(f"unknown alarm {name!r}; known: {', '.join(ALARM)}")
        self.alarm_latched |= ALARM[name]
        self._note(self._advance(), name)

    @action
    def set_counters(self, left: int | None = None, right: int | None = None) -> None:
        """Preset the cumulative counters (e.g. near the 2^24 wrap)."""
        if left is not None:
            self.counters[LEFT] = left & 0xFFFFFF
        if right is not None:
            self.counters[RIGHT] = right & 0xFFFFFF

    @action
    def set_voltage(self, volts: float) -> None:
        """Change the supply voltage (below 20 V sets the low-voltage fault)."""
        self.voltage_v = float(volts)

    def snapshot(self) -> dict[str, Any]:
        gate = self.gate_byte()
        return {
            "state": STATE_NAMES[gate & 0x0F], "address": self.address,
            "counters": dict(self.counters), "queue": dict(self.queue), "active": self.active,
            "held": dict(self.held), "forbidden": dict(self.forbidden), "emergency": self.emergency,
            "fire_input": self.fire_input,
            "alarms": sorted(n for n, b in ALARM.items() if self.alarm_latched & b),
            "buzzer": bool(self.alarm_byte() & BUZZER), "faults": sorted(self.faults),
            "voltage_v": self.voltage_v, "wait_time_s": self.wait_time_s,
            "alarms_sounded": self.alarms_sounded, "timeouts": dict(self.timeouts),
        }
