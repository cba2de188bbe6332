"""ACME AX-1 UPS simulator: model + line codec + loopback TCP endpoint.
Written from PROTOCOL.md; it does not import the driver."""
from __future__ import annotations

from examhw.kinds import DeviceKind
from examhw.sim import SimContext, SimModel, Simulator, action
from examhw.sim.endpoints import ByteLink, TcpEndpoint


class Ax1Model(SimModel):
    def __init__(self) -> None:
        self.on_battery = False
        self.charge = 100.0

    @action
    def mains_fail(self) -> None:
        self.on_battery = True

    @action
    def mains_restore(self) -> None:
        self.on_battery = False

    def status_line(self) -> str:
        flags = "OB+DISCHRG" if self.on_battery else "OL"
        return f"ST {flags} {self.charge:.0f} {int(self.charge * 36)} {0.0 if self.on_battery else 229.5} 17"

    def snapshot(self) -> dict[str, object]:
        return {"on_battery": self.on_battery, "charge": self.charge}


class _Session:
    def __init__(self, model: Ax1Model, link: ByteLink) -> None:
        self.model, self.link, self.buf = model, link, b""

    def feed(self, data: bytes) -> None:
        self.buf += data
        while b"\r\n" in self.buf:
            line, self.buf = self.buf.split(b"\r\n", 1)
            cmd = line.strip().upper()
            if cmd == b"ID":
                reply = "ID AX-1 SN0001 1.2"
            elif cmd == b"ST":
                reply = self.model.status_line()
            else:
                reply = "ER 1"
            self.link.write(reply.encode() + b"\r\n")

    def closed(self) -> None:
        pass


class Ax1Simulator(Simulator[Ax1Model]):
    kind = DeviceKind.UPS

    def __init__(self, ctx: SimContext) -> None:
        super().__init__(ctx)
        self._model = Ax1Model()
        self.endpoint = TcpEndpoint(lambda link: _Session(self._model, link), faults=ctx.faults)
