"""The list of built-in driver specs (one line per protocol module)."""
from __future__ import annotations

import importlib

from examhw.plugins import DriverSpec

MODULES: list[str] = [
]


def driver_specs() -> list[DriverSpec]:
    return [importlib.import_module(f"examhw_drivers.{m}").DRIVER for m in MODULES]
