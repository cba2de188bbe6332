"""The simulated SAM reader on a pty (``examhw.sim.sam-serial``)."""
from __future__ import annotations

import asyncio
import re

from examhw.kinds import DeviceKind
from examhw.sim import SimContext, Simulator
from examhw.sim.endpoints import ByteLink, PtyEndpoint

from .codec import FrameReader
from .model import IdCardModel


class _Session:
    """One open pty: parse requests, answer each through the model."""

    def __init__(self, link: ByteLink, model: IdCardModel, reply_delay_s: float) -> None:
        self.link = link
        self.model = model
        self.reply_delay_s = reply_delay_s
        self.reader = FrameReader()

    def feed(self, data: bytes) -> None:
        for item in self.reader.feed(data):
            reply = self.model.handle(item)
            if self.reply_delay_s > 0:
                asyncio.get_running_loop().call_later(self.reply_delay_s, self.link.write, reply)
            else:
                self.link.write(reply)

    def closed(self) -> None:
        self.reader.reset()


class SamSerialSimulator(Simulator[IdCardModel]):
    """A SAM ID card reader on a raw pty; :meth:`start` returns ``serial://<run_dir>/<role>-sam``.

    Options: ``reply_delay_s`` (float, real seconds before each reply, default 0; about
    0.1 s plus the wire time imitates a real reader at 115200 baud). The model's actions
    ``present_card``, ``remove_card`` and ``inject_status`` drive it; :meth:`unplug` and
    :meth:`replug` imitate pulling the USB-serial adapter.
    """

    kind = DeviceKind.ID_READER

    def __init__(self, ctx: SimContext) -> None:
        super().__init__(ctx)
        self._model = IdCardModel()
        self.reply_delay_s = max(0.0, float(ctx.opt("reply_delay_s", 0.0, float)))
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", ctx.role) + "-sam"
        self.endpoint = PtyEndpoint(self._session, ctx.run_dir, name, ctx.faults)

    def _session(self, link: ByteLink) -> _Session:
        return _Session(link, self._model, self.reply_delay_s)
