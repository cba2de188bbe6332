"""The simulated gate board's state machine (examhw_simulators.gate.model),
driven by a hand-moved clock so every timing is exact."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from examhw_simulators.gate.codec import Request
from examhw_simulators.gate.model import (BAD_PARAM, FAILED, OK, REFUSED, UNKNOWN_CMD, GateModel)


class HandClock:
    """Site clock moved by the test."""

    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> float:
        return self.t

    def wall(self) -> datetime:
        return datetime.fromtimestamp(self.t, timezone.utc)

    async def sleep(self, seconds: float) -> None:
        self.t += seconds

    def to_real(self, seconds: float) -> float:
        return seconds


@pytest.fixture
def clock() -> HandClock:
    return HandClock()


@pytest.fixture
def gate(clock) -> GateModel:
    return GateModel(clock)


def run(gate: GateModel, cmd: int, d0: int = 0, d1: int = 0, d2: int = 0) -> int:
    result, after = gate.execute(cmd, d0, d1, d2)
    if after:
        after()
    return result


def test_idle_board(gate):
    assert gate.state_name() == "closed"
    assert gate.gate_byte() == 0 and gate.alarm_byte() == 0 and gate.fault_byte() == 0
    assert gate.ir_byte() == 0xF0 and gate.voltage_byte() == 120
    assert run(gate, 0x10) == OK


def test_one_authorised_passage(gate, clock):
    """R-DEV-GATE: on success the gate opens for one passage."""
    assert run(gate, 0x80, 1) == OK
    assert gate.state_name() == "opening_left"
    clock.t += 0.7
    assert gate.state_name() == "open_left"
    assert gate.walk_through("in") == "passed"
    assert gate.counters == {"left": 1, "right": 0}
    assert gate.state_name() == "closing"
    clock.t += 0.7
    assert gate.state_name() == "closed"
    assert gate.walk_through("in") == "forced_entry"
    assert gate.counters["left"] == 1


def test_wait_time_runs_out(gate, clock):
    run(gate, 0x82, 1)
    clock.t += 7.9
    assert gate.state_name() == "open_right"
    clock.t += 0.2
    assert gate.state_name() == "closing"
    assert gate.timeouts["right"] == 1 and gate.queue["right"] == 0
    assert gate.history[-1].what == "passage_timeout"


def test_each_passage_restarts_the_wait_timer(gate, clock):
    run(gate, 0x80, 2)
    clock.t += 6
    assert gate.walk_through("in") == "passed"
    clock.t += 6
    assert gate.state_name() == "open_left"
    assert gate.walk_through("in") == "passed"
    assert gate.counters["left"] == 2 and gate.timeouts["left"] == 0


def test_tailgating(gate):
    run(gate, 0x80, 1)
    assert gate.walk_through("in", people=2) == "tailgating"
    assert gate.counters["left"] == 1
    assert gate.alarm_byte() & 0x01
    assert gate.state_name() == "closing"
    run(gate, 0x84)
    assert gate.alarm_byte() == 0


def test_two_people_on_two_passes_is_no_tailgating(gate):
    run(gate, 0x80, 2)
    assert gate.walk_through("in", people=2) == "passed"
    assert gate.counters["left"] == 2 and gate.alarm_byte() == 0


def test_unauthorised_walk_is_forced_entry(gate):
    """R-OPS-SCREEN: an unscreened candidate is refused; walking anyway alarms."""
    assert gate.walk_through("in") == "forced_entry"
    assert gate.alarm_byte() == 0x04
    assert gate.counters == {"left": 0, "right": 0}


def test_reverse_intrusion_closes_and_drops_authorisation(gate):
    run(gate, 0x80, 1)
    assert gate.walk_through("out") == "reverse_intrusion"
    assert gate.alarm_byte() & 0x02
    assert gate.queue["left"] == 0 and gate.active is None
    assert gate.counters == {"left": 0, "right": 0}
    run(gate, 0x80, 1)                       # a new authorisation clears the latched alarms
    assert gate.alarm_byte() == 0


def test_queues_serve_directions_in_turn(gate, clock):
    run(gate, 0x80, 1)
    run(gate, 0x82, 1)
    assert gate.active == "left" and gate.waiting == ["right"]
    gate.walk_through("in")
    assert gate.active == "right"
    clock.t += 1
    assert gate.state_name() == "open_right"
    gate.walk_through("out")
    assert gate.counters == {"left": 1, "right": 1}


def test_timeout_hands_over_to_the_waiting_direction(gate, clock):
    run(gate, 0x80, 1)
    run(gate, 0x82, 1)
    clock.t += 8.5
    assert gate.snapshot()["timeouts"]["left"] == 1
    assert gate.active == "right"
    clock.t += 8.5
    assert gate.state_name() == "closed" and gate.timeouts["right"] == 1


def test_forbid_and_clear(gate):
    run(gate, 0x88)
    assert gate.gate_byte() == 0x10
    assert run(gate, 0x80, 1) == REFUSED
    assert run(gate, 0x81, 1) == REFUSED
    assert gate.walk_through("left") == "forced_entry"
    run(gate, 0x89)
    assert gate.gate_byte() == 0x30
    run(gate, 0x8F)
    assert gate.gate_byte() == 0
    assert run(gate, 0x80, 1) == OK


def test_forbidding_the_active_direction_closes(gate):
    run(gate, 0x80, 1)
    run(gate, 0x88)
    assert gate.active is None and gate.queue["left"] == 0


def test_hold_open_both_ways_is_free_passage(gate):
    run(gate, 0x81, 1)
    assert gate.state_name() == "held_left"
    run(gate, 0x83, 1)
    assert gate.state_name() == "held_both"
    assert gate.walk_through("in", people=3) == "free"
    assert gate.walk_through("out") == "free"
    assert gate.counters == {"left": 3, "right": 1} and gate.alarm_byte() == 0
    run(gate, 0x84)
    assert gate.state_name() == "closing"


def test_fire_alarm_overrides_normal_commands(gate, clock):
    """R-OPS-EMERGENCY: in a fire alarm every gate opens freely; normal
    commands cannot close it until the fire input is released."""
    run(gate, 0x88)
    gate.fire_alarm(True)
    assert gate.gate_byte() & 0x0F == 0x9
    for cmd in (0x80, 0x81, 0x82, 0x83, 0x84, 0x88, 0x89, 0x8F):
        assert run(gate, cmd, 1) == REFUSED
    assert gate.gate_byte() & 0x0F == 0x9
    assert run(gate, 0xA0, 0) == REFUSED          # release refused while the input is active
    assert run(gate, 0x10) == OK and run(gate, 0x20) == OK
    assert run(gate, 0xA1, 0, 10) == OK             # the buzzer still works
    assert gate.walk_through("left", 2) == "free"   # forbidden or not, everyone may leave
    assert gate.walk_through("right") == "free"
    assert gate.alarm_byte() & 0x1F == 0
    gate.fire_alarm(False)
    assert gate.state_name() == "closing"
    clock.t += 1
    assert gate.gate_byte() == 0x10                 # back to closed, restriction kept


def test_commanded_emergency_latch(gate):
    run(gate, 0x80, 1)
    assert run(gate, 0xA0, 1) == OK
    assert gate.emergency and gate.queue["left"] == 0
    assert run(gate, 0x84) == REFUSED
    assert run(gate, 0xA0, 0) == OK
    assert not gate.emergency
    assert run(gate, 0xA0, 7) == BAD_PARAM


def test_fire_input_outlives_released_latch(gate):
    run(gate, 0xA0, 1)
    gate.fire_alarm(True)
    assert run(gate, 0xA0, 0) == REFUSED
    gate.fire_alarm(False)
    assert gate.emergency                      # latch still set
    assert run(gate, 0xA0, 0) == OK and not gate.emergency


def test_sound_alarm(gate, clock):
    """R-DEV-GATE: on failure the gate sounds an alarm and stays shut."""
    assert run(gate, 0xA1, 0, 30) == OK
    assert gate.alarms_sounded == 1
    assert gate.alarm_byte() == 0x20 and gate.state_name() == "closed"
    clock.t += 2.9
    assert gate.alarm_byte() == 0x20
    clock.t += 0.2
    assert gate.alarm_byte() == 0
    assert run(gate, 0xA1, 0, 0) == BAD_PARAM
    assert gate.alarms_sounded == 1


def test_repeated_tag_is_not_executed_twice(gate):
    assert run(gate, 0x80, 1, 0, 9) == OK
    assert run(gate, 0x80, 1, 0, 9) == OK
    assert gate.queue["left"] == 1
    assert run(gate, 0x80, 1, 0, 10) == OK
    assert gate.queue["left"] == 2
    run(gate, 0xA1, 0, 5, 11)
    run(gate, 0xA1, 0, 5, 11)
    assert gate.alarms_sounded == 1
    run(gate, 0x80, 1)                          # untagged: always executed
    run(gate, 0x80, 1)
    assert gate.queue["left"] == 4


def test_set_parameters(gate, clock):
    assert run(gate, 0x96, 3, 2) == OK
    run(gate, 0x80, 1)
    clock.t += 2.1
    assert gate.snapshot()["timeouts"]["left"] == 1
    assert run(gate, 0x96, 3, 0) == BAD_PARAM
    assert run(gate, 0x96, 1, 5) == BAD_PARAM   # machine number change not simulated
    assert run(gate, 0x96, 38, 1) == BAD_PARAM
    assert run(gate, 0x96, 20, 1) == OK and gate.params[20] == 1


def test_restart_replies_first_then_clears(gate):
    run(gate, 0x89)
    run(gate, 0x80, 1)
    gate.trigger_alarm("climb")
    reply = gate.handle(Request(address=1, cmd=0x35, d0=0x60, d1=0, d2=0))
    assert reply is not None and reply[4] == 0x21 and reply[5] == 0x08   # pre-restart state
    assert gate.gate_byte() == 0 and gate.alarm_byte() == 0 and gate.queue["left"] == 0
    assert gate.counters["right"] == 0
    assert run(gate, 0x35, 0x61) == BAD_PARAM


def test_counters_reset_and_wrap(gate):
    gate.set_counters(left=0xFFFFFF, right=5)
    run(gate, 0x80, 1)
    gate.walk_through("in")
    assert gate.counters["left"] == 0
    run(gate, 0x21)
    assert gate.counters["right"] == 0


def test_faults(gate):
    gate.inject_fault("motor")
    assert gate.fault_byte() == 0x01
    assert run(gate, 0x80, 1) == FAILED and run(gate, 0x83, 1) == FAILED
    gate.inject_fault("ir_sensor")
    assert gate.ir_byte() == 0x70
    gate.inject_fault("low_voltage")
    assert gate.fault_byte() == 0x0B and gate.voltage_byte() == 95
    gate.clear_fault()
    assert gate.fault_byte() == 0 and gate.voltage_byte() == 120
    gate.set_voltage(19.6)
    assert gate.fault_byte() == 0x08
    with pytest.raises(ValueError):
        gate.inject_fault("smoke")


def test_trigger_alarm_latches(gate):
    gate.trigger_alarm("climb")
    gate.trigger_alarm("pinch")
    assert gate.alarm_byte() == 0x18
    with pytest.raises(ValueError):
        gate.trigger_alarm("ghost")


def test_unknown_command_and_foreign_address(gate):
    assert run(gate, 0x55) == UNKNOWN_CMD
    assert gate.handle(Request(address=2, cmd=0x80, d0=1, d1=0, d2=0)) is None
    assert gate.ignored_requests == 1 and gate.queue["left"] == 0
    reply = gate.handle(Request(address=1, cmd=0x10, d0=0, d1=0, d2=0))
    assert reply is not None and len(reply) == 18 and reply[13] == OK


def test_in_side_right(clock):
    gate = GateModel(clock, in_side="right")
    run(gate, 0x82, 1)
    assert gate.walk_through("in") == "passed"
    assert gate.counters == {"left": 0, "right": 1}
    with pytest.raises(ValueError):
        gate.walk_through("up")
    with pytest.raises(ValueError):
        GateModel(clock, in_side="north")


async def test_backdoor_actions_and_snapshot(gate):
    assert {"walk_through", "fire_alarm", "inject_fault", "clear_fault"} <= set(gate.actions())
    await gate.act("fire_alarm", active=True)
    snap = gate.snapshot()
    assert snap["state"] == "emergency" and snap["emergency"] is True
    assert await gate.act("walk_through", direction="in") == "free"
