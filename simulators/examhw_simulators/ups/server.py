"""A ``upsd``-like NUT network server for one simulated UPS
(docs/protocols/nut.md §2–§4), on a loopback :class:`TcpEndpoint`.
"""
from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import Callable

from examhw.errors import ConfigError
from examhw.kinds import DeviceKind
from examhw.sim.base import SimContext, Simulator
from examhw.sim.endpoints import TcpEndpoint
from examhw.sim.endpoints.link import ByteLink

from .devdump import DevDump, decode_dump_bytes, load_dump, parse_dump
from .model import NutUpsModel
from .wire import BadRequest, LineSplitter, block, err, line, q, words_of

log = logging.getLogger("examhw.sim.nut")

DEFAULT_DUMP = "Santak__Castle_C1K__blazer_ser__2.7.4__01.dev"
DEFAULT_UPS = "ups1"
VERSION_TEXT = "examhw NUT simulator (network protocol 1.3)"
PROTOCOL_VERSION = "1.3"
HELP_TEXT = "Commands: HELP VER GET LIST SET INSTCMD LOGIN LOGOUT USERNAME PASSWORD STARTTLS"
NO_DESC = "Description unavailable"
#: a few variable descriptions (our own wording)
DESCRIPTIONS = {
    "ups.status": "UPS status flags",
    "ups.load": "Load on the UPS (percent of capacity)",
    "ups.alarm": "UPS alarm text",
    "battery.charge": "Battery charge (percent)",
    "battery.runtime": "Battery runtime (seconds)",
    "battery.voltage": "Battery voltage (V)",
    "input.voltage": "Input voltage (V)",
    "output.voltage": "Output voltage (V)",
    "device.mfr": "Device manufacturer",
    "device.model": "Device model",
    "device.serial": "Device serial number",
}
#: per-UPS LIST kinds (all but CLIENT need current data, else DATA-STALE / DRIVER-NOT-CONNECTED)
_LIST_KINDS = frozenset({"VAR", "RW", "CMD", "ENUM", "RANGE", "CLIENT"})


def packaged_dumps() -> list[str]:
    """File names of the dumps shipped with the simulator."""
    root = resources.files(__package__) / "data"
    return sorted(p.name for p in root.iterdir() if p.name.endswith(".dev"))


def open_dump(name: str, role: str = "") -> DevDump:
    """A packaged dump by file name (``.dev`` may be left out), or a path.
    Raises :class:`ConfigError` naming the choices."""
    root = resources.files(__package__) / "data"
    for candidate in (name, f"{name}.dev"):
        res = root / candidate
        if "/" not in candidate and res.is_file():
            return parse_dump(decode_dump_bytes(res.read_bytes()), name=candidate)
    path = Path(name)
    if path.suffix == ".dev" and path.is_file():
        return load_dump(path)
    raise ConfigError(f"no UPS dump {name!r}; packaged: {', '.join(packaged_dumps())}",
                      role=role or None, key="sim.dump")


