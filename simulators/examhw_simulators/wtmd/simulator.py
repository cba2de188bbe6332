"""The WTMD simulator: :class:`WtmdModel` behind a Modbus TCP DI module
(unit ``unit``, 8 discrete inputs, 8 coils, 2 input registers)."""
from __future__ import annotations

from examhw.errors import ConfigError
from examhw.kinds import DeviceKind
from examhw.sim import SimContext, Simulator
from examhw.sim.endpoints.modbus import ModbusTcpEndpoint

from .model import COUNTER_REGISTERS, INPUT_CHANNELS, WtmdModel

MODULE_COILS = 8   # the module's relay outputs; unused by the detector


class WtmdModbusSimulator(Simulator[WtmdModel]):
    """Options: ``unit`` (default 1), ``active_low`` (default false),
    ``transit_pulse_s`` (0.1), ``alarm_pulse_s`` (0.3) — real seconds."""

    kind = DeviceKind.METAL_DETECTOR

    def __init__(self, ctx: SimContext) -> None:
        super().__init__(ctx)
        unit = ctx.opt("unit", 1)
        if not 1 <= unit <= 247:
            raise ConfigError(f"unit {unit} outside 1…247", role=ctx.role, key="sim.unit")
        try:
            self._model = WtmdModel(transit_pulse_s=ctx.opt("transit_pulse_s", 0.1),
                                    alarm_pulse_s=ctx.opt("alarm_pulse_s", 0.3),
                                    active_low=ctx.opt("active_low", False))
        except ValueError as exc:
            raise ConfigError(str(exc), role=ctx.role, key="sim") from None
        self.unit = unit
        self.endpoint = ModbusTcpEndpoint(unit, discrete_inputs=INPUT_CHANNELS, coils=MODULE_COILS,
                                          input_registers=COUNTER_REGISTERS, holding_registers=0,
                                          faults=ctx.faults, before_request=self._sync)

    def _sync(self) -> None:
        """Copy the model's levels and counters into the module's tables
        (runs before every Modbus request, so replies are always current)."""
        self.endpoint.set_discrete_inputs(0, self._model.input_levels())
        self.endpoint.set_input_registers(0, self._model.counter_registers())

    async def start(self) -> str:
        self._sync()
        self.url = await self.endpoint.start()
        return self.url

    async def stop(self) -> None:
        await self.endpoint.stop()
