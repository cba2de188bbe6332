"""Byte links between an endpoint and a simulator's protocol session."""
from __future__ import annotations

import asyncio
import logging
from typing import Callable, Protocol

from ..faults import FaultPlan

log = logging.getLogger("examhw.sim")


class StreamSession(Protocol):
    """One connection's protocol state on the simulator side."""

    def feed(self, data: bytes) -> None:
        """Bytes arrived from the driver."""

    def closed(self) -> None:
        """The peer went away."""


class ByteLink:
    """Write side given to a :class:`StreamSession`. Writes go through the
    simulator's :class:`FaultPlan` and keep their order. ``peer`` is the
    client's address where the transport has one; :meth:`hang_up` lets a
    session end its connection (a server closing after ``LOGOUT``)."""

    def __init__(self, raw_write: Callable[[bytes], None], faults: FaultPlan, *, peer: str = "",
                 hang_up: Callable[[], None] | None = None) -> None:
        self._raw_write = raw_write
        self._faults = faults
        self.peer = peer
        self._hang_up = hang_up
        self._tail: asyncio.Task[None] | None = None
        self.bytes_out = 0

    def write(self, data: bytes) -> None:
        """Send one reply (shaped by the fault plan)."""
        pieces = self._faults.shape(data)
        if not pieces:
            return
        if all(d == 0 for d, _ in pieces) and (self._tail is None or self._tail.done()):
            for _, chunk in pieces:
                self._emit(chunk)
            return
        prev = self._tail

        async def run() -> None:
            if prev is not None:
                await prev
            for delay, chunk in pieces:
                if delay:
                    await asyncio.sleep(delay)
                self._emit(chunk)

        self._tail = asyncio.get_running_loop().create_task(run())

    def hang_up(self) -> None:
        """Close this connection (no-op where the transport cannot)."""
        if self._hang_up is not None:
            self._hang_up()

    def write_now(self, data: bytes) -> None:
        """Send bytes bypassing faults (unsolicited frames, noise)."""
        self._emit(data)

    def _emit(self, chunk: bytes) -> None:
        try:
            self._raw_write(chunk)
            self.bytes_out += len(chunk)
        except OSError as exc:
            log.debug("sim link write failed: %s", exc)
