"""Check a site config against the registered drivers (``examhw check-config``)."""
from __future__ import annotations

import os
from typing import Mapping

from ..errors import ConfigError, DriverNotFound
from ..plugins.registry import Registry
from .model import SiteConfig
from .secrets import resolve_secrets

_COMMON_OPTIONS = {"timeout_s": float}


def validate_site(config: SiteConfig, registry: Registry, *, env: Mapping[str, str] | None = None,
                  check_secrets: bool = True) -> list[ConfigError]:
    """Every problem found, each naming the role and key (empty list = valid)."""
    env = os.environ if env is None else env
    problems: list[ConfigError] = []
    seen: set[str] = set()
    for role, dev in config.devices.items():
        if dev.group and dev.group != role:          # a ``count`` group: check its first member only
            if dev.group in seen:
                continue
            seen.add(dev.group)
            role = dev.group
        try:
            spec = registry.driver(dev.driver)
        except DriverNotFound as exc:
            problems.append(ConfigError(str(exc), role=role, key="driver"))
            continue
        if spec.kind != dev.kind:
            problems.append(ConfigError(f"driver {spec.name!r} is a {spec.kind.value} driver, not {dev.kind.value}",
                                        role=role, key="driver"))
        if dev.url.scheme == "sim":
            if not spec.simulator:
                problems.append(ConfigError(f"driver {spec.name!r} has no simulator", role=role, key="url"))
            elif spec.simulator not in registry.simulators:
                problems.append(ConfigError(f"simulator {spec.simulator!r} is not installed", role=role, key="url"))
        elif dev.url.scheme not in spec.schemes:
            problems.append(ConfigError(f"scheme {dev.url.scheme!r} not accepted by {spec.name!r} "
                                        f"(accepts {', '.join(spec.schemes)} or sim)", role=role, key="url"))
        allowed = {**_COMMON_OPTIONS, **spec.options}
        for name, value in dev.options.items():
            if name not in allowed:
                problems.append(ConfigError(f"unknown option for {spec.name!r} (known: {', '.join(sorted(allowed))})",
                                            role=role, key=f"options.{name}"))
            elif not _type_ok(value, allowed[name]):
                problems.append(ConfigError(f"must be {allowed[name].__name__}", role=role, key=f"options.{name}"))
        if dev.url.scheme == "sim" and spec.simulator in registry.simulators:
            sim_options = registry.simulators[spec.simulator].options
            for name in {**dev.sim, **dev.url.query}:
                if sim_options and name not in sim_options:
                    problems.append(ConfigError(f"unknown simulator option (known: {', '.join(sorted(sim_options))})",
                                                role=role, key=f"sim.{name}"))
        if dev.url.password:
            problems.append(ConfigError("put credentials in secrets (env:/file:), not in the URL",
                                        role=role, key="url"))
        if check_secrets:
            try:
                resolve_secrets(dev.secrets, role=role, env=env)
            except ConfigError as exc:
                problems.append(exc)
    return problems


def _type_ok(value: object, typ: type) -> bool:
    if typ is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, typ)
