"""Device events and a bounded fan-out hub.

Each subscriber gets its own bounded queue; when it is full the oldest event
is dropped and counted, so one slow consumer never stalls a device.
"""
from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Callable


@dataclass(frozen=True)
class DeviceEvent:
    """Something a device reported. ``type`` is a short stable name
    (``"card_presented"``, ``"passage_done"``); ``data`` holds the details."""

    role: str
    type: str
    data: dict[str, Any] = field(default_factory=dict)
    ts_wall: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    ts_monotonic: float = field(default_factory=time.monotonic)


class Subscription:
    """An async iterator over events; bounded, drops oldest on overflow."""

    def __init__(self, hub: "EventHub", types: frozenset[str], maxlen: int) -> None:
        self._hub = hub
        self.types = types
        self._queue: collections.deque[DeviceEvent] = collections.deque(maxlen=maxlen)
        self._signal = asyncio.Event()
        self.dropped = 0
        self.closed = False

    def _offer(self, event: DeviceEvent) -> None:
        if self.types and event.type not in self.types:
            return
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append(event)
        self._signal.set()

    async def get(self, timeout: float | None = None) -> DeviceEvent:
        """Next event; raises ``asyncio.TimeoutError`` after ``timeout`` seconds."""
        while not self._queue:
            self._signal.clear()
            if timeout is None:
                await self._signal.wait()
            else:
                await asyncio.wait_for(self._signal.wait(), timeout)
        return self._queue.popleft()

    def pending(self) -> list[DeviceEvent]:
        """Take every queued event without waiting."""
        items = list(self._queue)
        self._queue.clear()
        return items

    def close(self) -> None:
        self.closed = True
        self._hub._subs.discard(self)

    def __aiter__(self) -> AsyncIterator[DeviceEvent]:
        return self

    async def __anext__(self) -> DeviceEvent:
        if self.closed:
            raise StopAsyncIteration
        return await self.get()

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventHub:
    """Fan-out of one device's events to subscribers and callbacks."""

    def __init__(self, role: str) -> None:
        self.role = role
        self._subs: set[Subscription] = set()
        self._callbacks: list[Callable[[DeviceEvent], None]] = []
        self.counts: collections.Counter[str] = collections.Counter()

    def subscribe(self, *types: str, maxlen: int = 256) -> Subscription:
        """Subscribe to ``types`` (all types when none given)."""
        sub = Subscription(self, frozenset(types), maxlen)
        self._subs.add(sub)
        return sub

    def on(self, callback: Callable[[DeviceEvent], None]) -> None:
        """Call ``callback`` synchronously for every event (must not block)."""
        self._callbacks.append(callback)

    def emit(self, type: str, **data: Any) -> DeviceEvent:
        """Publish an event; never blocks."""
        event = DeviceEvent(self.role, type, data)
        self.counts[type] += 1
        for sub in list(self._subs):
            sub._offer(event)
        for cb in list(self._callbacks):
            cb(event)
        return event
