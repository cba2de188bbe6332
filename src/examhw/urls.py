"""Device locators: ``scheme://host:port/path?query``.

The URL is the one switch between simulated and real hardware: ``sim:`` is
rewritten by the simulator host to the live endpoint of the simulator.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from .errors import ConfigError


@dataclass(frozen=True)
class DeviceURL:
    """A parsed device locator.

    ``serial:///dev/ttyUSB0?baud=9600`` → scheme ``serial``, path ``/dev/ttyUSB0``,
    query ``{"baud": "9600"}``. Credentials in the URL are kept but never
    rendered by :meth:`redacted`.
    """

    scheme: str
    host: str = ""
    port: int | None = None
    path: str = ""
    user: str | None = None
    password: str | None = None
    query: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> "DeviceURL":
        """Parse ``text``; raises :class:`ConfigError` if it has no scheme."""
        if ":" not in text:
            raise ConfigError(f"device URL {text!r} has no scheme")
        parts = urlsplit(text)
        if not parts.scheme:
            raise ConfigError(f"device URL {text!r} has no scheme")
        try:
            port = parts.port
        except ValueError as exc:
            raise ConfigError(f"device URL {text!r}: {exc}") from None
        return cls(
            scheme=parts.scheme.lower(),
            host=parts.hostname or "",
            port=port,
            path=unquote(parts.path),
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        )

    def render(self, *, with_password: bool = True) -> str:
        """Back to text. ``with_password=False`` replaces a password by ``***``."""
        auth = ""
        if self.user:
            auth = quote(self.user, safe="")
            if self.password:
                auth += ":" + (quote(self.password, safe="") if with_password else "***")
            auth += "@"
        hostport = self.host + (f":{self.port}" if self.port is not None else "")
        text = f"{self.scheme}:"
        if hostport or auth or self.path.startswith("/"):
            text += "//" + auth + hostport
        text += quote(self.path, safe="/")
        if self.query:
            text += "?" + urlencode(self.query)
        return text

    def redacted(self) -> str:
        """Text safe for logs and reports (no password)."""
        return self.render(with_password=False)

    def __str__(self) -> str:  # never leak credentials through str()
        return self.redacted()
