"""Walk-through metal detector read through a Modbus digital-input module.

Protocol and register map: docs/protocols/wtmd-modbus-di.md. The driver
polls two counters (FC 04) and three relay inputs (FC 02) over
:mod:`examhw.transports.modbus`; it never writes to the module.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Mapping

from examhw.errors import ConfigError, DeviceFault, DeviceTimeout, DeviceUnavailable
from examhw.kinds import DetectorCounters, DeviceInfo, DriverContext, MetalDetector, TransitResult
from examhw.transports.modbus import ModbusLink, ModbusTarget, open_modbus_tcp
from examhw.urls import DeviceURL

from .signals import DI_COUNT, IR_ALARMS, IR_COUNT, IR_TRANSITS, Change, DetectorInputs, Reading, TransitTracker

log = logging.getLogger("examhw.drivers.wtmd_modbus")

#: ``DeviceFault.code`` when the detector's ready relay says it is not armed
NOT_READY = "NOT_READY"
DEFAULT_POLL_S = 0.02
#: a passage polled by wait_transit's first poll is credited if the poll
#: before it is at most this old (real s) — older ones may be anyone's
DEFAULT_FRESH_S = 60.0


class WtmdModbusDetector(MetalDetector):
    """WTMD whose alarm / transit / ready relays are wired to DI0–DI2 of a
    Modbus module that also counts passages and alarms (input registers 0–1).

    Options: ``unit`` (Modbus unit id; the URL's ``?unit=`` wins, both must
    agree), ``poll_s`` (poll period, real s, default 0.02), ``active_low``
    (normally-closed contacts), ``di_base`` / ``counter_base`` (first DI /
    input-register address, default 0), ``fresh_s`` (how old the previous
    poll may be for a passage seen by ``wait_transit``'s first poll to be
    credited, real s, default 60), ``timeout_s`` (per request).

    Events: ``transit`` (alarm, total), ``alarm`` (new, relay, total),
    ``fault`` (code ``NOT_READY`` or a Modbus exception code),
    ``fault_cleared``, ``armed`` (``wait_transit`` is watching).
    """

    capabilities = frozenset({"events", "counters"})

    def __init__(self, role: str, url: DeviceURL, options: Mapping[str, Any] | None = None,
                 ctx: DriverContext | None = None) -> None:
        super().__init__(role, url, options, ctx)
        unit = self.options.get("unit")
        self.target = ModbusTarget.from_url(url, unit=None if unit is None else _int(role, "unit", unit))
        self.poll_s = _float(role, "poll_s", self.options.get("poll_s", DEFAULT_POLL_S))
        if not 0 < self.poll_s <= 10:
            raise ConfigError("poll_s must be in (0, 10] seconds", role=role, key="options.poll_s")
        self.active_low = _bool(role, "active_low", self.options.get("active_low", False))
        self.di_base = _address(role, "di_base", self.options.get("di_base", 0), DI_COUNT)
        self.counter_base = _address(role, "counter_base", self.options.get("counter_base", 0), IR_COUNT)
        self.fresh_s = _float(role, "fresh_s", self.options.get("fresh_s", DEFAULT_FRESH_S))
        if self.fresh_s < 0:
            raise ConfigError("fresh_s must be >= 0 seconds", role=role, key="options.fresh_s")
        self._link: ModbusLink | None = None
        self._polled_at: float | None = None
        self._tracker: TransitTracker | None = None
        self._rebase = False
        self._ready: bool | None = None

    # -- lifecycle -------------------------------------------------------------
    async def _open(self) -> None:
        self._link = await open_modbus_tcp(self.url, unit=self.target.unit, timeout_s=self.timeout_s,
                                           role=self.role)
        self.info = DeviceInfo(model="WTMD via Modbus DI module", serial=f"unit {self.target.unit}")
        self._rebase = self._tracker is not None
        try:
            await self._sample()            # first snapshot: earlier passages are not reported
        except DeviceFault as exc:
            # The module answered, so the link is fine; the register map or unit
            # is wrong. Keep the link (BR-04) and fail each call with this fault.
            log.warning("%s: first read failed: %s", self.role, exc)
            self.events.emit("fault", code=exc.code, name=getattr(exc, "name", ""), detail=str(exc))
        except BaseException:
            await self._close()             # no half-open link left behind
            raise

    async def _close(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            await link.close()

    async def _probe(self) -> str:
        await self._sample()
        tracker = self._require_tracker()
        if not tracker.last.inputs.ready:
            raise DeviceFault("detector is not ready (ready relay inactive)", code=NOT_READY, role=self.role)
        return f"ready; transits={tracker.transits} alarms={tracker.alarms}"

    # -- MetalDetector -----------------------------------------------------------
    async def wait_transit(self, *, timeout: float) -> TransitResult:
        """Wait up to ``timeout`` real seconds for the next passage.

        The first poll also accepts a passage counted since the previous poll
        when that poll is at most ``fresh_s`` old, or when the passage's exit
        pulse (DI1) is still on. Older unpolled passages are counted and
        emitted but not returned, so nobody is credited with a passage from
        long ago. An alarm not yet given to a passage is kept for the next one
        (fail-safe).
        Raises :class:`DeviceTimeout` (nobody passed), :class:`DeviceFault`
        (``NOT_READY``: the detector is not armed, so nobody can be screened;
        or a Modbus exception code), :class:`DeviceUnavailable`.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, float(timeout))
        previous = self._polled_at
        change = await self._poll()
        self.events.emit("armed", timeout=timeout)
        if change is not None and change.passages:
            recent = previous is not None and time.monotonic() - previous <= self.fresh_s
            if recent or change.inputs.transit:
                self._require_ready()
                return self._result(change)
            log.info("%s: %d passage(s) from before the wait not credited", self.role, len(change.passages))
        while True:
            self._require_ready()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise DeviceTimeout(f"nobody passed within {timeout:.2f} s", role=self.role)
            await asyncio.sleep(min(self.poll_s, remaining))
            change = await self._poll()
            if change is not None and change.passages:
                self._require_ready()
                return self._result(change)

    def _result(self, change: Change) -> TransitResult:
        """The newest passage of ``change`` (flags are fail-safe, see TransitTracker)."""
        return TransitResult(alarm=change.passages[-1], zones=None, at=self.ctx.clock.wall())

    async def counters(self) -> DetectorCounters:
        """Passages and alarms counted since open (device counters, u16-wrap safe)."""
        await self._poll()
        tracker = self._require_tracker()
        return DetectorCounters(transits=tracker.transits, alarms=tracker.alarms)

    # -- polling -----------------------------------------------------------------
    async def _poll(self) -> Change | None:
        return await self._call(self._sample(), timeout=self.timeout_s * 2 + 1.0)

    async def _read(self) -> Reading:
        link = self._link
        if link is None:
            raise DeviceUnavailable("not connected", role=self.role)
        regs = await link.read_input_registers(self.counter_base, IR_COUNT)
        levels = await link.read_discrete_inputs(self.di_base, DI_COUNT)
        inputs = DetectorInputs.from_levels(levels, active_low=self.active_low)
        return Reading(transits=regs[IR_TRANSITS], alarms=regs[IR_ALARMS], inputs=inputs)

    async def _sample(self) -> Change | None:
        """Read once and publish what changed (``None`` for a baseline read)."""
        reading = await self._read()
        self._polled_at = time.monotonic()
        if self._tracker is None:
            self._tracker = TransitTracker(reading)
            change = None
        elif self._rebase:
            self._tracker.rebase(reading)
            change = None
        else:
            change = self._tracker.update(reading)
        self._rebase = False
        if change is not None:
            self._publish(change)
        self._note_ready(reading.inputs.ready)
        return change

    def _publish(self, change: Change) -> None:
        tracker = self._require_tracker()
        if change.alarm_seen:
            self.events.emit("alarm", new=change.new_alarms, relay=change.inputs.alarm, total=tracker.alarms)
        first = tracker.transits - len(change.passages)
        for i, alarm in enumerate(change.passages, start=1):
            self.events.emit("transit", alarm=alarm, total=first + i)

    def _note_ready(self, ready: bool) -> None:
        if ready == self._ready:
            return
        was, self._ready = self._ready, ready
        if not ready:
            log.warning("%s: detector not ready", self.role)
            self.events.emit("fault", code=NOT_READY, active=True)
        elif was is not None:
            self.events.emit("fault_cleared", code=NOT_READY)

    def _require_tracker(self) -> TransitTracker:
        if self._tracker is None:
            raise DeviceUnavailable("no reading from the module yet", role=self.role)
        return self._tracker

    def _require_ready(self) -> None:
        if not self._require_tracker().last.inputs.ready:
            raise DeviceFault("detector is not ready (ready relay inactive); nobody is screened",
                              code=NOT_READY, role=self.role)


# -- option parsing -------------------------------------------------------------
def _int(role: str, name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ConfigError("must be an integer", role=role, key=f"options.{name}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{value!r} is not an integer", role=role, key=f"options.{name}") from None


def _float(role: str, name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ConfigError("must be a number", role=role, key=f"options.{name}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{value!r} is not a number", role=role, key=f"options.{name}") from None


def _bool(role: str, name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return value.lower() in ("1", "true", "yes", "on")
    raise ConfigError(f"{value!r} is not a boolean", role=role, key=f"options.{name}")


def _address(role: str, name: str, value: Any, span: int) -> int:
    address = _int(role, name, value)
    if not 0 <= address <= 0x10000 - span:
        raise ConfigError(f"address {address} outside 0…{0x10000 - span}", role=role, key=f"options.{name}")
    return address
