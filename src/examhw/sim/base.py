"""Base classes for simulators."""
from __future__ import annotations

import inspect
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Generic, Mapping, Protocol, TypeVar

from ..clock import Clock, RealClock
from ..errors import ConfigError
from ..kinds import DeviceKind
from .faults import FaultPlan


def action(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a model method as a backdoor action (e.g. ``present_card``)."""
    fn.__examhw_action__ = True  # type: ignore[attr-defined]
    return fn


@dataclass
class SimContext:
    """What a simulator is built with: the role it plays, its options
    (from ``sim:?key=value`` and ``[devices.<role>.sim]``), the clock, a
    run directory for pty links/sockets, a fault plan, and the role's
    resolved secrets (so a simulated camera demands the configured password)."""

    role: str
    options: Mapping[str, Any] = field(default_factory=dict)
    clock: Clock = field(default_factory=RealClock)
    run_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="examhw-sim-")))
    faults: FaultPlan = field(default_factory=FaultPlan)
    #: resolved secrets of the role (e.g. the password the simulated camera demands)
    secrets: Mapping[str, str] = field(default_factory=dict)

    def opt(self, name: str, default: Any, typ: type | None = None) -> Any:
        """Option ``name`` converted to ``typ`` (default's type); raises
        :class:`ConfigError` naming the role and option when it cannot."""
        if name not in self.options:
            return default
        raw = self.options[name]
        typ = typ or type(default)
        if typ is bool and isinstance(raw, str):
            return raw.lower() in ("1", "true", "yes", "on")
        try:
            return typ(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"simulator option {name}={raw!r} is not a {typ.__name__}",
                              role=self.role, key=f"sim.{name}") from None


class SimModel:
    """A device model: state plus actions. Actions are methods marked with
    :func:`action`; the tester (or the demo's "world") calls them to make
    things happen (present a card, walk through, cut mains power)."""

    def actions(self) -> dict[str, Callable[..., Any]]:
        return {n: m for n, m in inspect.getmembers(self, callable)
                if getattr(m, "__examhw_action__", False)}

    async def act(self, verb: str, **kwargs: Any) -> Any:
        """Run action ``verb``; awaits it if it is a coroutine."""
        fn = self.actions().get(verb)
        if fn is None:
            raise KeyError(f"{type(self).__name__} has no action {verb!r}")
        result = fn(**kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    def snapshot(self) -> dict[str, Any]:
        """JSON-able view of the model state (for the backdoor and reports)."""
        return {}


class Endpoint(Protocol):
    """What a simulator serves on: ``start()`` binds and returns the
    driver-facing URL, ``stop()`` releases it (idempotent)."""

    async def start(self) -> str: ...

    async def stop(self) -> None: ...


M = TypeVar("M", bound=SimModel)


class Simulator(Generic[M]):
    """A running simulator: owns a model and an endpoint.

    The common case needs only ``__init__``: set ``self._model`` and
    ``self.endpoint``; :meth:`start` binds the endpoint (loopback only, never
    fixed ports) and returns the live URL the driver must use, :meth:`stop`
    releases it. Override :meth:`start` when the URL differs from the
    endpoint's (e.g. ONVIF's ``onvif://user@host:port``).
    """

    kind: DeviceKind
    _model: M
    endpoint: Endpoint

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx
        self.url: str = ""

    @property
    def model(self) -> M:
        return self._model

    async def start(self) -> str:
        """Bind the endpoint and return the driver-facing URL."""
        self.url = await self.endpoint.start()
        return self.url

    async def stop(self) -> None:
        """Stop serving; idempotent."""
        await self.endpoint.stop()

    async def unplug(self) -> None:
        """The device vanishes (pty closed, USB adapter pulled), where the endpoint can do it."""
        await self.endpoint.unplug()  # type: ignore[attr-defined]

    async def replug(self) -> str:
        """The device comes back behind the same path."""
        self.url = await self.endpoint.replug()  # type: ignore[attr-defined]
        return self.url

    async def __aenter__(self) -> "Simulator[M]":
        self.url = await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
