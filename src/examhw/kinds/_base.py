"""What every device shares: identity, capabilities, connection state,
open/close/health, events, per-call timeouts and reconnect on next use."""
from __future__ import annotations

import abc
import asyncio
import enum
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Awaitable, ClassVar, Mapping, TypeVar

from ..clock import Clock, RealClock
from ..errors import CapabilityNotSupported, DeviceError, DeviceTimeout, DeviceUnavailable
from ..events import EventHub
from ..urls import DeviceURL

T = TypeVar("T")
log = logging.getLogger("examhw.device")


class DeviceKind(str, enum.Enum):
    """The eight device kinds of an exam site."""

    ID_READER = "id_reader"
    TURNSTILE = "turnstile"
    METAL_DETECTOR = "metal_detector"
    CAMERA = "camera"
    UPS = "ups"
    SIGNATURE_PAD = "signature_pad"
    CARD_PRINTER = "card_printer"
    DOCUMENT_PRINTER = "document_printer"


class ConnState(str, enum.Enum):
    """Connection state of a device."""

    CLOSED = "closed"
    CONNECTING = "connecting"
    READY = "ready"
    DEGRADED = "degraded"          # works, but reports warnings (ribbon low, UPS on battery…)
    UNAVAILABLE = "unavailable"    # cannot be reached; next call tries to reopen


@dataclass(frozen=True)
class DeviceInfo:
    """Identity reported by the device (empty strings when unknown)."""

    vendor: str = ""
    model: str = ""
    serial: str = ""
    firmware: str = ""


@dataclass(frozen=True)
class Health:
    """Result of :meth:`DeviceBase.health`."""

    state: ConnState
    ok: bool
    detail: str = ""
    checked_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


@dataclass(frozen=True)
class DriverContext:
    """What the site hands a driver when building it: the site clock,
    resolved secrets (never logged) and the default per-call timeout (s)."""

    clock: Clock = field(default_factory=RealClock)
    secrets: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 5.0
    services: Mapping[str, Any] = field(default_factory=dict)


