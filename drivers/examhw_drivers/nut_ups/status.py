"""``ups.status`` flag strings → flag set, power source and severity
(docs/protocols/nut.md §5, bug case BR-21).

The string is a set of space-separated tokens in any order; it is never
compared as a whole. Unknown tokens are kept.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from examhw.kinds.ups import PowerSource

#: tokens defined by NUT (docs/new-drivers.txt) plus ``WAIT`` set by upsd.
KNOWN_TOKENS = frozenset({
    "OL", "OB", "LB", "HB", "RB", "CHRG", "DISCHRG", "BYPASS", "CAL", "OFF", "OVER",
    "TRIM", "BOOST", "FSD", "ALARM", "WAIT",
})
#: flags the driver itself adds (never sent by upsd).
DRIVER_FLAGS = frozenset({"STALE", "DRIVER_DOWN", "FROZEN"})

_CRITICAL = frozenset({"LB", "FSD"})
_WARNING = frozenset({"RB", "OVER", "ALARM", "OFF", "BYPASS"}) | DRIVER_FLAGS
_NOTICE = frozenset({"TRIM", "BOOST", "CAL", "HB"})


class Severity(enum.IntEnum):
    """How worrying a status is; higher is worse."""

    OK = 0
    NOTICE = 1
    WARNING = 2
    CRITICAL = 3


@dataclass(frozen=True)
class ParsedStatus:
    """One ``ups.status`` string, understood."""

    flags: frozenset[str]
    source: PowerSource
    severity: Severity
    unknown: frozenset[str]

    @property
    def low_battery(self) -> bool:
        """``LB`` or ``FSD`` (FSD must be treated like ``OB LB``)."""
        return bool(_CRITICAL & self.flags)

    @property
    def charging(self) -> bool:
        return "CHRG" in self.flags


def power_source(flags: frozenset[str]) -> PowerSource:
    """``OB`` → battery; ``OL`` without ``OB`` → mains; otherwise unknown.
    Driver flags (stale, driver down, frozen) always give unknown."""
    if flags & DRIVER_FLAGS:
        return PowerSource.UNKNOWN
    if "OB" in flags and "OL" in flags:
        return PowerSource.UNKNOWN          # contradiction: never claim mains
    if "OB" in flags:
        return PowerSource.BATTERY
    if "OL" in flags:
        return PowerSource.MAINS
    return PowerSource.UNKNOWN


def severity(flags: frozenset[str]) -> Severity:
    """Highest severity that applies (see the protocol doc §5)."""
    if flags & _CRITICAL:
        return Severity.CRITICAL
    source = power_source(flags)
    if source != PowerSource.MAINS or flags & _WARNING:
        return Severity.WARNING
    if flags & _NOTICE or "DISCHRG" in flags or flags - KNOWN_TOKENS:
        return Severity.NOTICE
    return Severity.OK


def parse_status(text: str | None, extra: frozenset[str] = frozenset()) -> ParsedStatus:
    """Parse ``ups.status`` (``None`` or empty → no flags, source unknown).
    ``extra`` are driver flags to add (``STALE``, ``DRIVER_DOWN``, ``FROZEN``)."""
    flags = frozenset((text or "").split()) | extra
    return ParsedStatus(flags=flags, source=power_source(flags), severity=severity(flags),
                        unknown=frozenset(flags - KNOWN_TOKENS - DRIVER_FLAGS))
