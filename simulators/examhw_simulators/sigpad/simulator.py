"""The simulated pad on a pty: one :class:`PadSession` per plug-in decodes
host frames, lets the model answer, and frames the model's reports."""
from __future__ import annotations

import logging

from examhw.errors import ConfigError, ProtocolError
from examhw.kinds import DeviceKind
from examhw.sim.base import SimContext, Simulator
from examhw.sim.endpoints import PtyEndpoint
from examhw.sim.endpoints.link import ByteLink

from .codec import FrameReader, frame
from .model import PadIdentity, SigPadModel, uid2_for

log = logging.getLogger("examhw.sim.sigpad")


class PadSession:
    """Protocol state of one plugged-in period of the pad."""

    def __init__(self, model: SigPadModel, link: ByteLink) -> None:
        self.model = model
        self.link = link
        self.reader = FrameReader()
        model.connect(self._send)

    def _send(self, report_id: int, payload: bytes) -> None:
        self.link.write(frame(report_id, payload))

    def feed(self, data: bytes) -> None:
        for item in self.reader.feed(data):
            if isinstance(item, ProtocolError):
                log.debug("sigpad: corrupted host frame: %s", item)
                replies = self.model.corrupted()
            else:
                replies = self.model.handle(*item)
            for report_id, payload in replies:
                self._send(report_id, payload)

    def closed(self) -> None:
        self.model.disconnect(self._send)


class SigPadSimulator(Simulator[SigPadModel]):
    """STU-530-like pad on a pty (``serial://<run_dir>/<role>-stu``).

    Options (``sim:?key=value``): ``model`` (name in the Information report),
    ``uid`` (20 hex digits; default derived from the role), ``time0`` (pen
    timeCount at start, default 0xFF00 so captures cross the wrap), ``pace``
    (stream pen reports in site-clock time instead of bursts).
    """

    kind = DeviceKind.SIGNATURE_PAD

    def __init__(self, ctx: SimContext) -> None:
        super().__init__(ctx)
        uid_hex = str(ctx.opt("uid", ""))
        try:
            uid = bytes.fromhex(uid_hex) if uid_hex else uid2_for(ctx.role)
        except ValueError:
            raise ConfigError(f"uid {uid_hex!r} is not hex", role=ctx.role, key="sim.uid") from None
        if len(uid) != 10:
            raise ConfigError("uid must be 20 hex digits (10 bytes)", role=ctx.role, key="sim.uid")
        ident = PadIdentity(model_name=str(ctx.opt("model", "STU-530")), uid2=uid)
        self._model = SigPadModel(ident, clock=ctx.clock, time0=int(ctx.opt("time0", 0xFF00)),
                                  pace=bool(ctx.opt("pace", False)))
        self.endpoint = PtyEndpoint(lambda link: PadSession(self._model, link), ctx.run_dir,
                                    f"{ctx.role}-stu", ctx.faults)
        self._model.unplug_hook = self.endpoint.unplug
        self._model.replug_hook = self.endpoint.replug
