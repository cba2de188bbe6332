"""Site: owns the plugin host, config, clock, simulators and devices.
No globals: two sites can run side by side in one process."""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, TypeVar

from .clock import Clock, RealClock
from .config import SiteConfig, resolve_secrets, validate_site
from .errors import ConfigError, ExamHwError
from .kinds import KIND_INTERFACES, DeviceBase, DriverContext
from .plugins import PluginHost
from .sim.host import SimHost

log = logging.getLogger("examhw.site")
D = TypeVar("D", bound=DeviceBase)


class Site:
    """Devices by role, built from a :class:`SiteConfig`.

    ``sim:`` URLs start the driver's simulator first and the *same* driver
    is then built against the simulator's live endpoint.
    Use as ``async with Site(config) as site: reader = site.device("desk_reader", IdCardReader)``.
    """

    def __init__(self, config: SiteConfig, *, plugins: PluginHost | None = None,
                 clock: Clock | None = None, run_dir: Path | None = None,
                 services: dict[str, Any] | None = None) -> None:
        self.config = config
        self.plugins = plugins or PluginHost.load()
        self.clock = clock or RealClock()
        self.sims = SimHost(self.plugins, self.clock, run_dir)
        self.devices: dict[str, DeviceBase] = {}
        self.services = services or {}
        self.resolved: SiteConfig | None = None
        #: devices opened at once (a 100-camera site would otherwise burst the CPU)
        self.open_concurrency = 16

    async def open(self) -> None:
        """Validate, start simulators, build and open every device (up to
        ``open_concurrency`` at once).
        Raises :class:`ConfigError` listing every problem, or the first
        device error (after closing what was opened)."""
        problems = validate_site(self.config, self.plugins.registry)
        if problems:
            raise ConfigError("; ".join(str(p) for p in problems))
        self.resolved = await self.sims.start_for(self.config)
        try:
            for role, dev in self.resolved.devices.items():
                spec = self.plugins.registry.driver(dev.driver)
                ctx = DriverContext(clock=self.clock, secrets=resolve_secrets(dev.secrets, role=role),
                                    timeout_s=self.config.timeout_s, services=self.services)
                device = spec.factory(role, dev.url, dev.options, ctx)
                iface = KIND_INTERFACES[dev.kind]
                if not isinstance(device, iface):
                    raise ExamHwError(f"driver {spec.name!r} built {type(device).__name__}, "
                                      f"which is not a {iface.__name__}")
                self.devices[role] = device
            gate = asyncio.Semaphore(self.open_concurrency)

            async def open_one(dev: DeviceBase) -> None:
                async with gate:
                    await dev.open()

            results = await asyncio.gather(*(open_one(d) for d in self.devices.values()), return_exceptions=True)
            errors = [r for r in results if isinstance(r, BaseException)]
            if errors:
                raise errors[0]
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        await asyncio.gather(*(d.close() for d in self.devices.values()), return_exceptions=True)
        await self.sims.stop()

    def device(self, role: str, kind: type[D]) -> D:
        """The device playing ``role``, checked to be a ``kind``."""
        try:
            dev = self.devices[role]
        except KeyError:
            raise ConfigError("no such role in the site", role=role) from None
        if not isinstance(dev, kind):
            raise ConfigError(f"is a {type(dev).__name__}, not a {kind.__name__}", role=role)
        return dev

    async def __aenter__(self) -> "Site":
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
