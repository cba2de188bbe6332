"""``examhw.sim.nut``: a NUT ``upsd`` on loopback TCP that replays a real UPS
dump from the NUT Devices Dumps Library variable for variable, with backdoor
actions for mains failure, stale data and a stopped NUT driver.
Protocol: ``docs/protocols/nut.md``."""
from __future__ import annotations

from examhw.kinds import DeviceKind
from examhw.plugins import SimulatorSpec

from .devdump import DevDump, load_dump, parse_dump
from .model import NutUpsModel
from .server import DEFAULT_DUMP, NutServer, packaged_dumps

SIMULATOR = SimulatorSpec(
    name="examhw.sim.nut",
    kind=DeviceKind.UPS,
    factory=NutServer,
    transport="tcp",
    options={"dump": str, "ups": str},
    description="NUT upsd replaying a real DDL dump (default: Santak Castle C1K, blazer_ser)",
)

__all__ = ["DEFAULT_DUMP", "DevDump", "NutServer", "NutUpsModel", "SIMULATOR", "load_dump",
           "packaged_dumps", "parse_dump"]
