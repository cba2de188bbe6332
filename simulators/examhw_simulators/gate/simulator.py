"""The gate board on a pty: a :class:`GateModel` behind the 7E/7F framing."""
from __future__ import annotations

import logging

from examhw.errors import ProtocolError
from examhw.kinds import DeviceKind
from examhw.sim.base import SimContext, Simulator
from examhw.sim.endpoints import ByteLink, PtyEndpoint

from .codec import RequestParser
from .model import GateModel

log = logging.getLogger("examhw.sim.gate")


class GateSession:
    """One serial line: parse requests, let the model answer those for its
    machine number, stay silent for the rest (and for corrupt requests)."""

    def __init__(self, link: ByteLink, model: GateModel) -> None:
        self.link = link
        self.model = model
        self.parser = RequestParser()

    def feed(self, data: bytes) -> None:
        try:
            requests = self.parser.feed(data)
        except ProtocolError as exc:
            log.debug("gate sim: dropped corrupt request: %s", exc)
            return
        for req in requests:
            reply = self.model.handle(req)
            if reply is not None:
                self.link.write(reply)

    def closed(self) -> None:
        self.parser.reset()


class GateSimulator(Simulator[GateModel]):
    """Simulated DS205A-style gate board on a pty (``serial://<run_dir>/<role>-gate``).

    Options: ``address`` (machine number, default 1), ``wait_time_s``
    (site s, default 8), ``stroke_s`` (site s, default 0.6), ``in_side``
    (``left``/``right``, default left), ``firmware`` (byte, default 0x23).
    """

    kind = DeviceKind.TURNSTILE

    def __init__(self, ctx: SimContext) -> None:
        super().__init__(ctx)
        self._model = GateModel(
            ctx.clock,
            address=ctx.opt("address", 1, int),
            firmware=ctx.opt("firmware", 0x23, int),
            wait_time_s=ctx.opt("wait_time_s", 8.0, float),
            stroke_s=ctx.opt("stroke_s", 0.6, float),
            in_side=str(ctx.opt("in_side", "left", str)).lower(),
        )
        self.endpoint = PtyEndpoint(lambda link: GateSession(link, self._model), ctx.run_dir,
                                    f"{ctx.role}-gate", ctx.faults)
