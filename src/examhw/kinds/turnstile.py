"""Turnstile / identity gate."""
from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field

from ._base import DeviceBase, DeviceKind


class Direction(str, enum.Enum):
    IN = "in"      # into the exam room ("left" on DS205A boards, configurable)
    OUT = "out"


class PassageResult(str, enum.Enum):
    PASSED = "passed"
    TIMEOUT = "timeout"          # authorised but nobody passed; the gate closed again
    TAILGATE = "tailgate"        # a second person followed the authorised one
    REVERSED = "reversed"        # someone entered from the wrong side


class GateMode(str, enum.Enum):
    NORMAL = "normal"            # closed, opens per authorisation
    LOCKED = "locked"            # refuses all
    FREE = "free"                # held open
    EMERGENCY = "emergency"      # fire free-open both ways; overrides everything


@dataclass(frozen=True)
class TurnstileStatus:
    """Decoded gate status. Raw bytes are kept because vendor bit maps vary."""

    mode: GateMode
    open_direction: Direction | None
    count_in: int
    count_out: int
    alarms: frozenset[str] = field(default_factory=frozenset)
    faults: frozenset[str] = field(default_factory=frozenset)
    raw: bytes = b""


class Turnstile(DeviceBase, abc.ABC):
    """Uniform turnstile. Events: ``passage_done``, ``passage_timeout``,
    ``tailgating``, ``intrusion``, ``emergency_open``, ``fault``."""

    kind = DeviceKind.TURNSTILE

    @abc.abstractmethod
    async def open_for(self, direction: Direction, passes: int = 1) -> None:
        """Authorise ``passes`` passages in ``direction``."""

    @abc.abstractmethod
    async def wait_passage(self, direction: Direction, *, timeout: float) -> PassageResult:
        """Wait (``timeout`` real s) for the authorised passage to finish."""

    @abc.abstractmethod
    async def alarm(self, seconds: float = 3.0) -> None:
        """Sound the alarm and stay shut (refused candidate)."""

    @abc.abstractmethod
    async def set_mode(self, mode: GateMode) -> None:
        """Change mode; ``EMERGENCY`` opens both ways for fire alarms (R-OPS-EMERGENCY)."""

    @abc.abstractmethod
    async def status(self) -> TurnstileStatus:
        """Poll the gate board."""
