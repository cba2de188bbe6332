"""Modbus TCP client link: the only module that imports the pymodbus client.

A :class:`ModbusLink` talks to one unit id over one TCP connection
(``modbus+tcp://host:port?unit=N``) and offers typed reads and writes. No
pymodbus type leaves this module; pymodbus failures become examhw errors:

- an exception reply (function code | 0x80) → :class:`ModbusDeviceFault`
  (a :class:`~examhw.errors.DeviceFault` whose ``code`` is the Modbus exception
  code, with its name, e.g. ``ILLEGAL_DATA_ADDRESS``); the link stays up and
  nothing is retried (BR-04);
- no reply within the timeout → :class:`~examhw.errors.DeviceTimeout`; the
  connection is kept, because on a gateway one silent unit must not disturb
  the others (BR-05);
- connection refused, closed or lost → :class:`~examhw.errors.DeviceUnavailable`;
  reconnecting is the caller's decision (``DeviceBase`` reopens on next use),
  pymodbus's own background reconnect is switched off.

Pinned to pymodbus 3.16.1 (``device_id=`` keyword, ``AsyncModbusTcpClient``).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from ..errors import (ConfigError, DeviceFault, DeviceTimeout, DeviceUnavailable, FrameError,
                      ProtocolError)
from ..urls import DeviceURL

log = logging.getLogger("examhw.transports.modbus")

SCHEME = "modbus+tcp"
DEFAULT_PORT = 502

#: Modbus exception code → name (Modbus Application Protocol V1.1b3 §7).
EXCEPTION_NAMES: Mapping[int, str] = {
    0x01: "ILLEGAL_FUNCTION",
    0x02: "ILLEGAL_DATA_ADDRESS",
    0x03: "ILLEGAL_DATA_VALUE",
    0x04: "SERVER_DEVICE_FAILURE",
    0x05: "ACKNOWLEDGE",
    0x06: "SERVER_DEVICE_BUSY",
    0x08: "MEMORY_PARITY_ERROR",
    0x0A: "GATEWAY_PATH_UNAVAILABLE",
    0x0B: "GATEWAY_TARGET_DEVICE_FAILED_TO_RESPOND",
}

_FC_READ_COILS = 0x01
_FC_READ_DISCRETE_INPUTS = 0x02
_FC_READ_HOLDING_REGISTERS = 0x03
_FC_READ_INPUT_REGISTERS = 0x04
_FC_WRITE_SINGLE_COIL = 0x05
_MAX_BITS = 2000
_MAX_REGISTERS = 125
#: pymodbus closes a TCP link after retries+3 silent requests; we never want
#: that (BR-05), so the limit is set out of reach.
_NEVER_DISCONNECT = 2**31


def exception_name(code: int) -> str:
    """Name of a Modbus exception code (``EXCEPTION_<n>`` when not standard)."""
    return EXCEPTION_NAMES.get(code, f"EXCEPTION_{code}")


class ModbusDeviceFault(DeviceFault):
    """The unit answered with a Modbus exception reply.

    ``code`` is the exception code (int), ``name`` its standard name,
    ``function`` the request's function code, ``unit`` and ``address`` what
    was asked for. The link is healthy: the device answered.
    """

    def __init__(self, *, code: int, function: int, unit: int, address: int,
                 role: str | None = None) -> None:
        self.name = exception_name(code)
        self.function = function
        self.unit = unit
        self.address = address
        super().__init__(f"Modbus exception {self.name} for function 0x{function:02X} "
                         f"unit {unit} address {address}", code=code, role=role)


@dataclass(frozen=True)
class ModbusTarget:
    """Where a unit is: TCP host and port, and the Modbus unit id (0…247)."""

    host: str
    port: int
    unit: int

    @classmethod
    def from_url(cls, url: DeviceURL, *, unit: int | None = None) -> "ModbusTarget":
        """Parse ``modbus+tcp://host[:port][?unit=N]``.

        ``unit`` (e.g. from a driver option) is used when the URL has none;
        when both are given they must agree. Raises :class:`ConfigError`.
        """
        if url.scheme != SCHEME:
            raise ConfigError(f"Modbus URL must use {SCHEME}://, not {url.scheme}://")
        if not url.host:
            raise ConfigError(f"Modbus URL {url.redacted()} has no host")
        url_unit: int | None = None
        if "unit" in url.query:
            try:
                url_unit = int(url.query["unit"])
            except ValueError:
                raise ConfigError(f"Modbus URL unit={url.query['unit']!r} is not an integer") from None
        if url_unit is not None and unit is not None and url_unit != unit:
            raise ConfigError(f"Modbus unit {unit} (option) disagrees with unit={url_unit} in the URL")
        chosen = url_unit if url_unit is not None else (unit if unit is not None else 1)
        if not 0 <= chosen <= 247:
            raise ConfigError(f"Modbus unit id {chosen} is outside 0…247")
        return cls(url.host, url.port or DEFAULT_PORT, chosen)


class ModbusLink:
    """One open Modbus TCP connection to one unit.

    Build it with :func:`open_modbus_tcp`. Calls are serialised (one
    outstanding request). ``timeout_s`` (real seconds) bounds every request.
    """

    def __init__(self, target: ModbusTarget, *, timeout_s: float, role: str | None = None) -> None:
        self.target = target
        self.timeout_s = float(timeout_s)
        self.role = role
        self._lost = asyncio.Event()
        self._client = AsyncModbusTcpClient(
            target.host, port=target.port, name=f"examhw-{role or 'modbus'}",
            timeout=self.timeout_s, retries=0, reconnect_delay=0,
            trace_connect=self._on_connect_change)
        self._client.set_max_no_responses(_NEVER_DISCONNECT)
        self._closed = False

    @property
    def description(self) -> str:
        return f"{SCHEME}://{self.target.host}:{self.target.port} unit {self.target.unit}"

    @property
    def connected(self) -> bool:
        """True while the TCP connection is up."""
        return not self._closed and self._client.connected and not self._lost.is_set()

    def _on_connect_change(self, up: bool) -> None:
        if up:
            self._lost.clear()
        else:
            self._lost.set()

    async def _connect(self) -> None:
        try:
            ok = await self._client.connect()
        except OSError as exc:   # pymodbus normally swallows these; be safe
            raise DeviceUnavailable(f"cannot connect to {self.description}: {exc}", role=self.role) from exc
        if not ok:
            raise DeviceUnavailable(f"cannot connect to {self.description} (refused or timed out)",
                                    role=self.role)

    # -- reads / writes ------------------------------------------------------
    async def read_discrete_inputs(self, address: int, count: int = 1) -> list[bool]:
        """FC 02: ``count`` (1…2000) inputs from ``address``."""
        _check_range(address, count, _MAX_BITS)
        reply = await self._execute(_FC_READ_DISCRETE_INPUTS, address,
                                    lambda: self._client.read_discrete_inputs(
                                        address, count=count, device_id=self.target.unit))
        return _bits(reply, count, self.description)

    async def read_coils(self, address: int, count: int = 1) -> list[bool]:
        """FC 01: ``count`` (1…2000) coils from ``address``."""
        _check_range(address, count, _MAX_BITS)
        reply = await self._execute(_FC_READ_COILS, address,
                                    lambda: self._client.read_coils(
                                        address, count=count, device_id=self.target.unit))
        return _bits(reply, count, self.description)

    async def read_input_registers(self, address: int, count: int = 1) -> list[int]:
        """FC 04: ``count`` (1…125) 16-bit input registers from ``address``."""
        _check_range(address, count, _MAX_REGISTERS)
        reply = await self._execute(_FC_READ_INPUT_REGISTERS, address,
                                    lambda: self._client.read_input_registers(
                                        address, count=count, device_id=self.target.unit))
        return _registers(reply, count, self.description)

    async def read_holding_registers(self, address: int, count: int = 1) -> list[int]:
        """FC 03: ``count`` (1…125) 16-bit holding registers from ``address``."""
        _check_range(address, count, _MAX_REGISTERS)
        reply = await self._execute(_FC_READ_HOLDING_REGISTERS, address,
                                    lambda: self._client.read_holding_registers(
                                        address, count=count, device_id=self.target.unit))
        return _registers(reply, count, self.description)

    async def write_coil(self, address: int, value: bool) -> None:
        """FC 05: set coil ``address`` on/off."""
        _check_range(address, 1, 1)
        await self._execute(_FC_WRITE_SINGLE_COIL, address,
                            lambda: self._client.write_coil(
                                address, bool(value), device_id=self.target.unit))

    async def close(self) -> None:
        """Close the connection; idempotent, never raises."""
        self._closed = True
        self._client.close()

    # -- the one place pymodbus errors are mapped ----------------------------
    async def _execute(self, function: int, address: int,
                       call: Callable[[], Awaitable[Any]]) -> Any:
        """One request; an ACKNOWLEDGE (05) or SERVER DEVICE BUSY (06)
        exception is retried with back-off while the call's time lasts
        (BR-04). Codes 01-03 are configuration errors and never retried."""
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        pause = 0.05
        while True:
            try:
                return await self._execute_once(function, address, call)
            except ModbusDeviceFault as exc:
                left = deadline - asyncio.get_running_loop().time()
                if exc.code not in _BUSY_CODES or left <= pause:
                    raise
                log.debug("%s: device busy (code %d), retrying in %.2f s", self.description, exc.code, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.5)

    async def _execute_once(self, function: int, address: int,
                            call: Callable[[], Awaitable[Any]]) -> Any:
        if self._closed:
            raise DeviceUnavailable(f"{self.description}: link is closed", role=self.role)
        if not self.connected:
            raise DeviceUnavailable(f"{self.description}: connection lost", role=self.role)

        async def run() -> Any:        # pymodbus may raise before its first await
            return await call()

        request = asyncio.ensure_future(run())
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            done, _ = await asyncio.wait({request, lost}, timeout=self.timeout_s + 1.0,
                                         return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:     # caller's own timeout: do not leave the request behind
            request.cancel()
            raise
        finally:
            lost.cancel()
        if request not in done:
            request.cancel()
            if lost in done:
                raise DeviceUnavailable(f"{self.description}: connection lost during request",
                                        role=self.role)
            raise DeviceTimeout(f"{self.description}: no reply within {self.timeout_s:.2f} s",
                                role=self.role)
        try:
            reply = request.result()
        except ConnectionException as exc:
            raise DeviceUnavailable(f"{self.description}: {exc.string}", role=self.role) from exc
        except ModbusIOException as exc:
            if "No response" in exc.string:
                raise DeviceTimeout(f"{self.description}: no reply within {self.timeout_s:.2f} s",
                                    role=self.role) from exc
            raise ProtocolError(f"{self.description}: {exc.string}", role=self.role) from exc
        except ModbusException as exc:
            raise ProtocolError(f"{self.description}: {exc.string}", role=self.role) from exc
        except OSError as exc:
            raise DeviceUnavailable(f"{self.description}: I/O error: {exc}", role=self.role) from exc
        if reply is None:
            raise ProtocolError(f"{self.description}: empty reply", role=self.role)
        reply_fc = int(getattr(reply, "function_code", 0))
        if reply.isError():
            code = int(getattr(reply, "exception_code", 0))
            raise ModbusDeviceFault(code=code, function=function, unit=self.target.unit,
                                    address=address, role=self.role)
        if reply_fc != function:
            raise ProtocolError(f"{self.description}: reply function 0x{reply_fc:02X} "
                                f"to request 0x{function:02X}", role=self.role)
        return reply


#: exception codes that mean "try again shortly": ACKNOWLEDGE, SERVER DEVICE BUSY
_BUSY_CODES = frozenset({5, 6})


def _check_range(address: int, count: int, max_count: int) -> None:
    if not 0 <= address <= 0xFFFF:
        raise ValueError(f"Modbus address {address} outside 0…65535")
    if not 1 <= count <= max_count or address + count > 0x10000:
        raise ValueError(f"Modbus quantity {count} at {address} outside 1…{max_count}")


def _bits(reply: Any, count: int, where: str) -> list[bool]:
    bits = list(getattr(reply, "bits", []) or [])
    if len(bits) < count:
        raise FrameError(f"{where}: reply has {len(bits)} bits, asked for {count}")
    return [bool(b) for b in bits[:count]]


def _registers(reply: Any, count: int, where: str) -> list[int]:
    regs = list(getattr(reply, "registers", []) or [])
    if len(regs) != count:
        raise FrameError(f"{where}: reply has {len(regs)} registers, asked for {count}")
    return [int(r) & 0xFFFF for r in regs]


async def open_modbus_tcp(url: DeviceURL, *, unit: int | None = None, timeout_s: float = 5.0,
                          role: str | None = None) -> ModbusLink:
    """Connect to ``modbus+tcp://host:port?unit=N`` and return the link.

    ``timeout_s`` (real seconds) bounds the connect and every request.
    Raises :class:`ConfigError` (bad URL) or :class:`DeviceUnavailable`.
    """
    link = ModbusLink(ModbusTarget.from_url(url, unit=unit), timeout_s=timeout_s, role=role)
    try:
        await link._connect()
    except DeviceUnavailable:
        await link.close()
        raise
    log.debug("connected to %s", link.description)
    return link
