"""NUT network client driver for UPSes (``examhw.nut``).

Protocol: ``docs/protocols/nut.md``. Credentials (secrets ``username`` /
``password``) are sent only inside the protocol and never logged.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Mapping

from examhw.errors import (ConfigError, DeviceError, DeviceFault, DeviceTimeout, DeviceUnavailable,
                           ProtocolError)
from examhw.kinds import ConnState, DeviceInfo, DriverContext
from examhw.kinds.ups import PowerSource, Ups, UpsStatus
from examhw.transports.stream import ByteStream, request
from examhw.transports.tcp import open_tcp
from examhw.urls import DeviceURL

from .codec import (ErrReply, ListReply, OkReply, Reply, ReplyDecoder, TextReply, VarReply,
                    encode_command)
from .status import ParsedStatus, Severity, parse_status

log = logging.getLogger("examhw.drivers.nut_ups")

DEFAULT_PORT = 3493
#: variables whose byte-identical repetition counts as "frozen" (BR-20)
FROZEN_KEYS = ("ups.status", "battery.charge", "battery.runtime", "battery.voltage",
               "input.voltage", "output.voltage", "ups.load")
#: ERR tokens that mean "no current data" → (flag, event reason)
STALE_TOKENS = {"DATA-STALE": ("STALE", "stale"), "DRIVER-NOT-CONNECTED": ("DRIVER_DOWN", "driver_down")}
#: ERR tokens that mean we sent something the server does not understand
PROTOCOL_TOKENS = frozenset({"UNKNOWN-COMMAND", "INVALID-ARGUMENT"})


def _number(vars: Mapping[str, str], name: str) -> float | None:
    raw = vars.get(name)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def _fault(reply: ErrReply, what: str, role: str) -> DeviceError:
    """Typed error for an ``ERR`` reply we cannot turn into a status."""
    if reply.token in PROTOCOL_TOKENS:
        return ProtocolError(f"upsd rejected {what}: ERR {reply.token}", role=role)
    return DeviceFault(f"upsd refused {what}", code=reply.token, role=role)


class NutUps(Ups):
    """A UPS served by a NUT ``upsd`` (URL ``nut://host[:port]/<upsname>``).

    Options:

    - ``ups`` (str): the UPS name when the URL has no path;
    - ``frozen_after_s`` (float, site seconds, default 0 = off): flag ``FROZEN``
      when the key readings have not changed for that long (BR-20);
    - ``timeout_s`` (float, real seconds): per-request timeout.

    Secrets ``username`` / ``password`` (or URL credentials) make the driver
    ``LOGIN`` to the UPS (needs the upsmon role on the server).

    Events: ``power_lost`` / ``power_restored`` (source battery ↔ mains),
    ``battery_low`` (rising edge of LB/FSD), ``data_stale`` (entering a state
    without current data; ``reason`` = ``stale`` / ``driver_down`` / ``frozen``).
    """

    capabilities = frozenset({"events", "vars"})

    def __init__(self, role: str, url: DeviceURL, options: Mapping[str, Any] | None = None,
                 ctx: DriverContext | None = None) -> None:
        super().__init__(role, url, options, ctx)
        name = url.path.strip("/") or str(self.options.get("ups", "") or "")
        if "/" in name:
            raise ConfigError(f"UPS name {name!r} must not contain '/'", role=role, key="url")
        self.ups_name: str = name
        self.frozen_after_s = float(self.options.get("frozen_after_s", 0.0) or 0.0)
        #: what the server said to VER / NETVER (empty until opened)
        self.server_version = ""
        self.protocol_version = ""
        self.last_status: UpsStatus | None = None
        self.last_severity: Severity | None = None
        self._stream: ByteStream | None = None
        self._decoder = ReplyDecoder()
        self._served = 0                         # replies received on the current connection
        self._logged_in = False
        self._closing: set[asyncio.Task[None]] = set()
        # event state
        self._last_definite: PowerSource | None = None
        self._was_low = False
        self._stale_reasons: frozenset[str] = frozenset()
        self._frozen_key: tuple[str | None, ...] | None = None
        self._frozen_since = 0.0
        self._unknown_seen: set[str] = set()
        self._creds = self._credentials()          # ConfigError early, not at open()

    # -- credentials (never logged) ----------------------------------------------
    def _credentials(self) -> tuple[str, str] | None:
        user = self.ctx.secrets.get("username") or self.url.user
        password = self.ctx.secrets.get("password") or self.url.password
        if not user and not password:
            return None
        if not user or not password:
            raise ConfigError("NUT login needs both username and password", role=self.role,
                              key="secrets")
        return user, password

    # -- lifecycle -----------------------------------------------------------------
    async def _open(self) -> None:
        self._stream = await open_tcp(self.url, default_port=DEFAULT_PORT, timeout=self.timeout_s)
        self._decoder.reset()
        self._served = 0
        self._logged_in = False
        try:
            await self._handshake()
        except BaseException:
            await self._close()
            raise
        log.info("%s: connected to %s (%s, protocol %s), UPS %r", self.role, self.url.redacted(),
                 self.server_version or "?", self.protocol_version or "?", self.ups_name)

    async def _handshake(self) -> None:
        ver = await self._ask("VER")
        if not isinstance(ver, TextReply):
            raise ProtocolError(f"VER answered {ver!r}: not a NUT server?", role=self.role)
        self.server_version = ver.text
        netver = await self._ask("NETVER")
        if isinstance(netver, TextReply):
            self.protocol_version = netver.text
        elif not (isinstance(netver, ErrReply) and netver.token == "UNKNOWN-COMMAND"):
            raise ProtocolError(f"NETVER answered {netver!r}", role=self.role)
        await self._check_ups()
        if self._creds is not None:
            await self._login(*self._creds)
        await self._read_identity()

    async def _check_ups(self) -> None:
        reply = await self._ask("LIST", "UPS")
        if isinstance(reply, ErrReply):
            raise _fault(reply, "LIST UPS", self.role)
        if not isinstance(reply, ListReply) or reply.query != ("UPS",):
            raise ProtocolError(f"LIST UPS answered {reply!r}", role=self.role)
        names = reply.names()
        if not self.ups_name:
            if len(names) != 1:
                raise DeviceFault(f"server has UPSes {names}; name one in the URL path or the "
                                  f"'ups' option", code="UNKNOWN-UPS", role=self.role)
            self.ups_name = names[0]
        elif self.ups_name not in names:
            raise DeviceFault(f"server has no UPS {self.ups_name!r} (it has {names})",
                              code="UNKNOWN-UPS", role=self.role)

    async def _login(self, user: str, password: str) -> None:
        for verb, arg in (("USERNAME", user), ("PASSWORD", password), ("LOGIN", self.ups_name)):
            reply = await self._ask(verb, arg)
            if isinstance(reply, OkReply):
                continue
            if isinstance(reply, ErrReply) and reply.token == "ALREADY-LOGGED-IN":
                continue
            if isinstance(reply, ErrReply):
                raise _fault(reply, verb, self.role)
            raise ProtocolError(f"{verb} answered an unexpected reply", role=self.role)
        self._logged_in = True

    async def _read_identity(self) -> None:
        reply = await self._ask("LIST", "VAR", self.ups_name)
        if isinstance(reply, ListReply):
            self._set_info(self._vars_of(reply))
        elif isinstance(reply, ErrReply) and reply.token in STALE_TOKENS:
            log.warning("%s: UPS %r has no current data (%s) at connect", self.role,
                        self.ups_name, reply.token)
        elif isinstance(reply, ErrReply):
            raise _fault(reply, "LIST VAR", self.role)
        else:
            raise ProtocolError(f"LIST VAR answered {reply!r}", role=self.role)

    def _set_info(self, vars: Mapping[str, str]) -> None:
        def pick(*names: str) -> str:
            return next((vars[n] for n in names if vars.get(n)), "")
        self.info = DeviceInfo(vendor=pick("device.mfr", "ups.mfr"),
                               model=pick("device.model", "ups.model"),
                               serial=pick("device.serial", "ups.serial"),
                               firmware=pick("ups.firmware"))

    async def _close(self) -> None:
        stream, self._stream = self._stream, None
        self._decoder.reset()
        if stream is None:
            return
        if self._logged_in:
            self._logged_in = False
            try:
                await stream.write(encode_command("LOGOUT"))
            except (DeviceError, OSError):
                pass
        await stream.close()

    def _discard_stream(self) -> None:
        """Drop the connection after a timeout/garbage (a late reply must never
        be taken for the next request's); the next call reconnects."""
        stream, self._stream = self._stream, None
        self._decoder.reset()
        self._logged_in = False
        if stream is not None:
            task = asyncio.get_running_loop().create_task(stream.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _probe(self) -> str:
        async with self._lock:
            reply = await self._request("GET", "VAR", self.ups_name, "ups.status")
        if isinstance(reply, VarReply):
            return f"ups.status={reply.value!r}"
        if isinstance(reply, ErrReply) and reply.token in STALE_TOKENS:
            return reply.token
        if isinstance(reply, ErrReply) and reply.token == "VAR-NOT-SUPPORTED":
            return "no ups.status"
        if isinstance(reply, ErrReply):
            raise _fault(reply, "GET VAR", self.role)
        raise ProtocolError(f"GET VAR answered {reply!r}", role=self.role)

    # -- requests ------------------------------------------------------------------
    async def _ask(self, *words: str) -> Reply:
        """One request on the current connection; timeouts and garbage drop it."""
        stream = self._stream
        if stream is None:
            raise DeviceUnavailable("not connected", role=self.role)
        try:
            reply = await request(stream, self._decoder, encode_command(*words),
                                  timeout=self.timeout_s)
        except (DeviceTimeout, ProtocolError, DeviceUnavailable, asyncio.CancelledError):
            self._discard_stream()
            raise
        self._served += 1
        return reply

    async def _request(self, *words: str) -> Reply:
        """Like :meth:`_ask`, but (re)connects first when needed, and retries
        once on a fresh connection when a reused idle one turns out dead."""
        if self._stream is None:
            await self._open()
        reused = self._served > 0
        try:
            return await self._ask(*words)
        except DeviceUnavailable:
            if not reused:
                raise
            log.info("%s: NUT connection was closed; reconnecting", self.role)
        await self._open()
        return await self._ask(*words)

    def _vars_of(self, reply: ListReply) -> dict[str, str]:
        if reply.query != ("VAR", self.ups_name):
            self._discard_stream()
            raise ProtocolError(f"asked LIST VAR {self.ups_name}, got LIST {' '.join(reply.query)}",
                                role=self.role)
        return reply.vars()

    # -- public API ----------------------------------------------------------------
    async def status(self) -> UpsStatus:
        """Read every variable with one ``LIST VAR`` and normalise it.

        Returns source UNKNOWN with flag ``STALE`` / ``DRIVER_DOWN`` when upsd
        has no current data (no exception). Raises :class:`DeviceFault`
        (``UNKNOWN-UPS``, …), :class:`DeviceUnavailable` (server unreachable),
        :class:`DeviceTimeout` (no reply within ``timeout_s`` real seconds) or
        :class:`ProtocolError` (garbage). Emits power events on transitions.
        """
        async with self._lock:
            return await self._call(self._read_status(), timeout=self.timeout_s * 3 + 1.0)

    async def vars(self) -> dict[str, str]:
        """All variables of the UPS as served (same round trip as :meth:`status`)."""
        return dict((await self.status()).vars)

    async def _read_status(self) -> UpsStatus:
        reply = await self._request("LIST", "VAR", self.ups_name)
        if isinstance(reply, ListReply):
            vars = self._vars_of(reply)
            if not self.info.vendor and not self.info.model:
                self._set_info(vars)
            return self._evaluate(vars, frozenset())
        if isinstance(reply, ErrReply) and reply.token in STALE_TOKENS:
            return self._evaluate({}, frozenset({STALE_TOKENS[reply.token][0]}))
        if isinstance(reply, ErrReply):
            raise _fault(reply, "LIST VAR", self.role)
        self._discard_stream()
        raise ProtocolError(f"LIST VAR answered {type(reply).__name__}", role=self.role)

    # -- evaluation and events -----------------------------------------------------
    def _frozen(self, vars: Mapping[str, str]) -> bool:
        if self.frozen_after_s <= 0 or not vars:
            return False
        key = tuple(vars.get(k) for k in FROZEN_KEYS)
        now = self.ctx.clock.now()
        if key != self._frozen_key:
            self._frozen_key = key
            self._frozen_since = now
            return False
        return now - self._frozen_since >= self.frozen_after_s

    def _evaluate(self, vars: dict[str, str], extra: frozenset[str]) -> UpsStatus:
        if self._frozen(vars):
            extra = extra | {"FROZEN"}
        parsed = parse_status(vars.get("ups.status"), extra)
        for token in parsed.unknown - self._unknown_seen:
            self._unknown_seen.add(token)
            log.info("%s: unknown ups.status token %r kept", self.role, token)
        status = UpsStatus(source=parsed.source, flags=parsed.flags,
                           charge_pct=_number(vars, "battery.charge"),
                           runtime_s=_number(vars, "battery.runtime"),
                           input_v=_number(vars, "input.voltage"),
                           load_pct=_number(vars, "ups.load"), vars=vars)
        self._emit_transitions(status, parsed, extra)
        self.last_status = status
        self.last_severity = parsed.severity
        if parsed.severity >= Severity.WARNING or parsed.source != PowerSource.MAINS:
            self._set_state(ConnState.DEGRADED, f"ups {parsed.source.value}, "
                            f"{' '.join(sorted(parsed.flags)) or 'no flags'}")
        else:
            self._set_state(ConnState.READY, "ups on mains")
        return status

    def _emit_transitions(self, status: UpsStatus, parsed: ParsedStatus, extra: frozenset[str]) -> None:
        data = {"flags": sorted(status.flags), "charge_pct": status.charge_pct,
                "runtime_s": status.runtime_s, "severity": parsed.severity.name}
        reasons = frozenset(r for flag, r in (*STALE_TOKENS.values(), ("FROZEN", "frozen"))
                            if flag in extra)
        for reason in sorted(reasons - self._stale_reasons):
            log.warning("%s: UPS data not current (%s); power source unknown", self.role, reason)
            self.events.emit("data_stale", reason=reason, **data)
        self._stale_reasons = reasons
        if parsed.source == PowerSource.BATTERY and self._last_definite != PowerSource.BATTERY:
            log.warning("%s: UPS on battery (%s)", self.role, " ".join(data["flags"]))
            self.events.emit("power_lost", **data)
        elif parsed.source == PowerSource.MAINS and self._last_definite == PowerSource.BATTERY:
            log.info("%s: mains power restored", self.role)
            self.events.emit("power_restored", **data)
        if parsed.source in (PowerSource.MAINS, PowerSource.BATTERY):
            self._last_definite = parsed.source
        if "ups.status" in status.vars:          # LB is only known with real data
            if parsed.low_battery and not self._was_low:
                log.warning("%s: UPS battery low", self.role)
                self.events.emit("battery_low", source=parsed.source.value, **data)
            self._was_low = parsed.low_battery
