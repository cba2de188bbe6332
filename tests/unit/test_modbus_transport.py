"""examhw.transports.modbus: URL parsing, exception-code mapping and link
behaviour against the Modbus TCP sim endpoint (and a raw socket peer for
replies pymodbus would never send). BR-04: an exception reply is a typed
DeviceFault and the link stays up; BR-05: a silent unit never closes the link."""
import asyncio
import socket

import pytest

from examhw.errors import (ConfigError, DeviceFault, DeviceTimeout, DeviceUnavailable, FrameError,
                           ProtocolError)
from examhw.sim.endpoints.modbus import ModbusTcpEndpoint
from examhw.transports.modbus import (EXCEPTION_NAMES, ModbusDeviceFault, ModbusTarget, exception_name,
                                      open_modbus_tcp)
from examhw.urls import DeviceURL


# -- URL ------------------------------------------------------------------------
def test_target_defaults_and_query():
    t = ModbusTarget.from_url(DeviceURL.parse("modbus+tcp://10.0.0.5"))
    assert (t.host, t.port, t.unit) == ("10.0.0.5", 502, 1)
    t = ModbusTarget.from_url(DeviceURL.parse("modbus+tcp://h:1502?unit=7"))
    assert (t.port, t.unit) == (1502, 7)
    assert ModbusTarget.from_url(DeviceURL.parse("modbus+tcp://h"), unit=9).unit == 9
    assert ModbusTarget.from_url(DeviceURL.parse("modbus+tcp://h?unit=9"), unit=9).unit == 9


@pytest.mark.parametrize("url, unit", [
    ("tcp://h:502", None),                 # wrong scheme
    ("modbus+tcp://h?unit=x", None),       # not an int
    ("modbus+tcp://h?unit=248", None),     # out of range
    ("modbus+tcp://h?unit=2", 3),          # option and URL disagree
    ("modbus+tcp:///nohost", None),
])
def test_target_rejects_bad_urls(url, unit):
    with pytest.raises(ConfigError):
        ModbusTarget.from_url(DeviceURL.parse(url), unit=unit)


def test_exception_names():
    assert exception_name(2) == "ILLEGAL_DATA_ADDRESS"
    assert exception_name(0x0B) == "GATEWAY_TARGET_DEVICE_FAILED_TO_RESPOND"
    assert exception_name(0x42) == "EXCEPTION_66"
    fault = ModbusDeviceFault(code=2, function=3, unit=10, address=0)
    assert isinstance(fault, DeviceFault) and fault.code == 2 and fault.name == "ILLEGAL_DATA_ADDRESS"
    assert "0x03" in str(fault) and "unit 10" in str(fault)


# -- against the endpoint --------------------------------------------------------
@pytest.fixture
async def endpoint():
    writes = []
    ep = ModbusTcpEndpoint(1, discrete_inputs=8, coils=8, input_registers=4, holding_registers=3,
                           on_write=lambda table, addr, values: writes.append((table, addr, values)))
    ep.writes = writes
    await ep.start()
    yield ep
    await ep.stop()


async def link_to(ep, *, timeout_s=0.5, unit=None):
    url = ep.url if unit is None else ep.url.replace(f"unit={ep.unit}", f"unit={unit}")
    return await open_modbus_tcp(DeviceURL.parse(url), timeout_s=timeout_s)


async def test_reads_and_writes_round_trip(endpoint):
    endpoint.set_discrete_inputs(0, [True, False, True])
    endpoint.set_input_registers(0, [3, 65535, 0, 42])
    endpoint.set_holding_registers(1, [0x1234])
    link = await link_to(endpoint)
    try:
        assert await link.read_discrete_inputs(0, 8) == [True, False, True] + [False] * 5
        assert await link.read_discrete_inputs(2, 1) == [True]
        assert await link.read_input_registers(0, 4) == [3, 65535, 0, 42]
        assert await link.read_holding_registers(0, 3) == [0, 0x1234, 0]
        await link.write_coil(6, True)
        assert await link.read_coils(0, 8) == [False] * 6 + [True, False]
        await link.write_coil(6, False)
        assert endpoint.table("coils")[6] is False
        assert endpoint.writes == [("coils", 6, [True]), ("coils", 6, [False])]
    finally:
        await link.close()


@pytest.mark.parametrize("code", sorted(EXCEPTION_NAMES))
async def test_every_exception_code_is_a_typed_fault_and_link_stays_up(endpoint, code):
    """BR-04: code and name carried, no reconnect, next request works."""
    link = await link_to(endpoint)
    try:
        endpoint.force_exception = code
        with pytest.raises(ModbusDeviceFault) as info:
            await link.read_input_registers(1, 2)
        assert info.value.code == code and info.value.name == EXCEPTION_NAMES[code]
        assert info.value.function == 0x04 and info.value.unit == 1 and info.value.address == 1
        endpoint.force_exception = None
        assert link.connected
        assert await link.read_input_registers(0, 1) == [0]
        assert endpoint.connections == 1
    finally:
        await link.close()


