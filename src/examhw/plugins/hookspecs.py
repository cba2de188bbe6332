"""Hook specifications. Every hook is synchronous and registration-only:
plugins add specs to registries and do no I/O."""
from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .registry import Registry

hookspec = pluggy.HookspecMarker("examhw")


@hookspec
def examhw_register_drivers(registry: "Registry") -> None:
    """Add :class:`~examhw.plugins.DriverSpec` entries with ``registry.add_driver``."""


@hookspec
def examhw_register_simulators(registry: "Registry") -> None:
    """Add :class:`~examhw.plugins.SimulatorSpec` entries with ``registry.add_simulator``."""


@hookspec
def examhw_register_photo_decoders(registry: "Registry") -> None:
    """Add ID-card photo decoders (vendor WLT libraries, the simulator's
    test format) with ``registry.add_photo_decoder``."""
