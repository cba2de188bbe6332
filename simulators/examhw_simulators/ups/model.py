"""State of a simulated UPS behind a simulated ``upsd``.

The variables are exactly those of a real DDL dump until a backdoor action
changes something (docs/protocols/nut.md §7.1). Battery charge and runtime
then follow site time (``clock.now()``), computed lazily whenever the server
reads the variables, so no background task is needed.
"""
from __future__ import annotations

from typing import Any

from examhw.clock import Clock
from examhw.sim.base import SimModel, action

from .devdump import DevDump

#: site seconds from full to empty when the dump has no usable runtime
DEFAULT_FULL_RUNTIME_S = 600.0
#: longest believable full runtime (site seconds); bogus dump values are capped
MAX_FULL_RUNTIME_S = 24 * 3600.0
#: charging is this many times slower than discharging
CHARGE_SLOWDOWN = 10.0
#: battery.voltage at empty, as a fraction of the voltage at full
EMPTY_VOLTAGE_FRACTION = 0.85
#: status tokens that describe the input line and so vanish on battery
LINE_TOKENS = frozenset({"OL", "CHRG", "TRIM", "BOOST", "BYPASS", "HE", "ECO"})


def _float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def format_like(template: str, value: float) -> str:
    """``value`` written with as many decimals as ``template`` has."""
    decimals = len(template.split(".", 1)[1]) if "." in template else 0
    if decimals == 0:
        return str(int(round(value)))
    return f"{value:.{decimals}f}"


class NutUpsModel(SimModel):
    """One UPS as a NUT server would publish it.

    Actions: :meth:`mains_fail`, :meth:`mains_restore`, :meth:`set_var`,
    :meth:`set_stale`, :meth:`set_driver_down`.
    """

    def __init__(self, dump: DevDump, clock: Clock, *, ups_name: str = "ups1", desc: str = "") -> None:
        self.dump = dump
        self.clock = clock
        self.ups_name = ups_name
        self.desc = desc or f"examhw simulated UPS ({dump.name or 'dump'})"
        self.base: dict[str, str] = dict(dump.vars)
        self.overrides: dict[str, str] = {}
        self.stale = False
        self.driver_down = False
        self.on_battery = False
        self.dynamic = False          # False until the first mains action: serve the dump as is
        start = _float(self.base.get("battery.charge"))
        self.charge0 = min(100.0, max(0.0, start)) if start is not None else 100.0
        self.full_runtime_s = self._full_runtime()
        self._charge_ref = self.charge0
        self._t_ref = clock.now()

    def _full_runtime(self) -> float:
        runtime = _float(self.base.get("battery.runtime"))
        if runtime is None or runtime <= 0 or self.charge0 <= 0:
            return DEFAULT_FULL_RUNTIME_S
        return min(MAX_FULL_RUNTIME_S, runtime * 100.0 / self.charge0)

    # -- time ----------------------------------------------------------------------
    def charge_pct(self) -> float:
        """Current modelled charge (%) at site time ``clock.now()``."""
        if not self.dynamic:
            return self.charge0
        elapsed = max(0.0, self.clock.now() - self._t_ref)
        rate = 100.0 / self.full_runtime_s             # % per site second
        if self.on_battery:
            return max(0.0, self._charge_ref - elapsed * rate)
        return min(100.0, self._charge_ref + elapsed * rate / CHARGE_SLOWDOWN)

    def _rebase(self) -> None:
        self._charge_ref = self.charge_pct()
        self._t_ref = self.clock.now()

    def _low(self, charge: float) -> bool:
        if "battery.charge" in self.base:
            low = _float(self.base.get("battery.charge.low"))
            return charge <= (low if low is not None else 20.0)
        runtime_low = _float(self.base.get("battery.runtime.low"))
        if "battery.runtime" in self.base and runtime_low is not None:
            return self.full_runtime_s * charge / 100.0 <= runtime_low
        return charge <= 20.0

    def _status_text(self, charge: float) -> str:
        tokens = self.base.get("ups.status", "").split()
        rest = [t for t in tokens if t not in LINE_TOKENS | {"OB", "DISCHRG", "LB", "ALARM"}]
        out = ["ALARM"] if "ALARM" in tokens else []
        if self.on_battery:
            out += ["OB", "DISCHRG"]
        else:
            out += ["OL"] + (["CHRG"] if charge < 100.0 else [])
        if self._low(charge):
            out.append("LB")
        return " ".join(out + rest)

    def variables(self) -> dict[str, str]:
        """Every variable now, sorted by name (as upsd lists them)."""
        current = dict(self.base)
        if self.dynamic:
            charge = self.charge_pct()
            current["ups.status"] = self._status_text(charge)
            if "battery.charge" in self.base:
                current["battery.charge"] = format_like(self.base["battery.charge"], charge)
            if "battery.runtime" in self.base:
                current["battery.runtime"] = format_like(self.base["battery.runtime"],
                                                         self.full_runtime_s * charge / 100.0)
            v0 = _float(self.base.get("battery.voltage"))
            if v0 is not None:
                def shape(c: float) -> float:
                    return EMPTY_VOLTAGE_FRACTION + (1 - EMPTY_VOLTAGE_FRACTION) * c / 100.0
                current["battery.voltage"] = format_like(self.base["battery.voltage"],
                                                         v0 * shape(charge) / shape(self.charge0))
            if self.on_battery and "input.voltage" in self.base:
                current["input.voltage"] = format_like(self.base["input.voltage"], 0.0)
        current.update(self.overrides)
        return dict(sorted(current.items()))

    def unavailable(self) -> str | None:
        """The ERR token upsd would send instead of data, if any."""
        if self.driver_down:
            return "DRIVER-NOT-CONNECTED"
        if self.stale:
            return "DATA-STALE"
        return None

    # -- backdoor actions ------------------------------------------------------------
    @action
    def mains_fail(self) -> None:
        """Mains power cut: the UPS goes on battery and starts discharging."""
        self._rebase()
        self.dynamic = True
        self.on_battery = True
        for name in ("ups.status", "input.voltage", "battery.charge", "battery.runtime"):
            self.overrides.pop(name, None)

    @action
    def mains_restore(self) -> None:
        """Mains power back: on line, charging."""
        self._rebase()
        self.dynamic = True
        self.on_battery = False
        for name in ("ups.status", "input.voltage", "battery.charge", "battery.runtime"):
            self.overrides.pop(name, None)

    @action
    def set_var(self, name: str, value: str) -> None:
        """Set (or add) one variable; it is served verbatim until a mains action."""
        self.overrides[str(name)] = str(value)

    @action
    def set_stale(self, active: bool = True) -> None:
        """upsd lost its data (``ERR DATA-STALE``) while ``active``."""
        self.stale = bool(active)

    @action
    def set_driver_down(self, active: bool = True) -> None:
        """The NUT device driver is not running (``ERR DRIVER-NOT-CONNECTED``) while ``active``."""
        self.driver_down = bool(active)

    def snapshot(self) -> dict[str, Any]:
        return {"ups": self.ups_name, "dump": self.dump.name, "on_battery": self.on_battery,
                "charge_pct": round(self.charge_pct(), 2), "stale": self.stale,
                "driver_down": self.driver_down,
                "status": self.variables().get("ups.status", "")}
