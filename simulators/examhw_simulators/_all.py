"""The list of built-in simulator specs (one line per simulator package)."""
from __future__ import annotations

import importlib

from examhw.plugins import PhotoDecoderSpec, SimulatorSpec

#: packages under examhw_simulators exposing SIMULATOR (a SimulatorSpec)
PACKAGES: list[str] = [
]
#: modules exposing PHOTO_DECODER (a PhotoDecoderSpec)
PHOTO_DECODERS: list[str] = [
]


def simulator_specs() -> list[SimulatorSpec]:
    return [importlib.import_module(f"examhw_simulators.{p}").SIMULATOR for p in PACKAGES]


def photo_decoder_specs() -> list[PhotoDecoderSpec]:
    return [importlib.import_module(f"examhw_simulators.{m}").PHOTO_DECODER for m in PHOTO_DECODERS]
