"""Evolis card printer simulator: escape commands on loopback TCP."""
from __future__ import annotations

import logging

from examhw.errors import FrameError
from examhw.kinds import DeviceKind
from examhw.sim.base import SimContext, Simulator
from examhw.sim.endpoints import ByteLink, TcpEndpoint

from .codec import BITS_PER_LEVELS, Command, CommandParser, Malformed, decompress_mono, reply
from .model import CardPrinterModel, Sequence

log = logging.getLogger("examhw.sim.evolis")


class EvolisSession:
    """One TCP connection: parses commands, answers each with one reply.
    A sequence under construction belongs to the connection and is dropped
    when it closes (docs §4.2)."""

    def __init__(self, link: ByteLink, model: CardPrinterModel) -> None:
        self.link = link
        self.model = model
        self.parser = CommandParser()
        self.seq: Sequence | None = None
        self.commands: list[str] = []

    # StreamSession
    def feed(self, data: bytes) -> None:
        for item in self.parser.feed(data):
            if isinstance(item, Malformed):
                log.debug("malformed command: %s", item.error)
                self._send(self._fail("1"))
            else:
                self.commands.append(item.name)
                self._send(self.handle(item))

    def closed(self) -> None:
        self.seq = None

    # replies
    def _send(self, text: str) -> None:
        self.link.write(reply(text))

    def _ok(self) -> str:
        return "ACK" if self.model.ack_nack else "OK"

    def _fail(self, code: str) -> str:
        return f"NACK {code}" if self.model.ack_nack else f"ERR {code}"

    def handle(self, cmd: Command) -> str:
        """Execute one command; returns the reply text (without CR)."""
        m = self.model
        name, p = cmd.name, cmd.params
        arg = p[0] if p else ""
        if name == "Rfv":
            return m.firmware
        if name == "Rsn":
            return m.serial
        if name == "Rtp":
            return m.model_name
        if name == "Rst":
            return ";".join(f"{w:08X}" for w in m.status_words())
        if name == "Rse":
            if arg == "o":
                return "OPEN" if m.cover_open_ else "CLOSED"
            if arg == "m":
                return "CARD" if m.cards > 0 else "NO CARD"
            if arg == "p":
                return "CARD" if m.busy else "NO CARD"
            return self._fail("2")
        if name == "Rco":
            m.advance()
            counters = {"c": m.cards_printed, "n": m.ribbon, "p": m.panels_printed}
            return str(counters[arg]) if arg in counters else self._fail("2")
        if name == "Rlr":
            m.advance()
            return m.last_error if arg in ("p", "r") else self._fail("2")
        if name == "Pem":
            if arg not in ("0", "1"):
                return self._fail("2")
            m.ack_nack = arg == "1"
            return self._ok()
        if name == "Pmi":
            if arg not in ("F", "M", "B"):
                return self._fail("2")
            m.insertion = arg
            return self._ok()
        if name in ("Pr", "Pc", "Pl", "Ps"):
            return self._ok() if p else self._fail("2")
        if name == "Srs":
            m.reset()
            self.seq = None
            return self._ok()
        if name == "Ss":
            if m.busy:
                return self._fail("1")
            self.seq = Sequence()
            return self._ok()
        if name in ("Sr", "Sv"):
            if self.seq is None:
                return self._fail("1")
            self.seq.side = "front" if name == "Sr" else "back"
            return self._ok()
        if name in ("Db", "Dbc"):
            return self._download(cmd)
        if name == "Dm":
            if self.seq is None:
                return self._fail("1")
            if len(p) < 2 or p[0] not in ("1", "2", "3"):
                return self._fail("2")
            self.seq.mag[int(p[0])] = ";".join(p[1:])
            return self._ok()
        if name == "Se":
            if self.seq is None:
                return self._fail("1")
            seq, self.seq = self.seq, None
            code = m.start_job(seq)
            return self._fail(code) if code else self._ok()
        return self._fail("1")

    def _download(self, cmd: Command) -> str:
        if self.seq is None or not self.seq.side:
            return self._fail("1")
        panel = cmd.params[0] if cmd.params else ""
        data = cmd.payload or b""
        if cmd.name == "Dbc":
            if panel in ("k", "o"):
                try:
                    data = decompress_mono(data)
                except FrameError as exc:
                    log.debug("bad compressed panel: %s", exc)
                    return self._fail("2")
        elif len(cmd.params) < 2 or int(cmd.params[1]) not in BITS_PER_LEVELS:
            return self._fail("2")
        self.seq.panels[f"{self.seq.side}_{panel}"] = data
        return self._ok()


class EvolisSimulator(Simulator[CardPrinterModel]):
    """Serves one modelled printer on ``tcp://127.0.0.1:<ephemeral>``.

    Options (``sim:?key=value``): ``print_time_s`` (20.0 site-s per card),
    ``cards`` (200 in the feeder: a full session of 100 plus reprints), ``ribbon_panels`` (1000), ``ribbon_low_at``
    (50), ``feeder_low_at`` (5), ``serial``.
    """

    kind = DeviceKind.CARD_PRINTER

    def __init__(self, ctx: SimContext) -> None:
        super().__init__(ctx)
        self._model = CardPrinterModel(
            ctx.clock,
            print_time_s=ctx.opt("print_time_s", 20.0, float),
            cards=ctx.opt("cards", 200, int),
            ribbon_panels=ctx.opt("ribbon_panels", 1000, int),
            ribbon_low_at=ctx.opt("ribbon_low_at", 50, int),
            feeder_low_at=ctx.opt("feeder_low_at", 5, int),
            serial=ctx.opt("serial", "SIM-EVO-0001", str),
        )
        self.endpoint = TcpEndpoint(lambda link: EvolisSession(link, self._model), scheme="tcp",
                                    faults=ctx.faults)
