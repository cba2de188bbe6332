"""Behavioural model of a walk-through metal detector whose relays feed a
Modbus digital-input module (docs/protocols/wtmd-modbus-di.md §3).

Pulse widths are device physics in **real** seconds (not scaled by an
accelerated site clock). Pulse states are computed from the time source when
read, so the model needs no timers and unit tests can drive the time.
"""
from __future__ import annotations

import time
from typing import Any, Callable

from examhw.sim import SimModel, action

#: input channels of the DI module (register map §3.1)
ALARM_INPUT = 0
TRANSIT_INPUT = 1
READY_INPUT = 2
INPUT_CHANNELS = 8
#: input registers (§3.2, our choice): passage counter, alarm counter
TRANSIT_COUNTER = 0
ALARM_COUNTER = 1
COUNTER_REGISTERS = 2
_WRAP = 1 << 16


class WtmdModel(SimModel):
    """Detector state: ready (armed) or in fault, the two u16 counters and
    the transit / alarm relay pulses.

    ``active_low`` models normally-closed contacts: an active signal reads 0.
    ``now`` is the time source (real monotonic seconds by default).
    """

    def __init__(self, *, transit_pulse_s: float = 0.1, alarm_pulse_s: float = 0.3,
                 active_low: bool = False, transits: int = 0, alarms: int = 0,
                 now: Callable[[], float] = time.monotonic) -> None:
        if transit_pulse_s <= 0 or alarm_pulse_s <= 0:
            raise ValueError("pulse widths must be > 0 s")
        self.transit_pulse_s = float(transit_pulse_s)
        self.alarm_pulse_s = float(alarm_pulse_s)
        self.active_low = bool(active_low)
        self._now = now
        self.ready = True
        self.transits = transits % _WRAP
        self.alarms = alarms % _WRAP
        self._transit_until = float("-inf")
        self._alarm_until = float("-inf")

    # -- backdoor actions ----------------------------------------------------
    @action
    def walk_through(self, metal: bool = False) -> dict[str, Any]:
        """One person passes the arch. Both counters move in this one step,
        before the pulses start, so a poller can never miss the passage.
        A detector in fault still counts the passage (photocell) but detects
        nothing. Returns whether it alarmed and the counter values."""
        now = self._now()
        alarm = bool(metal) and self.ready
        if alarm:
            self.alarms = (self.alarms + 1) % _WRAP
        self.transits = (self.transits + 1) % _WRAP
        self._transit_until = now + self.transit_pulse_s
        if alarm:
            self._alarm_until = now + self.alarm_pulse_s
        return {"alarm": alarm, "transits": self.transits, "alarms": self.alarms}

    @action
    def set_fault(self, active: bool) -> None:
        """Fault on: the ready relay drops (not armed). Off: armed again."""
        self.ready = not bool(active)
        if not self.ready:
            self._alarm_until = float("-inf")

    @action
    def reset_counters(self) -> None:
        """Front-panel counter reset: both counters to 0."""
        self.transits = 0
        self.alarms = 0

    # -- what the DI module sees ---------------------------------------------
    def signals(self) -> dict[str, bool]:
        """Active/inactive state of the three relay signals right now."""
        now = self._now()
        return {"alarm": now < self._alarm_until,
                "transit": now < self._transit_until,
                "ready": self.ready}

    def input_levels(self) -> list[bool]:
        """Electrical levels of DI0…DI7 as the module reads them."""
        sig = self.signals()
        levels = [False] * INPUT_CHANNELS
        for channel, name in ((ALARM_INPUT, "alarm"), (TRANSIT_INPUT, "transit"), (READY_INPUT, "ready")):
            levels[channel] = sig[name] != self.active_low
        return levels

    def counter_registers(self) -> list[int]:
        """Input registers 0…1: passage counter, alarm counter (u16)."""
        regs = [0] * COUNTER_REGISTERS
        regs[TRANSIT_COUNTER] = self.transits
        regs[ALARM_COUNTER] = self.alarms
        return regs

    def snapshot(self) -> dict[str, Any]:
        return {"ready": self.ready, "transits": self.transits, "alarms": self.alarms,
                "active_low": self.active_low, **{f"{k}_active": v for k, v in self.signals().items()}}