@pytest.mark.parametrize("call", [
    lambda l: l.read_discrete_inputs(8, 1),        # 8 inputs: 0…7
    lambda l: l.read_discrete_inputs(0, 9),
    lambda l: l.read_coils(100, 1),
    lambda l: l.read_input_registers(3, 2),
    lambda l: l.read_holding_registers(3, 1),
    lambda l: l.write_coil(8, True),
])
async def test_outside_the_tables_is_illegal_data_address(endpoint, call):
    link = await link_to(endpoint)
    try:
        with pytest.raises(ModbusDeviceFault) as info:
            await call(link)
        assert info.value.code == 2 and info.value.name == "ILLEGAL_DATA_ADDRESS"
        assert link.connected
    finally:
        await link.close()


async def test_unknown_unit_answers_gateway_exception(endpoint):
    link = await link_to(endpoint, unit=9)
    try:
        with pytest.raises(ModbusDeviceFault) as info:
            await link.read_discrete_inputs(0, 3)
        assert info.value.code == 0x0B and info.value.unit == 9
    finally:
        await link.close()


async def test_silent_unit_times_out_without_closing_the_link(endpoint):
    """BR-05: pymodbus would close after retries+3 silent requests; we never do."""
    link = await link_to(endpoint, timeout_s=0.05)
    try:
        endpoint.silent = True
        for _ in range(5):
            with pytest.raises(DeviceTimeout):
                await link.read_discrete_inputs(0, 1)
        endpoint.silent = False
        assert link.connected
        assert await link.read_discrete_inputs(0, 1) == [False]
        assert endpoint.connections == 1
    finally:
        await link.close()


async def test_dropped_reply_is_a_timeout(endpoint):
    endpoint.faults.drop = 1
    link = await link_to(endpoint, timeout_s=0.1)
    try:
        with pytest.raises(DeviceTimeout):
            await link.read_coils(0, 1)
        assert await link.read_coils(0, 1) == [False]
    finally:
        await link.close()


async def test_refused_connection_is_unavailable():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(DeviceUnavailable):
        await open_modbus_tcp(DeviceURL.parse(f"modbus+tcp://127.0.0.1:{port}"), timeout_s=0.5)


async def test_connection_lost_mid_request_is_unavailable_at_once(endpoint):
    endpoint.faults.delay_s = 2.0
    link = await link_to(endpoint, timeout_s=3.0)
    try:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(link.read_discrete_inputs(0, 1))
        while endpoint.requests == 0:
            await asyncio.sleep(0.005)
        t0 = loop.time()
        await endpoint.drop_connections()
        with pytest.raises(DeviceUnavailable):
            await task
        assert loop.time() - t0 < 1.0
        assert not link.connected
        with pytest.raises(DeviceUnavailable):
            await link.read_discrete_inputs(0, 1)
    finally:
        await link.close()


async def test_caller_timeout_cancels_the_request_and_frees_the_link(endpoint):
    endpoint.faults.delay_s = 0.6
    link = await link_to(endpoint, timeout_s=1.0)
    try:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(link.read_coils(0, 1), 0.05)
        endpoint.faults.delay_s = 0.0
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        assert await link.read_coils(0, 1) == [False]
        assert loop.time() - t0 < 0.4           # not queued behind the abandoned request (0.6 s)
    finally:
        await link.close()


async def test_closed_link_refuses_calls(endpoint):
    link = await link_to(endpoint)
    await link.close()
    await link.close()
    with pytest.raises(DeviceUnavailable):
        await link.read_coils(0, 1)


async def test_bad_arguments_are_value_errors(endpoint):
    link = await link_to(endpoint)
    try:
        for call in (lambda: link.read_coils(0, 0), lambda: link.read_coils(0, 2001),
                     lambda: link.read_input_registers(0, 126), lambda: link.read_holding_registers(-1, 1),
                     lambda: link.read_input_registers(65535, 2)):
            with pytest.raises(ValueError):
                await call()
    finally:
        await link.close()


# -- replies pymodbus's own server never sends ---------------------------------------
@pytest.fixture
async def raw_peer():
    """A hand-written Modbus TCP peer. The request's start address selects the reply."""
    async def serve(reader, writer):
        try:
            while True:
                head = await reader.readexactly(6)
                body = await reader.readexactly(int.from_bytes(head[4:6], "big"))
                tid, unit, addr = head[:2], body[0], int.from_bytes(body[2:4], "big")
                if addr == 0:      # answer a read-DI with a read-holding-registers reply
                    writer.write(tid + bytes([0, 0, 0, 5, unit, 0x03, 0x02, 0x00, 0x07]))
                elif addr == 1:    # byte count 0: no bits at all
                    writer.write(tid + bytes([0, 0, 0, 3, unit, 0x02, 0x00]))
                elif addr == 2:    # someone else's transaction id
                    writer.write(b"\x99\x99" + bytes([0, 0, 0, 4, unit, 0x02, 0x01, 0x01]))
                else:              # hang up
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield f"modbus+tcp://127.0.0.1:{server.sockets[0].getsockname()[1]}?unit=1"
    server.close()


async def test_wrong_function_in_reply_is_protocol_error(raw_peer):
    link = await open_modbus_tcp(DeviceURL.parse(raw_peer), timeout_s=0.2)
    try:
        with pytest.raises(ProtocolError):
            await link.read_discrete_inputs(0, 3)
        with pytest.raises(FrameError):
            await link.read_discrete_inputs(1, 3)
        with pytest.raises(DeviceTimeout):       # foreign transaction id is skipped, never returned
            await link.read_discrete_inputs(2, 3)
        with pytest.raises(DeviceUnavailable):
            await link.read_discrete_inputs(3, 3)
    finally:
        await link.close()
