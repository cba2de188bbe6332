"""Typed registries that plugins fill: drivers, simulators, photo decoders."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..errors import DriverNotFound, PluginError
from ..kinds import DeviceKind

if TYPE_CHECKING:
    from ..kinds import DeviceBase, DriverContext
    from ..sim.base import SimContext, Simulator
    from ..urls import DeviceURL


@dataclass(frozen=True)
class DriverSpec:
    """A driver a plugin offers.

    ``factory(role, url, options, ctx)`` builds the (unopened) device.
    ``schemes`` are the URL schemes it accepts; ``simulator`` names the
    :class:`SimulatorSpec` that speaks its protocol (enables ``url = "sim:"``);
    ``options`` maps accepted option names to their Python type.
    """

    name: str
    kind: DeviceKind
    schemes: tuple[str, ...]
    factory: Callable[[str, "DeviceURL", Mapping[str, Any], "DriverContext"], "DeviceBase"]
    simulator: str | None = None
    options: Mapping[str, type] = field(default_factory=dict)
    description: str = ""
    plugin: str = ""


@dataclass(frozen=True)
class SimulatorSpec:
    """A simulator a plugin offers: ``factory(ctx)`` builds an unstarted
    :class:`~examhw.sim.base.Simulator`; ``options`` are the accepted
    ``sim:?key=value`` options with their types."""

    name: str
    kind: DeviceKind
    factory: Callable[["SimContext"], "Simulator"]
    transport: str = ""
    options: Mapping[str, type] = field(default_factory=dict)
    description: str = ""
    plugin: str = ""


@dataclass(frozen=True)
class PhotoDecoderSpec:
    """Turns the raw photo block of an ID card into an encoded image
    (PNG/JPEG/WebP bytes) or returns ``None`` when the format is not its own."""

    name: str
    decode: Callable[[bytes], bytes | None]
    plugin: str = ""


class Registry:
    """What all plugins registered. Duplicate names are errors that name
    both plugins."""

    def __init__(self) -> None:
        self.drivers: dict[str, DriverSpec] = {}
        self.simulators: dict[str, SimulatorSpec] = {}
        self.photo_decoders: dict[str, PhotoDecoderSpec] = {}
        self._current_plugin = ""

    def add_driver(self, spec: DriverSpec) -> None:
        self._add(self.drivers, spec, "driver")

    def add_simulator(self, spec: SimulatorSpec) -> None:
        self._add(self.simulators, spec, "simulator")

    def add_photo_decoder(self, spec: PhotoDecoderSpec) -> None:
        self._add(self.photo_decoders, spec, "photo decoder")

    def _add(self, table: dict[str, Any], spec: Any, what: str) -> None:
        if not spec.plugin and self._current_plugin:
            spec = type(spec)(**{**spec.__dict__, "plugin": self._current_plugin})
        old = table.get(spec.name)
        if old is not None:
            raise PluginError(f"{what} {spec.name!r} registered twice: by {old.plugin!r} and {spec.plugin!r}")
        table[spec.name] = spec

    def driver(self, name: str) -> DriverSpec:
        try:
            return self.drivers[name]
        except KeyError:
            raise DriverNotFound(f"no driver named {name!r}; known: {', '.join(sorted(self.drivers)) or 'none'}") from None

    def simulator(self, name: str) -> SimulatorSpec:
        try:
            return self.simulators[name]
        except KeyError:
            raise DriverNotFound(f"no simulator named {name!r}; known: {', '.join(sorted(self.simulators)) or 'none'}") from None

    def drivers_for(self, kind: DeviceKind) -> list[DriverSpec]:
        return [d for d in self.drivers.values() if d.kind == kind]

    def simulators_for(self, kind: DeviceKind) -> list[SimulatorSpec]:
        return [s for s in self.simulators.values() if s.kind == kind]
