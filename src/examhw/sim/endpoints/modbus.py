"""Modbus TCP endpoint: the only module that imports the pymodbus server.

Serves one unit id on ``127.0.0.1`` (ephemeral port on the first start; a
restart binds the same port again so a driver's URL stays valid). The four
Modbus tables (discrete inputs, coils, input registers, holding registers)
are plain Python lists owned by this endpoint; a device model changes them
through :meth:`ModbusTcpEndpoint.set_discrete_inputs` & co, or refreshes them
just in time from the ``before_request`` hook. pymodbus (3.16.1) only does the
framing: its datastore is overwritten from our tables on every access.

Behaviour on the wire (see docs/protocols/wtmd-modbus-di.md §2):

- addresses outside a table's size → exception 02 ILLEGAL_DATA_ADDRESS;
- another unit id → exception 0B GATEWAY_TARGET_DEVICE_FAILED_TO_RESPOND
  (what a Modbus TCP gateway answers when no RTU unit responds);
- :attr:`force_exception` answers every request with that exception code;
- :attr:`silent` (or a :class:`FaultPlan` ``drop``) swallows replies;
  ``garble``/``prefix`` alter them; ``delay_s`` delays them.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Sequence

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from ..faults import FaultPlan

log = logging.getLogger("examhw.sim.modbus")

#: table names, in the order pymodbus wants non-shared blocks
TABLES = ("coils", "discrete_inputs", "holding_registers", "input_registers")
_TABLE_OF_FC = {1: "coils", 5: "coils", 15: "coils", 2: "discrete_inputs",
                3: "holding_registers", 6: "holding_registers", 16: "holding_registers",
                4: "input_registers"}
_BIT_TABLES = ("coils", "discrete_inputs")
_MAX_BITS = 2000          # largest FC 01/02 quantity
_MAX_REGISTERS = 125      # largest FC 03/04 quantity
_INVALID_ADDRESS = 0xFFFF

#: ``on_write(table, address, values)`` — called after a client write.
WriteHook = Callable[[str, int, list[Any]], None]


class ModbusTcpEndpoint:
    """A Modbus TCP server for one unit on loopback.

    Table sizes are the number of valid addresses, starting at 0 (0 = the
    table does not exist). ``before_request()`` runs before every table
    access (keep it quick and synchronous); ``on_write`` reports client
    writes to coils / holding registers.
    """

    def __init__(self, unit: int = 1, *, discrete_inputs: int = 8, coils: int = 8,
                 input_registers: int = 0, holding_registers: int = 0,
                 faults: FaultPlan | None = None,
                 before_request: Callable[[], None] | None = None,
                 on_write: WriteHook | None = None, scheme: str = "modbus+tcp") -> None:
        if not 1 <= unit <= 247:
            raise ValueError(f"unit id {unit} outside 1…247")
        sizes = {"coils": coils, "discrete_inputs": discrete_inputs,
                 "holding_registers": holding_registers, "input_registers": input_registers}
        for name, size in sizes.items():
            if not 0 <= size <= 0x10000:
                raise ValueError(f"{name} size {size} outside 0…65536")
        self.unit = unit
        self.scheme = scheme
        self.faults = faults or FaultPlan()
        self._before = before_request
        self._on_write = on_write
        self._tables: dict[str, list[Any]] = {
            name: ([False] * size if name in _BIT_TABLES else [0] * size)
            for name, size in sizes.items()}
        self._server: ModbusTcpServer | None = None
        self.port = 0
        #: answer every request with this exception code (None = normal)
        self.force_exception: int | None = None
        #: swallow every reply (a unit that went quiet)
        self.silent = False
        #: client connections accepted since construction
        self.connections = 0
        #: requests received for any unit since construction
        self.requests = 0

    # -- typed value API -----------------------------------------------------
    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}?unit={self.unit}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def set_discrete_inputs(self, address: int, values: Sequence[bool]) -> None:
        """Set inputs ``address…`` (electrical levels as the module reads them)."""
        self._store("discrete_inputs", address, [bool(v) for v in values])

    def set_discrete_input(self, address: int, value: bool) -> None:
        self.set_discrete_inputs(address, [value])

    def set_coils(self, address: int, values: Sequence[bool]) -> None:
        self._store("coils", address, [bool(v) for v in values])

    def set_coil(self, address: int, value: bool) -> None:
        self.set_coils(address, [value])

    def set_input_registers(self, address: int, values: Sequence[int]) -> None:
        """Set 16-bit input registers ``address…`` (each 0…65535)."""
        self._store("input_registers", address, _u16s(values))

    def set_input_register(self, address: int, value: int) -> None:
        self.set_input_registers(address, [value])

    def set_holding_registers(self, address: int, values: Sequence[int]) -> None:
        self._store("holding_registers", address, _u16s(values))

    def set_holding_register(self, address: int, value: int) -> None:
        self.set_holding_registers(address, [value])

    def table(self, name: str) -> tuple[Any, ...]:
        """Current content of table ``name`` (one of :data:`TABLES`)."""
        return tuple(self._tables[name])

    def _store(self, name: str, address: int, values: list[Any]) -> None:
        table = self._tables[name]
        if address < 0 or address + len(values) > len(table):
            raise IndexError(f"{name}[{address}:{address + len(values)}] outside 0…{len(table)}")
        table[address:address + len(values)] = values

    # -- lifecycle -----------------------------------------------------------
    async def start(self) -> str:
        """Listen on 127.0.0.1 (the previous port on a restart, else an
        ephemeral one) and return ``modbus+tcp://127.0.0.1:PORT?unit=N``.
        Raises :class:`OSError` if the port cannot be bound."""
        if self._server is not None:
            return self.url
        server = ModbusTcpServer(
            [self._device(), self._other_units()],
            address=("127.0.0.1", self.port),
            trace_packet=self._trace_packet, trace_pdu=self._trace_pdu,
            trace_connect=self._trace_connect)
        try:
            await server.serve_forever(background=True)
        except RuntimeError as exc:   # pymodbus: "Could not start listen"
            raise OSError(f"cannot listen on 127.0.0.1:{self.port}: {exc}") from exc
        listener = server.transport
        self.port = listener.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._server = server
        log.debug("modbus endpoint unit %d on %s", self.unit, self.url)
        return self.url

    async def stop(self) -> None:
        """Close the listener and every client connection; idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        listener = server.transport
        await server.shutdown()
        if listener is not None:
            await listener.wait_closed()  # type: ignore[attr-defined]

    async def drop_connections(self) -> None:
        """Close every client connection but keep listening (network cut)."""
        if self._server is None:
            return
        for conn in list(self._server.active_connections.values()):
            conn.close()

    # -- pymodbus glue -------------------------------------------------------
    def _device(self) -> SimDevice:
        blocks = []
        for name in TABLES:
            size = max(1, len(self._tables[name]))
            if name in _BIT_TABLES:
                blocks.append([SimData(0, values=[False] * size, datatype=DataType.BITS)])
            else:
                blocks.append([SimData(0, values=[0] * size, datatype=DataType.REGISTERS)])
        return SimDevice(id=self.unit, simdata=tuple(blocks), action=self._action)  # type: ignore[arg-type]

    def _other_units(self) -> SimDevice:
        """Device id 0 = every other unit id: answers exception 0B."""
        return SimDevice(id=0, simdata=(
            [SimData(0, values=[False] * _MAX_BITS, datatype=DataType.BITS)],
            [SimData(0, values=[False] * _MAX_BITS, datatype=DataType.BITS)],
            [SimData(0, values=[0] * _MAX_REGISTERS, datatype=DataType.REGISTERS)],
            [SimData(0, values=[0] * _MAX_REGISTERS, datatype=DataType.REGISTERS)],
        ), action=_no_such_unit)

    def _trace_connect(self, up: bool) -> None:
        if up:
            self.connections += 1

    def _trace_pdu(self, sending: bool, pdu: Any) -> Any:
        """Screen a received request before pymodbus serves it: other units go
        to the catch-all device, out-of-table spans to an invalid address."""
        if sending:
            return pdu
        self.requests += 1
        fc = int(getattr(pdu, "function_code", 0))
        if pdu.dev_id != self.unit:
            pdu.address = 0
            return pdu
        name = _TABLE_OF_FC.get(fc)
        if name is None:
            return pdu
        if fc in (5, 6):
            span = 1
        elif fc == 15:
            span = len(pdu.bits)
        elif fc == 16:
            span = len(pdu.registers)
        else:
            span = int(pdu.count)
        if pdu.address + span > len(self._tables[name]):
            pdu.address = _INVALID_ADDRESS
        return pdu

    def _trace_packet(self, sending: bool, data: bytes) -> bytes:
        if not sending:
            return data
        if self.silent:
            return b""
        return b"".join(chunk for _delay, chunk in self.faults.shape(data))

    async def _action(self, function_code: int, start_address: int, address: int, count: int,
                      registers: list[int], values: list[Any] | None) -> ExcCodes | None:
        """Called by pymodbus for every table access of our unit."""
        _ = start_address, count
        if self.faults.delay_s > 0:
            await asyncio.sleep(self.faults.delay_s)
        if self.force_exception is not None:
            return ExcCodes(self.force_exception)
        if self._before is not None:
            self._before()
        name = _TABLE_OF_FC[function_code]
        table = self._tables[name]
        if name in _BIT_TABLES:
            packed = _pack_bits(table)
            registers[:len(packed)] = packed
        else:
            registers[:len(table)] = table
        if values:
            written = [bool(v) for v in values] if name in _BIT_TABLES else _u16s(values)
            table[address:address + len(written)] = written
            if self._on_write is not None:
                self._on_write(name, address, list(written))
        return None


async def _no_such_unit(function_code: int, start_address: int, address: int, count: int,
                        registers: list[int], values: list[Any] | None) -> ExcCodes:
    _ = function_code, start_address, address, count, registers, values
    return ExcCodes.GATEWAY_NO_RESPONSE


def _pack_bits(bits: Sequence[bool]) -> list[int]:
    """Bits → 16-bit words, bit 0 of word 0 first (pymodbus block layout)."""
    words = [0] * ((len(bits) + 15) // 16)
    for i, bit in enumerate(bits):
        if bit:
            words[i // 16] |= 1 << (i % 16)
    return words


def _u16s(values: Sequence[int]) -> list[int]:
    out = []
    for v in values:
        iv = int(v)
        if not 0 <= iv <= 0xFFFF:
            raise ValueError(f"register value {iv} outside 0…65535")
        out.append(iv)
    return out
