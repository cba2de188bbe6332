"""Load and structurally check a site TOML file."""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..kinds import DeviceKind
from ..urls import DeviceURL
from .model import DeviceConfig, SiteConfig

_DEVICE_KEYS = {"kind", "driver", "url", "options", "secrets", "sim", "zone", "count"}
_TOP_KEYS = {"schema", "site", "defaults", "devices", "flow"}
_SITE_KEYS = {"id", "name", "seats", "accessible_seats"}
_DEFAULT_KEYS = {"timeout_s"}
#: flow settings and their types (``[flow]``)
FLOW_KEYS: dict[str, type] = {"face_threshold": float, "monitor_interval_s": float, "ups_poll_s": float}


def load_site(path: str | Path) -> SiteConfig:
    """Read ``path``; raises :class:`ConfigError` naming the role and key."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {p}: {exc.strerror}") from None
    return parse_site(text, source=str(p))


def parse_site(text: str, *, source: str = "<string>") -> SiteConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}") from None
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"unknown top-level key(s): {', '.join(sorted(unknown))}", key=sorted(unknown)[0])
    if data.get("schema", 1) != 1:
        raise ConfigError(f"schema {data.get('schema')!r} is not supported (expected 1)", key="schema")
    site = _table(data, "site")
    defaults = _table(data, "defaults")
    flow = _table(data, "flow")
    for table, name, allowed in ((site, "site", _SITE_KEYS), (defaults, "defaults", _DEFAULT_KEYS),
                                 (flow, "flow", set(FLOW_KEYS))):
        for key in sorted(set(table) - allowed):
            raise ConfigError(f"unknown key (allowed: {', '.join(sorted(allowed))})", key=f"{name}.{key}")
    for key, typ in FLOW_KEYS.items():
        if key in flow and (isinstance(flow[key], bool) or not isinstance(flow[key], (int, float))):
            raise ConfigError(f"must be a number ({typ.__name__})", key=f"flow.{key}")
    seats = site.get("seats", 100)
    if not isinstance(seats, int) or seats < 1:
        raise ConfigError("must be a positive integer", key="site.seats")
    accessible = tuple(site.get("accessible_seats", [1]))
    if not accessible or any(not isinstance(s, int) or not 1 <= s <= seats for s in accessible):
        raise ConfigError(f"must list at least one seat number in 1..{seats} (R-CAP-1)", key="site.accessible_seats")
    timeout = defaults.get("timeout_s", 5.0)
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigError("must be a positive number of seconds", key="defaults.timeout_s")
    devices: dict[str, DeviceConfig] = {}
    for role, raw in _table(data, "devices").items():
        for dev in _devices(role, raw):
            devices[dev.role] = dev
    return SiteConfig(site_id=str(site.get("id", "site")), name=str(site.get("name", "")), seats=seats,
                      accessible_seats=accessible, timeout_s=float(timeout), devices=devices,
                      flow=flow, source=source)


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError("must be a table", key=key)
    return value


def _devices(role: str, raw: Any) -> list[DeviceConfig]:
    if not isinstance(raw, dict):
        raise ConfigError("must be a table", role=role)
    unknown = set(raw) - _DEVICE_KEYS
    if unknown:
        raise ConfigError(f"unknown key (allowed: {', '.join(sorted(_DEVICE_KEYS))})", role=role,
                          key=sorted(unknown)[0])
    for key in ("kind", "driver", "url"):
        if not isinstance(raw.get(key), str) or not raw.get(key):
            raise ConfigError("is required and must be a string", role=role, key=key)
    try:
        kind = DeviceKind(raw["kind"])
    except ValueError:
        raise ConfigError(f"unknown kind {raw['kind']!r}; one of {', '.join(k.value for k in DeviceKind)}",
                          role=role, key="kind") from None
    try:
        url = DeviceURL.parse(raw["url"])
    except ConfigError as exc:
        raise ConfigError(str(exc), role=role, key="url") from None
    for key in ("options", "secrets", "sim"):
        if not isinstance(raw.get(key, {}), dict):
            raise ConfigError("must be a table", role=role, key=key)
    for k, v in raw.get("secrets", {}).items():
        if not isinstance(v, str):
            raise ConfigError("must be an 'env:NAME' or 'file:PATH' string", role=role, key=f"secrets.{k}")
    count = raw.get("count", 1)
    if not isinstance(count, int) or count < 1:
        raise ConfigError("must be a positive integer", role=role, key="count")
    roles = [role] if count == 1 and "count" not in raw else [f"{role}_{i:03d}" for i in range(1, count + 1)]
    return [DeviceConfig(role=r, kind=kind, driver=raw["driver"], url=url, options=dict(raw.get("options", {})),
                         secrets=dict(raw.get("secrets", {})), sim=dict(raw.get("sim", {})),
                         zone=str(raw.get("zone", "")), group=role) for r in roles]
