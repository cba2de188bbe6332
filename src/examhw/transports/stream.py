"""Byte streams (serial and TCP) with one async read/write surface, and the
request/response helper every framed driver uses."""
from __future__ import annotations

import abc
import asyncio
import time
from typing import Callable, Protocol, Sequence, TypeVar

from ..errors import DeviceTimeout, DeviceUnavailable

F = TypeVar("F")


class FrameDecoder(Protocol[F]):
    """A pure incremental decoder: ``feed(bytes) -> frames`` (it keeps any
    partial frame and resynchronises on garbage itself)."""

    def feed(self, data: bytes) -> Sequence[F]: ...

    def reset(self) -> None: ...


class ByteStream(abc.ABC):
    """An open byte stream to a device."""

    def __init__(self, description: str) -> None:
        self.description = description
        self._buf = bytearray()
        self._event = asyncio.Event()
        self._error: BaseException | None = None
        self.closed = False

    @abc.abstractmethod
    async def write(self, data: bytes) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    def _deliver(self, data: bytes) -> None:
        self._buf += data
        self._event.set()

    def _lost(self, exc: BaseException) -> None:
        self._error = exc
        self._event.set()

    async def read_some(self, timeout: float) -> bytes:
        """Whatever bytes are available, waiting up to ``timeout`` s for at
        least one. Raises :class:`DeviceTimeout` or :class:`DeviceUnavailable`."""
        if not self._buf:
            if self._error is not None:
                raise DeviceUnavailable(f"{self.description}: {self._error}")
            self._event.clear()
            try:
                await asyncio.wait_for(self._event.wait(), timeout)
            except (asyncio.TimeoutError, TimeoutError):
                raise DeviceTimeout(f"{self.description}: no data within {timeout:.3f} s") from None
            if not self._buf and self._error is not None:
                raise DeviceUnavailable(f"{self.description}: {self._error}")
        data = bytes(self._buf)
        self._buf.clear()
        return data

    def discard_input(self) -> bytes:
        """Drop (and return) bytes received but not yet read."""
        data = bytes(self._buf)
        self._buf.clear()
        return data


async def request(stream: ByteStream, decoder: FrameDecoder[F], payload: bytes | None, *,
                  timeout: float, accept: Callable[[F], bool] = lambda f: True,
                  flush: bool = True) -> F:
    """Send ``payload`` (if any) and return the first decoded frame that
    ``accept`` takes, within ``timeout`` real seconds.

    Stale input is discarded first (``flush``) so a late reply to an earlier,
    timed-out request is never taken for this one. Frames not accepted are
    skipped. Raises :class:`DeviceTimeout` (with how many bytes arrived) or
    :class:`DeviceUnavailable`; decoder errors propagate.
    """
    if flush:
        stream.discard_input()
        decoder.reset()
    if payload:
        await stream.write(payload)
    deadline = time.monotonic() + timeout
    got = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise DeviceTimeout(f"{stream.description}: no complete reply within {timeout:.3f} s "
                                f"({got} bytes received)")
        try:
            data = await stream.read_some(left)
        except DeviceTimeout:
            raise DeviceTimeout(f"{stream.description}: no complete reply within {timeout:.3f} s "
                                f"({got} bytes received)") from None
        got += len(data)
        for frame in decoder.feed(data):
            if accept(frame):
                return frame


