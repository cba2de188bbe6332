"""The walk-through metal detector model behind the Modbus DI simulator
(R-DEV-SEC): passages and alarms are counted before the relay pulses start,
pulses last their real-time width, a fault drops the ready relay, and
active-low wiring inverts every level."""
import pytest

from examhw.errors import ConfigError
from examhw.kinds import DeviceKind
from examhw.sim import SimContext
from examhw_simulators.wtmd import SIMULATOR, WtmdModbusSimulator, WtmdModel
from examhw_simulators.wtmd.model import ALARM_INPUT, READY_INPUT, TRANSIT_INPUT


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock():
    return FakeTime()


def test_idle_detector_is_ready_with_no_pulses(clock):
    m = WtmdModel(now=clock)
    assert m.input_levels() == [False, False, True, False, False, False, False, False]
    assert m.counter_registers() == [0, 0]


def test_clear_passage_counts_before_the_transit_pulse_and_pulse_ends(clock):
    """R-DEV-SEC: a clear passage moves the transit counter at once and pulses DI1 for 0.1 s."""
    m = WtmdModel(now=clock)
    result = m.walk_through()
    assert result == {"alarm": False, "transits": 1, "alarms": 0}
    assert m.counter_registers() == [1, 0]
    levels = m.input_levels()
    assert levels[TRANSIT_INPUT] and not levels[ALARM_INPUT] and levels[READY_INPUT]
    clock.t += 0.099
    assert m.input_levels()[TRANSIT_INPUT]
    clock.t += 0.002
    assert not m.input_levels()[TRANSIT_INPUT]
    assert m.counter_registers() == [1, 0]


def test_metal_alarms_counts_both_counters_together(clock):
    """R-OPS-SCREEN: metal raises the alarm relay for 0.3 s and counts the alarm with the passage."""
    m = WtmdModel(now=clock)
    assert m.walk_through(metal=True)["alarm"] is True
    assert m.counter_registers() == [1, 1]
    assert m.input_levels()[ALARM_INPUT]
    clock.t += 0.2
    assert m.input_levels()[ALARM_INPUT] and not m.input_levels()[TRANSIT_INPUT]
    clock.t += 0.11
    assert not m.input_levels()[ALARM_INPUT]


def test_fault_drops_ready_and_detects_nothing_but_still_counts(clock):
    m = WtmdModel(now=clock)
    m.set_fault(True)
    assert not m.input_levels()[READY_INPUT]
    assert m.walk_through(metal=True)["alarm"] is False
    assert m.counter_registers() == [1, 0]
    m.set_fault(False)
    assert m.input_levels()[READY_INPUT]


def test_reset_counters_and_u16_wrap(clock):
    m = WtmdModel(now=clock, transits=65535, alarms=65535)
    m.walk_through(metal=True)
    assert m.counter_registers() == [0, 0]
    m.walk_through()
    m.reset_counters()
    assert m.counter_registers() == [0, 0]


def test_active_low_inverts_levels(clock):
    m = WtmdModel(now=clock, active_low=True)
    idle = m.input_levels()
    assert idle[:3] == [True, True, False]      # nothing active, ready active (reads 0)
    m.walk_through(metal=True)
    assert m.input_levels()[:3] == [False, False, False]
    assert m.input_levels()[3:] == [False] * 5  # unused inputs stay at 0


async def test_actions_are_backdoor_verbs(clock):
    m = WtmdModel(now=clock)
    assert {"walk_through", "set_fault", "reset_counters"} <= set(m.actions())
    await m.act("walk_through", metal=True)
    await m.act("set_fault", active=True)
    snap = m.snapshot()
    assert snap["transits"] == 1 and snap["alarms"] == 1 and snap["ready"] is False
    with pytest.raises(KeyError):
        await m.act("fly")


def test_bad_pulse_width_rejected():
    with pytest.raises(ValueError):
        WtmdModel(transit_pulse_s=0)


def test_simulator_options_and_spec(tmp_path):
    sim = WtmdModbusSimulator(SimContext(role="wtmd", run_dir=tmp_path,
                                         options={"unit": "5", "active_low": "true",
                                                  "alarm_pulse_s": "1.5"}))
    assert sim.unit == 5 and sim.endpoint.unit == 5
    assert sim.model.active_low is True and sim.model.alarm_pulse_s == 1.5
    assert SIMULATOR.name == "examhw.sim.wtmd-modbus"
    assert SIMULATOR.kind == DeviceKind.METAL_DETECTOR and SIMULATOR.transport == "modbus-tcp"
    with pytest.raises(ConfigError):
        WtmdModbusSimulator(SimContext(role="wtmd", run_dir=tmp_path, options={"unit": "300"}))
    with pytest.raises(ConfigError):
        WtmdModbusSimulator(SimContext(role="wtmd", run_dir=tmp_path, options={"unit": "x"}))
