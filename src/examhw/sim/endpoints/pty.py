"""Pseudo-terminal endpoint: the driver opens a real tty with pyserial."""
from __future__ import annotations

import asyncio
import errno
import os
import tty
from pathlib import Path
from typing import Callable

from ..faults import FaultPlan
from .link import ByteLink, StreamSession


class PtyEndpoint:
    """Serves one serial device on a pty.

    The slave is put into raw mode at once, and the endpoint keeps its own
    slave fd open so the master never sees EIO when the driver closes the
    port. A stable symlink ``<run_dir>/<name>`` points at ``/dev/pts/N``.
    ``unplug()`` closes the pty (the driver sees the device vanish);
    ``replug()`` creates a new one behind the same symlink.
    """

    def __init__(self, session_factory: Callable[[ByteLink], StreamSession], run_dir: Path,
                 name: str, faults: FaultPlan | None = None) -> None:
        self._factory = session_factory
        self.link_path = Path(run_dir) / name
        self.faults = faults or FaultPlan()
        self._master = -1
        self._slave = -1
        self.session: StreamSession | None = None
        self.link: ByteLink | None = None
        self.bytes_in = 0

    @property
    def url(self) -> str:
        return f"serial://{self.link_path}"

    async def start(self) -> str:
        master, slave = os.openpty()
        tty.setraw(slave)
        tty.setraw(master)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        tmp = self.link_path.with_suffix(".tmp")
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(os.ttyname(slave), tmp)
        os.replace(tmp, self.link_path)
        self.link = ByteLink(self._write, self.faults)
        self.session = self._factory(self.link)
        asyncio.get_running_loop().add_reader(master, self._readable)
        return self.url

    def _readable(self) -> None:
        try:
            data = os.read(self._master, 65536)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno == errno.EIO:   # no slave open: cannot happen while we hold one
                return
            raise
        if data and self.session is not None:
            self.bytes_in += len(data)
            self.session.feed(data)

    def _write(self, data: bytes) -> None:
        if self._master < 0:
            return
        view = memoryview(data)
        while view:
            try:
                n = os.write(self._master, view)
            except BlockingIOError:
                # Nobody reads the slave and the buffer is full: drop, like a real line.
                return
            view = view[n:]

    async def stop(self) -> None:
        if self._master >= 0:
            asyncio.get_running_loop().remove_reader(self._master)
            os.close(self._master)
            self._master = -1
        if self._slave >= 0:
            os.close(self._slave)
            self._slave = -1
        if self.session is not None:
            self.session.closed()
            self.session = None
        if self.link_path.is_symlink():
            self.link_path.unlink()

    async def unplug(self) -> None:
        """Simulate pulling the USB-serial adapter."""
        await self.stop()

    async def replug(self) -> str:
        """Simulate plugging it back (new pty, same symlink)."""
        return await self.start()
