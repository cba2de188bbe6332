"""Driver for DS205A-style turnstile boards speaking the RS485 "7E/7F"
protocol (docs/protocols/gate-7e7f.md)."""
from examhw.kinds import DeviceKind
from examhw.plugins.registry import DriverSpec

from .driver import Gate7E7F, GateStatus

DRIVER = DriverSpec(
    name="examhw.gate-7e7f",
    kind=DeviceKind.TURNSTILE,
    schemes=("serial",),
    factory=Gate7E7F,
    simulator="examhw.sim.gate-7e7f",
    options={"address": int, "baud": int, "poll_s": float, "in_direction": str, "reply_timeout_s": float},
    description="DS205A-style gate board, RS485 7E/7F frames (open left/right with pass count, "
                "always open, forbid, counters, alarms; examhw alarm/emergency extensions)",
)

__all__ = ["DRIVER", "Gate7E7F", "GateStatus"]
