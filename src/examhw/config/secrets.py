"""Secret references: ``env:NAME`` or ``file:PATH``. Values are never logged."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from ..errors import ConfigError


def resolve_secret(ref: str, *, role: str, key: str, env: Mapping[str, str] | None = None) -> str:
    """Resolve one reference; raises :class:`ConfigError` naming role and key
    (never the value) when it cannot."""
    env = os.environ if env is None else env
    if ref.startswith("env:"):
        name = ref[4:]
        if name not in env:
            raise ConfigError(f"environment variable {name} is not set", role=role, key=f"secrets.{key}")
        return env[name]
    if ref.startswith("file:"):
        path = Path(ref[5:]).expanduser()
        try:
            return path.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"cannot read secret file {path}: {exc.strerror}", role=role,
                              key=f"secrets.{key}") from None
    raise ConfigError("secrets must be 'env:NAME' or 'file:PATH' references, not literal values",
                      role=role, key=f"secrets.{key}")


def resolve_secrets(refs: Mapping[str, str], *, role: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    return {k: resolve_secret(v, role=role, key=k, env=env) for k, v in refs.items()}
