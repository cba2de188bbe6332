"""Pure decoding for a WTMD read through a Modbus DI module
(docs/protocols/wtmd-modbus-di.md §3–§4): the register map, input polarity,
u16 counter deltas and the passage tracker. No I/O here."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

#: discrete inputs, relative to the ``di_base`` option
DI_ALARM = 0
DI_TRANSIT = 1
DI_READY = 2
DI_COUNT = 3
#: input registers, relative to the ``counter_base`` option
IR_TRANSITS = 0
IR_ALARMS = 1
IR_COUNT = 2

_U16 = 0xFFFF
#: a counter step this large (or larger) is a counter reset, not passages
_RESET_STEP = 0x8000


def counter_delta(old: int, new: int) -> int:
    """Passages between two readings of a u16 counter.

    Wraps 65535 → 0. A step of 32768 or more is taken as a counter reset
    (power cycle or manual reset): then ``new`` itself is what was counted
    since the reset.
    """
    old &= _U16
    new &= _U16
    step = (new - old) & _U16
    return new if step >= _RESET_STEP else step


@dataclass(frozen=True)
class DetectorInputs:
    """The three relay signals, decoded (True = signal active)."""

    alarm: bool
    transit: bool
    ready: bool

    @classmethod
    def from_levels(cls, levels: Sequence[bool], *, active_low: bool = False) -> "DetectorInputs":
        """Decode DI0…DI2 electrical levels; with ``active_low`` a 0 level
        means the signal is active (normally-closed contacts)."""
        if len(levels) < DI_COUNT:
            raise ValueError(f"need {DI_COUNT} input levels, got {len(levels)}")
        active = [bool(levels[i]) != active_low for i in range(DI_COUNT)]
        return cls(alarm=active[DI_ALARM], transit=active[DI_TRANSIT], ready=active[DI_READY])


@dataclass(frozen=True)
class Reading:
    """One poll: raw u16 counters and decoded inputs."""

    transits: int
    alarms: int
    inputs: DetectorInputs


@dataclass(frozen=True)
class Change:
    """What one poll found since the previous one.

    ``passages`` holds one alarm flag per new passage (oldest first);
    ``new_alarms`` is the alarm counter's step; ``alarm_edge`` is DI0 going
    from inactive to active."""

    passages: tuple[bool, ...]
    new_alarms: int
    alarm_edge: bool
    inputs: DetectorInputs

    @property
    def alarm_seen(self) -> bool:
        return self.new_alarms > 0 or self.alarm_edge


class TransitTracker:
    """Turns successive :class:`Reading` s into passages with alarm flags.

    An alarm (counter step or DI0 edge) is held until the next passage and
    given to it (never dropped: a false alarm only costs a handheld check); when one poll counts several passages after an alarm, all of
    them are flagged (the alarm cannot be attributed; fail-safe).
    ``transits`` / ``alarms`` are totals since the first reading.
    """

    def __init__(self, first: Reading) -> None:
        self._prev = first
        self._alarm_pending = False
        self.transits = 0
        self.alarms = 0

    @property
    def last(self) -> Reading:
        return self._prev

    def rebase(self, reading: Reading) -> None:
        """Take ``reading`` as the new reference without counting anything
        (after a reconnect the device may have been power-cycled)."""
        self._prev = reading

    def update(self, reading: Reading) -> Change:
        """Account for ``reading`` and return what changed."""
        prev = self._prev
        new_transits = counter_delta(prev.transits, reading.transits)
        new_alarms = counter_delta(prev.alarms, reading.alarms)
        edge = reading.inputs.alarm and not prev.inputs.alarm
        if new_alarms or edge:
            self._alarm_pending = True
        passages = (self._alarm_pending,) * new_transits
        if new_transits:
            self._alarm_pending = False
        self.transits += new_transits
        self.alarms += new_alarms
        self._prev = reading
        return Change(passages, new_alarms, edge, reading.inputs)
