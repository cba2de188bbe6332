"""PluginHost: a typed facade over one pluggy PluginManager (no globals)."""
from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from importlib import metadata
from types import ModuleType
from typing import Iterable

import pluggy

from ..errors import PluginError
from . import EXAMHW_API, PROJECT, hookspecs
from .registry import Registry

log = logging.getLogger("examhw.plugins")
ENTRY_POINT_GROUP = "examhw"


@dataclass(frozen=True)
class PluginLoadFailure:
    """An entry point that could not be loaded or registered."""

    name: str
    dist: str
    version: str
    error: str


class PluginHost:
    """Loads plugins from the ``examhw`` entry-point group (and any modules
    given explicitly) and collects what they register.

    A broken plugin becomes a :class:`PluginLoadFailure`; it raises
    :class:`~examhw.errors.PluginError` only with ``strict=True``.
    Environment: ``EXAMHW_DISABLE_PLUGIN_AUTOLOAD=1`` skips entry points,
    ``EXAMHW_BLOCK_PLUGINS=a,b`` blocks entry-point names.
    """

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.registry = Registry()
        self.failures: list[PluginLoadFailure] = []
        self.loaded: list[tuple[str, str, str]] = []   # (entry point, dist, version)

    @classmethod
    def load(cls, *, modules: Iterable[ModuleType] = (), autoload: bool | None = None,
             block: Iterable[str] = (), strict: bool = False) -> "PluginHost":
        """Build a host, load plugins and run the registration hooks."""
        host = cls()
        for mod in modules:
            host._register(mod, getattr(mod, "__name__", str(mod)), "", "")
        if autoload is None:
            autoload = os.environ.get("EXAMHW_DISABLE_PLUGIN_AUTOLOAD") != "1"
        blocked = set(block) | {b for b in os.environ.get("EXAMHW_BLOCK_PLUGINS", "").split(",") if b}
        if autoload:
            host._load_entry_points(blocked, strict)
        host._collect(strict)
        return host

    def _load_entry_points(self, blocked: set[str], strict: bool) -> None:
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            dname = dist.metadata["Name"] if dist else "?"
            dver = dist.version if dist else "?"
            if ep.name in blocked:
                self.pm.set_blocked(ep.name)
                continue
            try:
                mod = ep.load()
                api = getattr(mod, "EXAMHW_API", 1)
                if api > EXAMHW_API:
                    raise PluginError(f"needs examhw plugin API {api}, this examhw has {EXAMHW_API}")
                self._register(mod, ep.name, dname, dver)
            except Exception as exc:  # noqa: BLE001 - any failure of third-party code is reported
                self._fail(ep.name, dname, dver, exc, strict)

    def _register(self, mod: object, name: str, dist: str, version: str) -> None:
        if self.pm.is_registered(mod) or self.pm.get_plugin(name) is not None:
            return
        self.pm.register(mod, name=name)
        self.loaded.append((name, dist, version))

    def _fail(self, name: str, dist: str, version: str, exc: BaseException, strict: bool) -> None:
        failure = PluginLoadFailure(name, dist, version, f"{type(exc).__name__}: {exc}")
        self.failures.append(failure)
        log.warning("plugin %s (%s %s) failed to load: %s", name, dist, version, failure.error)
        if strict:
            raise PluginError(f"plugin {name!r} from {dist} {version} failed: {failure.error}") from exc

    def _collect(self, strict: bool) -> None:
        self.pm.check_pending()
        hooks = (self.pm.hook.examhw_register_drivers, self.pm.hook.examhw_register_simulators,
                 self.pm.hook.examhw_register_photo_decoders)
        # Call per plugin so one broken registration is attributed and isolated.
        for name, plugin in list(self.pm.list_name_plugin()):
            if plugin is None:
                continue
            self.registry._current_plugin = name
            try:
                for hook in hooks:
                    impls = [i for i in hook.get_hookimpls() if i.plugin is plugin]
                    for impl in impls:
                        impl.function(registry=self.registry)
            except Exception as exc:  # noqa: BLE001 - reported like a load failure
                self.pm.unregister(plugin)
                dist = next((d for n, d, _ in self.loaded if n == name), "")
                self._fail(name, dist, "", exc, strict)
            finally:
                self.registry._current_plugin = ""

    def python_info(self) -> str:
        return sys.version.split()[0]
