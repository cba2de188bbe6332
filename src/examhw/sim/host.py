"""SimHost: starts the simulators a site config asks for (``url = "sim:"``)
and rewrites each such URL to the simulator's live endpoint."""
from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..clock import Clock, RealClock
from ..config.secrets import resolve_secrets
from ..errors import ConfigError
from ..urls import DeviceURL
from .base import SimContext, SimModel, Simulator

if TYPE_CHECKING:
    from ..config.model import SiteConfig
    from ..plugins import PluginHost


class SimHost:
    """Owns the running simulators of one site (in-process ``sim`` mode)."""

    def __init__(self, plugins: "PluginHost", clock: Clock | None = None,
                 run_dir: Path | None = None) -> None:
        self.plugins = plugins
        self.clock = clock or RealClock()
        self._own_dir = run_dir is None
        self.run_dir = Path(run_dir or tempfile.mkdtemp(prefix="examhw-run-"))
        self.sims: dict[str, Simulator] = {}

    async def start_for(self, config: "SiteConfig") -> "SiteConfig":
        """Start a simulator for every ``sim:`` device and return the config
        with those URLs rewritten. Starts run concurrently."""
        pending: dict[str, Simulator] = {}
        for role, dev in config.devices.items():
            if dev.url.scheme != "sim":
                continue
            spec = self.plugins.registry.driver(dev.driver)
            if not spec.simulator:
                raise ConfigError(f"driver {dev.driver!r} has no simulator; cannot use url = \"sim:\"",
                                  role=role, key="url")
            sim_spec = self.plugins.registry.simulator(spec.simulator)
            options = {**dev.sim, **dev.url.query}
            ctx = SimContext(role=role, options=options, clock=self.clock, run_dir=self.run_dir,
                             secrets=resolve_secrets(dev.secrets, role=role))
            pending[role] = sim_spec.factory(ctx)
        try:
            urls = await asyncio.gather(*(s.start() for s in pending.values()))
        except BaseException:
            await asyncio.gather(*(s.stop() for s in pending.values()), return_exceptions=True)
            raise
        self.sims.update(pending)
        new_devices = dict(config.devices)
        for (role, sim), url in zip(pending.items(), urls):
            sim.url = url
            new_devices[role] = replace(config.devices[role], url=DeviceURL.parse(url))
        return replace(config, devices=new_devices)

    def model(self, role: str) -> SimModel:
        """The device model behind ``role`` (the backdoor)."""
        return self.sims[role].model

    async def stop(self) -> None:
        await asyncio.gather(*(s.stop() for s in self.sims.values()), return_exceptions=True)
        self.sims.clear()
        if self._own_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    async def __aenter__(self) -> "SimHost":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
