"""Finds the built-in driver specs: every module or subpackage of
``examhw_drivers`` that defines ``DRIVER`` (a :class:`DriverSpec`)."""
from __future__ import annotations

import importlib
import pkgutil

from examhw.plugins import DriverSpec


def driver_specs() -> list[DriverSpec]:
    import examhw_drivers
    specs = []
    for info in sorted(pkgutil.iter_modules(examhw_drivers.__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.name == "plugin":
            continue
        mod = importlib.import_module(f"examhw_drivers.{info.name}")
        spec = getattr(mod, "DRIVER", None)
        if spec is not None:
            specs.append(spec)
    return specs
