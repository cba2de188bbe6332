"""One error tree for the whole library.

Every error examhw raises is an :class:`ExamHwError`. Device errors carry the
role of the device they concern, so a caller can say exactly what failed.
"""
from __future__ import annotations


class ExamHwError(Exception):
    """Root of every error raised by examhw."""


class ConfigError(ExamHwError):
    """The site configuration is invalid.

    ``role`` and ``key`` name the place at fault (either may be ``None`` for
    file-level problems).
    """

    def __init__(self, message: str, *, role: str | None = None, key: str | None = None) -> None:
        where = ".".join(p for p in (f"devices.{role}" if role else None, key) if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.role = role
        self.key = key


class PluginError(ExamHwError):
    """A plugin failed to load or registered something invalid."""


class DriverNotFound(PluginError):
    """No driver (or simulator) of that name is registered."""


class DeviceError(ExamHwError):
    """A device call failed. ``role`` names the device when known."""

    def __init__(self, message: str, *, role: str | None = None) -> None:
        super().__init__(f"[{role}] {message}" if role else message)
        self.role = role


class DeviceTimeout(DeviceError):
    """The device did not answer within the call's timeout."""


class DeviceUnavailable(DeviceError):
    """The device cannot be reached (unplugged, refused, port busy, closed)."""


class ProtocolError(DeviceError):
    """The device answered with bytes that break its wire protocol
    (bad checksum, bad length, unknown frame)."""


class ChecksumError(ProtocolError):
    """A frame's checksum did not match its content."""


class FrameError(ProtocolError):
    """A frame is malformed (bad length, bad field, truncated)."""


class DeviceFault(DeviceError):
    """The device reported a fault. ``code`` is the device's own code
    (e.g. SAM status 0x41, printer ``RIBBON_OUT``)."""

    def __init__(self, message: str, *, code: object, role: str | None = None) -> None:
        super().__init__(f"{message} (code {code!r})", role=role)
        self.code = code


class CapabilityNotSupported(DeviceError):
    """The driver does not declare the capability this call needs."""


class NoCard(DeviceTimeout):
    """An ID card reader found no card before the deadline."""
