"""Entry point ``examhw-simulators``: registers every built-in simulator."""
from __future__ import annotations

from examhw.plugins import Registry, hookimpl

EXAMHW_API = 1


@hookimpl
def examhw_register_simulators(registry: Registry) -> None:
    from . import _all
    for spec in _all.simulator_specs():
        registry.add_simulator(spec)


@hookimpl
def examhw_register_photo_decoders(registry: Registry) -> None:
    from . import _all
    for spec in _all.photo_decoder_specs():
        registry.add_photo_decoder(spec)