class DeviceBase(abc.ABC):
    """Base of every driver.

    Subclasses implement :meth:`_open`, :meth:`_close` and :meth:`_probe`, and
    wrap every device call in :meth:`_call` so it gets the per-call timeout,
    the typed errors and reconnect-on-next-use.
    """

    kind: ClassVar[DeviceKind]
    #: capabilities the driver declares (e.g. ``"fingerprint"``, ``"events"``).
    capabilities: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, role: str, url: DeviceURL, options: Mapping[str, Any] | None = None,
                 ctx: DriverContext | None = None) -> None:
        self.role = role
        self.url = url
        self.options: dict[str, Any] = dict(options or {})
        self.ctx = ctx or DriverContext()
        self.events = EventHub(role)
        self.state = ConnState.CLOSED
        self.info = DeviceInfo()
        self.timeout_s = float(self.options.get("timeout_s", self.ctx.timeout_s))
        self._lock = asyncio.Lock()
        self._last_error: str = ""
        self._reopen_after = 0.0
        self._backoff = 0.5

    # -- lifecycle ---------------------------------------------------------
    async def open(self) -> None:
        """Connect and identify the device. Raises :class:`DeviceUnavailable`
        (with the reason) when it cannot be reached."""
        self._set_state(ConnState.CONNECTING, "open")
        try:
            await asyncio.wait_for(self._open(), self.timeout_s * 3)
        except (asyncio.TimeoutError, TimeoutError):
            self._set_state(ConnState.UNAVAILABLE, "open timed out")
            raise DeviceUnavailable(f"open timed out after {self.timeout_s * 3:.1f} s", role=self.role) from None
        except DeviceError as exc:
            self._set_state(ConnState.UNAVAILABLE, str(exc))
            if exc.role is None:          # name the device: a site opens many at once
                exc.role = self.role
                exc.args = (f"[{self.role}] {exc.args[0] if exc.args else ''}", *exc.args[1:])
            raise
        except OSError as exc:
            self._set_state(ConnState.UNAVAILABLE, str(exc))
            raise DeviceUnavailable(f"cannot open {self.url.redacted()}: {exc}", role=self.role) from exc
        self._backoff = 0.5
        self._set_state(ConnState.READY, "opened")

    async def close(self) -> None:
        """Release the device. Never raises for an already-closed device."""
        try:
            await self._close()
        finally:
            self._set_state(ConnState.CLOSED, "closed")

    async def health(self) -> Health:
        """Probe the device (a cheap status request) and report its state."""
        try:
            detail = await self._call(self._probe(), timeout=self.timeout_s)
            return Health(self.state, self.state in (ConnState.READY, ConnState.DEGRADED), detail or "")
        except DeviceError as exc:
            return Health(self.state, False, str(exc))

    async def __aenter__(self) -> "DeviceBase":
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def require(self, capability: str) -> None:
        """Raise :class:`CapabilityNotSupported` unless declared."""
        if capability not in self.capabilities:
            raise CapabilityNotSupported(f"{type(self).__name__} lacks {capability!r}", role=self.role)

    # -- for subclasses ----------------------------------------------------
    @abc.abstractmethod
    async def _open(self) -> None: ...

    @abc.abstractmethod
    async def _close(self) -> None: ...

    async def _probe(self) -> str:
        """Cheap request proving the device answers; returns a short detail."""
        return ""

    async def _call(self, aw: Awaitable[T], *, timeout: float | None = None) -> T:
        """Run one device call with a timeout (real seconds), mapping errors
        and reopening an unavailable device first (with back-off)."""
        if self.state == ConnState.CLOSED:
            if asyncio.iscoroutine(aw):
                aw.close()
            raise DeviceUnavailable("device is closed; call open() first", role=self.role)
        if self.state == ConnState.UNAVAILABLE:
            await self._try_reopen(aw)
        limit = self.timeout_s if timeout is None else timeout
        try:
            result = await asyncio.wait_for(aw, limit)
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # Python 3.11: wait_for returns the result when a cancellation
                # races its completion; honour the cancellation.
                raise asyncio.CancelledError
        except (asyncio.TimeoutError, TimeoutError):
            raise DeviceTimeout(f"no answer within {limit:.2f} s", role=self.role) from None
        except DeviceUnavailable as exc:
            self._mark_lost(str(exc))
            raise
        except OSError as exc:
            self._mark_lost(str(exc))
            raise DeviceUnavailable(f"I/O error: {exc}", role=self.role) from exc
        return result

    async def _try_reopen(self, pending: Awaitable[Any]) -> None:
        now = time.monotonic()
        if now < self._reopen_after:
            if asyncio.iscoroutine(pending):
                pending.close()
            raise DeviceUnavailable(f"unavailable ({self._last_error}); retry in "
                                    f"{self._reopen_after - now:.1f} s", role=self.role)
        try:
            await self._close()
        except Exception:  # noqa: BLE001 - closing a dead link may fail any way; we reopen next
            log.debug("%s: close before reopen failed", self.role, exc_info=True)
        try:
            await asyncio.wait_for(self._open(), self.timeout_s * 3)
        except (DeviceError, OSError, asyncio.TimeoutError, TimeoutError) as exc:
            self._reopen_after = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, 30.0)
            if asyncio.iscoroutine(pending):
                pending.close()
            raise DeviceUnavailable(f"reopen failed: {exc}", role=self.role) from exc
        self._backoff = 0.5
        log.warning("%s: device recovered", self.role)
        self._set_state(ConnState.READY, "recovered")

    def _mark_lost(self, reason: str) -> None:
        if self.state != ConnState.UNAVAILABLE:
            log.warning("%s: device lost: %s", self.role, reason)
            self._last_error = reason
            self._reopen_after = 0.0
            self._set_state(ConnState.UNAVAILABLE, reason)

    def _set_state(self, new: ConnState, reason: str) -> None:
        old = self.state
        if old == new:
            return
        self.state = new
        self.events.emit("state_changed", old=old.value, new=new.value, reason=reason)

    def describe(self) -> dict[str, Any]:
        """Role, kind, driver class, redacted URL scheme, state (for reports)."""
        return {"role": self.role, "kind": self.kind.value, "driver": type(self).__name__,
                "url_scheme": self.url.scheme, "state": self.state.value,
                "info": self.info.__dict__}