class NutSession:
    """One client connection: request lines in, upsd-shaped replies out."""

    def __init__(self, link: ByteLink, server: "NutServer", peer: str, hangup: Callable[[], None]) -> None:
        self.link = link
        self.server = server
        self.model = server.model
        self.peer = peer
        self._hangup = hangup
        self._lines = LineSplitter()
        self.username: str | None = None
        self.password: str | None = None
        self.logged_in: str | None = None
        self.done = False

    # -- StreamSession ---------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        for text in self._lines.feed(data):
            if self.done:
                return
            if text is None:
                self.link.write(err("UNKNOWN-COMMAND"))
                continue
            try:
                words = words_of(text)
            except BadRequest:
                self.link.write(err("INVALID-ARGUMENT"))
                continue
            self.link.write(self.answer(words))
            if self.done:
                self._hangup()

    def closed(self) -> None:
        self.server.logins.discard(self)

    # -- dispatch ----------------------------------------------------------------------
    def answer(self, words: list[str]) -> bytes:
        """The complete reply (one line or one list) to one request."""
        if not words:
            return err("UNKNOWN-COMMAND")
        cmd, args = words[0].upper(), words[1:]
        if cmd == "VER":
            return err("INVALID-ARGUMENT") if args else line(VERSION_TEXT)
        if cmd in ("NETVER", "PROTVER"):
            return err("INVALID-ARGUMENT") if args else line(PROTOCOL_VERSION)
        if cmd == "HELP":
            return line(HELP_TEXT)
        if cmd == "STARTTLS":
            return err("FEATURE-NOT-CONFIGURED")
        if cmd == "GET":
            return self._get(args)
        if cmd == "LIST":
            return self._list(args)
        if cmd in ("USERNAME", "PASSWORD"):
            return self._credential(cmd, args)
        if cmd == "LOGIN":
            return self._login(args)
        if cmd == "LOGOUT":
            self.done = True
            return line("OK Goodbye")
        if cmd in ("SET", "INSTCMD", "FSD", "PRIMARY", "MASTER"):
            return err("USERNAME-REQUIRED") if self.username is None else err("ACCESS-DENIED")
        return err("UNKNOWN-COMMAND")

    def _check_ups(self, name: str, *, data: bool = True) -> bytes | None:
        if name != self.model.ups_name:
            return err("UNKNOWN-UPS")
        if data:
            token = self.model.unavailable()
            if token is not None:
                return err(token)
        return None

    def _get(self, args: list[str]) -> bytes:
        if not args:
            return err("INVALID-ARGUMENT")
        sub, rest = args[0].upper(), args[1:]
        if sub == "TRACKING":
            return line("OFF")
        need = {"VAR": 2, "TYPE": 2, "DESC": 2, "CMDDESC": 2, "UPSDESC": 1, "NUMLOGINS": 1}.get(sub)
        if need is None or len(rest) < need:
            return err("INVALID-ARGUMENT")
        ups = rest[0]
        problem = self._check_ups(ups, data=sub != "UPSDESC")
        if problem is not None:
            return problem
        if sub == "UPSDESC":
            return line("UPSDESC", ups, q(self.model.desc))
        if sub == "NUMLOGINS":
            return line("NUMLOGINS", ups, str(self.server.numlogins()))
        name = rest[1]
        if sub == "DESC":
            return line("DESC", ups, name, q(DESCRIPTIONS.get(name, NO_DESC)))
        if sub == "CMDDESC":
            return line("CMDDESC", ups, name, q(NO_DESC))
        variables = self.model.variables()
        if name not in variables:
            return err("VAR-NOT-SUPPORTED")
        if sub == "VAR":
            return line("VAR", ups, name, q(variables[name]))
        return line("TYPE", ups, name, *self._type_words(name))

    def _type_words(self, name: str) -> list[str]:
        spec = self.model.dump.rw.get(name)
        if spec is None:
            return ["NUMBER"]
        if spec.type == "ENUM":
            return ["RW", "ENUM"]
        if spec.type == "STRING":
            return ["RW", f"STRING:{spec.maxlen or 32}"]
        return ["RW", spec.type]

    def _list(self, args: list[str]) -> bytes:
        if not args:
            return err("INVALID-ARGUMENT")
        sub = args[0].upper()
        if sub == "UPS":
            return block(["UPS"], [line("UPS", self.model.ups_name, q(self.model.desc))])
        if sub not in _LIST_KINDS:
            return err("INVALID-ARGUMENT")
        with_var = sub in ("ENUM", "RANGE")
        if len(args) < (3 if with_var else 2):
            return err("INVALID-ARGUMENT")
        ups = args[1]
        problem = self._check_ups(ups, data=sub != "CLIENT")
        if problem is not None:
            return problem
        query = [sub, ups] + ([args[2]] if with_var else [])
        variables = self.model.variables()
        items: list[bytes]
        if sub == "VAR":
            items = [line("VAR", ups, n, q(v)) for n, v in variables.items()]
        elif sub == "RW":
            items = [line("RW", ups, n, q(v)) for n, v in variables.items() if n in self.model.dump.rw]
        elif sub == "CMD":
            items = [line("CMD", ups, c) for c in self.model.dump.commands]
        elif sub == "CLIENT":
            items = [line("CLIENT", ups, s.peer) for s in sorted(self.server.logins, key=id)]
        else:
            var = args[2]
            if var not in variables:
                return err("VAR-NOT-SUPPORTED")
            spec = self.model.dump.rw.get(var)
            values = spec.values if (sub == "ENUM" and spec is not None) else ()
            items = [line("ENUM", ups, var, q(v)) for v in values]
        return block(query, items)

    def _credential(self, cmd: str, args: list[str]) -> bytes:
        if not args:
            return err("INVALID-ARGUMENT")
        if cmd == "USERNAME":
            if self.username is not None:
                return err("ALREADY-SET-USERNAME")
            self.username = args[0]
        else:
            if self.password is not None:
                return err("ALREADY-SET-PASSWORD")
            self.password = args[0]
        return line("OK")

    def _login(self, args: list[str]) -> bytes:
        if self.username is None:
            return err("USERNAME-REQUIRED")
        if self.password is None:
            return err("PASSWORD-REQUIRED")
        if not args:
            return err("INVALID-ARGUMENT")
        if args[0] != self.model.ups_name:
            return err("UNKNOWN-UPS")
        if self.logged_in is not None:
            return err("ALREADY-LOGGED-IN")
        if not self.server.accepts(self.username, self.password):
            return err("ACCESS-DENIED")
        self.logged_in = args[0]
        self.server.logins.add(self)
        return line("OK")


