"""Blocking facade for integrators who do not use asyncio.

``BlockingSite`` runs the async :class:`~examhw.site.Site` on its own loop
thread; ``site.call(coro_fn, *args)`` runs a device call and returns its
result (or raises its error) in the caller's thread, and ``device(role)``
returns a proxy whose methods block.
"""
from __future__ import annotations

import asyncio
import inspect
import threading
from concurrent.futures import Future
from typing import Any, Callable, Coroutine, TypeVar

from .config import SiteConfig
from .errors import ConfigError
from .site import Site

T = TypeVar("T")


class _BlockingProxy:
    """Calls the target's methods on the site's loop thread and waits for the
    result, so nothing the loop owns is touched from another thread."""

    def __init__(self, owner: "BlockingSite", target: Any) -> None:
        self._owner = owner
        self._target = target

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            async def on_loop() -> Any:
                result = attr(*args, **kwargs)
                return await result if inspect.isawaitable(result) else result
            return self._owner.run(on_loop())
        return call


class BlockingSite:
    """A :class:`Site` driven from ordinary threads.

    >>> with BlockingSite(config) as site:          # doctest: +SKIP
    ...     card = site.device("desk_reader").read_card(timeout=10)
    """

    def __init__(self, config: SiteConfig, **site_kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="examhw-loop", daemon=True)
        self._thread.start()
        self.site: Site = self.run(self._make(config, site_kwargs))

    async def _make(self, config: SiteConfig, kwargs: dict[str, Any]) -> Site:
        return Site(config, **kwargs)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the site's loop and wait for its result."""
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return fut.result(timeout)

    def call(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any) -> T:
        return self.run(fn(*args, **kwargs))

    def open(self) -> None:
        self.run(self.site.open())

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            self.run(self.site.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()

    def device(self, role: str) -> Any:
        """A proxy of the device playing ``role`` whose methods block.
        Raises :class:`ConfigError` for an unknown role or a site not open."""
        if self._loop.is_closed():
            raise ConfigError("the site is closed", role=role)
        if role not in self.site.devices:
            raise ConfigError("no such role in the site (or the site is not open yet)", role=role)
        return _BlockingProxy(self, self.site.devices[role])

    def sim_model(self, role: str) -> Any:
        """Blocking proxy of the simulator model behind ``role`` (``url = "sim:"``):
        call its backdoor actions, e.g. ``sim_model("ups").mains_fail()``."""
        if role not in self.site.sims.sims:
            raise ConfigError("no simulator runs for this role", role=role)
        return _BlockingProxy(self, self.site.sims.model(role))

    def __enter__(self) -> "BlockingSite":
        try:
            self.open()
        except BaseException:
            self.close()                 # never leave the loop thread behind
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
