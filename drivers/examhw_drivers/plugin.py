"""Entry point ``examhw-drivers``: registers every built-in driver."""
from __future__ import annotations

from examhw.plugins import Registry, hookimpl

EXAMHW_API = 1


@hookimpl
def examhw_register_drivers(registry: Registry) -> None:
    # Each protocol module exposes DRIVER (a DriverSpec); imported lazily here.
    from . import _all
    for spec in _all.driver_specs():
        registry.add_driver(spec)
