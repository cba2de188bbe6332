"""Finds the built-in simulator specs: every subpackage of
``examhw_simulators`` that defines ``SIMULATOR`` (and optionally
``PHOTO_DECODER``)."""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from examhw.plugins import PhotoDecoderSpec, SimulatorSpec


def _modules() -> list[ModuleType]:
    import examhw_simulators
    mods = []
    for info in sorted(pkgutil.iter_modules(examhw_simulators.__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.name == "plugin":
            continue
        mods.append(importlib.import_module(f"examhw_simulators.{info.name}"))
    return mods


def simulator_specs() -> list[SimulatorSpec]:
    return [m.SIMULATOR for m in _modules() if getattr(m, "SIMULATOR", None) is not None]


def photo_decoder_specs() -> list[PhotoDecoderSpec]:
    return [m.PHOTO_DECODER for m in _modules() if getattr(m, "PHOTO_DECODER", None) is not None]