class NutServer(Simulator[NutUpsModel]):
    """``examhw.sim.nut``: serves one UPS replayed from a real NUT DDL dump.

    Options: ``dump`` (packaged file name or path; default the Santak Castle
    C1K dump) and ``ups`` (UPS name, default ``ups1``). Login is
    accepted for the role's secrets ``username``/``password`` (none → every
    LOGIN is ``ERR ACCESS-DENIED``, like an empty ``upsd.users``).
    """

    kind = DeviceKind.UPS

    def __init__(self, ctx: SimContext) -> None:
        super().__init__(ctx)
        dump = open_dump(str(ctx.opt("dump", DEFAULT_DUMP)), ctx.role)
        name = str(ctx.opt("ups", DEFAULT_UPS))
        if not name or any(c in name for c in ' \t"\\/@'):
            raise ConfigError(f"bad UPS name {name!r}", role=ctx.role, key="sim.ups")
        self._model = NutUpsModel(dump, ctx.clock, ups_name=name)
        self.logins: set[NutSession] = set()
        self.endpoint = TcpEndpoint(self._session, scheme="nut", faults=ctx.faults)

    def _session(self, link: ByteLink) -> NutSession:
        return NutSession(link, self, link.peer, link.hang_up)

    def accepts(self, username: str, password: str) -> bool:
        """Whether these credentials may LOGIN (compared, never logged)."""
        want_user = self.ctx.secrets.get("username")
        want_pw = self.ctx.secrets.get("password")
        return bool(want_user) and username == want_user and password == want_pw

    def numlogins(self) -> int:
        return len(self.logins)

    async def start(self) -> str:
        """Bind 127.0.0.1 (ephemeral port; the same port again after a stop)
        and return ``nut://127.0.0.1:PORT/<ups>``."""
        base = await self.endpoint.start()
        self.url = f"{base}/{self._model.ups_name}"
        log.info("NUT simulator for %s (%s) at %s", self.ctx.role, self._model.dump.name, self.url)
        return self.url

    async def stop(self) -> None:
        await self.endpoint.stop()
        self.logins.clear()

    async def drop_connections(self) -> None:
        """Cut every client connection (network failure)."""
        await self.endpoint.drop_connections()
