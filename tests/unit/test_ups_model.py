"""State machine of the simulated UPS behind upsd, and the simulator's answers
to raw NUT requests without a socket (R-DEV-POWER: mains failure, low
battery, stale data and a stopped NUT driver must all be reproducible)."""
from __future__ import annotations

from pathlib import Path

import pytest

from examhw.errors import ConfigError
from examhw.sim.base import SimContext
from examhw_simulators.ups import SIMULATOR
from examhw_simulators.ups.devdump import load_dump
from examhw_simulators.ups.model import NutUpsModel, format_like
from examhw_simulators.ups.wire import words_of

DATA = Path(__file__).parent.parent / "data" / "ups"
CP1500 = DATA / "Cyber_Power_Systems__CP1500PFCLCD__usbhid-ups__2.7.4__02.dev"
SANTAK = DATA / "Santak__Castle_C1K__blazer_ser__2.7.4__01.dev"


class ManualClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> float:
        return self.t


def model(path: Path, clock: ManualClock) -> NutUpsModel:
    return NutUpsModel(load_dump(path), clock)  # type: ignore[arg-type]


def test_format_like():
    assert format_like("58", 57.6) == "58"
    assert format_like("24.0", 23.456) == "23.5"
    assert format_like("100.00", 99.999) == "100.00"


@pytest.mark.parametrize("path", sorted(DATA.glob("*.dev")), ids=lambda p: p.stem)
def test_untouched_model_serves_the_dump_exactly(path):
    clock = ManualClock()
    m = model(path, clock)
    clock.t += 3600
    assert m.variables() == load_dump(path).vars


def test_mains_fail_discharges_with_site_time():
    clock = ManualClock()
    m = model(CP1500, clock)
    m.mains_fail()
    v = m.variables()
    assert v["ups.status"] == "OB DISCHRG" and v["input.voltage"] == "0.0"
    assert v["battery.charge"] == "58" and v["battery.runtime"] == "4944"
    clock.t += 1000                                   # full runtime = 4944 / 0.58 ≈ 8524 s
    v = m.variables()
    assert 45 <= int(v["battery.charge"]) <= 47
    assert int(v["battery.runtime"]) < 4944
    assert float(v["battery.voltage"]) < 24.0
    clock.t += 4500                                   # below battery.charge.low (10)
    v = m.variables()
    assert v["ups.status"] == "OB DISCHRG LB"
    clock.t += 10**6
    assert m.variables()["battery.charge"] == "0"


def test_restore_charges_slowly_and_clears_lb():
    clock = ManualClock()
    m = model(CP1500, clock)
    m.mains_fail()
    clock.t += 5000
    assert "LB" in m.variables()["ups.status"]
    low = m.charge_pct()
    m.mains_restore()
    v = m.variables()
    assert v["ups.status"] == "OL CHRG LB" and v["input.voltage"] == "120.0"
    clock.t += 5000
    assert low < m.charge_pct() < low + 10           # 10× slower than discharging
    clock.t += 10**7
    assert m.variables()["ups.status"] == "OL" and m.variables()["battery.charge"] == "100"


def test_santak_without_charge_variables():
    """Megatec units publish no charge/runtime: none are invented; the
    battery voltage falls and LB comes from the modelled charge."""
    clock = ManualClock()
    m = model(SANTAK, clock)
    m.mains_fail()
    clock.t += 300
    v = m.variables()
    assert "battery.charge" not in v and "battery.runtime" not in v
    assert float(v["battery.voltage"]) < 2.28
    assert v["ups.status"] == "OB DISCHRG"
    clock.t += 300
    assert m.variables()["ups.status"] == "OB DISCHRG LB"


def test_flags_that_are_not_about_the_line_survive():
    clock = ManualClock()
    m = model(DATA / "Eaton__5PX_2000__usbhid-ups__2.7.4__01.dev", clock)
    m.mains_fail()
    assert m.variables()["ups.status"] == "ALARM OB DISCHRG RB"


def test_set_var_and_modes():
    clock = ManualClock()
    m = model(SANTAK, clock)
    m.set_var("ups.status", "OL BOOST XYZ")
    m.set_var("new.var", "1")
    assert m.variables()["ups.status"] == "OL BOOST XYZ" and m.variables()["new.var"] == "1"
    m.mains_fail()                                   # a mains action takes ups.status back
    assert m.variables()["ups.status"] == "OB DISCHRG"
    assert m.unavailable() is None
    m.set_stale(True)
    assert m.unavailable() == "DATA-STALE"
    m.set_driver_down(True)
    assert m.unavailable() == "DRIVER-NOT-CONNECTED"
    m.set_driver_down(False)
    m.set_stale(False)
    assert m.unavailable() is None
    assert set(m.actions()) >= {"mains_fail", "mains_restore", "set_var", "set_stale", "set_driver_down"}
    assert m.snapshot()["on_battery"] is True


# -- sessions without a socket ------------------------------------------------------

class Link:
    def __init__(self, hang_up=lambda: None) -> None:
        self.out = bytearray()
        self.peer = "127.0.0.1"
        self.hang_up = hang_up

    def write(self, data: bytes) -> None:
        self.out += data


def session(tmp_path, **secrets):
    sim = SIMULATOR.factory(SimContext(role="ups", run_dir=tmp_path, secrets=secrets))
    hung = []
    return sim, sim._session(Link(lambda: hung.append(1))), hung  # type: ignore[arg-type]


def ask(s, text: str) -> str:
    s.link.out.clear()
    s.feed(text.encode() + b"\n")
    return s.link.out.decode()


def test_session_answers_like_upsd(tmp_path):
    """Replies measured on upsd 2.8.0 (docs/protocols/nut.md §2)."""
    sim, s, hung = session(tmp_path)
    assert ask(s, "NETVER") == "1.3\n" and ask(s, "PROTVER") == "1.3\n"
    assert ask(s, "VER extra") == "ERR INVALID-ARGUMENT\n"
    assert ask(s, "GET VAR ups1 ups.status") == 'VAR ups1 ups.status "OL"\n'
    assert ask(s, 'get var "ups1" ups.status extra') == 'VAR ups1 ups.status "OL"\n'
    assert ask(s, "GET VAR nosuch ups.status") == "ERR UNKNOWN-UPS\n"
    assert ask(s, "GET VAR ups1 no.such") == "ERR VAR-NOT-SUPPORTED\n"
    assert ask(s, "GET VAR ups1") == "ERR INVALID-ARGUMENT\n"
    assert ask(s, "") == "ERR UNKNOWN-COMMAND\n"
    assert ask(s, "BOGUS") == "ERR UNKNOWN-COMMAND\n"
    assert ask(s, 'GET VAR "ups1') == "ERR INVALID-ARGUMENT\n"
    assert ask(s, "LIST UPS extra").startswith("BEGIN LIST UPS\nUPS ups1 ")
    assert ask(s, "LIST ENUM ups1 ups.status") == ("BEGIN LIST ENUM ups1 ups.status\n"
                                                   "END LIST ENUM ups1 ups.status\n")
    assert ask(s, "GET DESC ups1 x.y") == 'DESC ups1 x.y "Description unavailable"\n'
    assert ask(s, "STARTTLS") == "ERR FEATURE-NOT-CONFIGURED\n"
    assert ask(s, "FSD ups1") == "ERR USERNAME-REQUIRED\n"
    lst = ask(s, "LIST VAR ups1").splitlines()
    assert lst[0] == "BEGIN LIST VAR ups1" and lst[-1] == "END LIST VAR ups1"
    assert len(lst) == 2 + 21
    sim.model.set_stale(True)
    assert ask(s, "LIST VAR ups1") == "ERR DATA-STALE\n"
    assert ask(s, "LIST UPS").startswith("BEGIN LIST UPS")
    assert ask(s, "LIST VAR nosuch") == "ERR UNKNOWN-UPS\n"
    sim.model.set_driver_down(True)
    assert ask(s, "GET TYPE ups1 ups.status") == "ERR DRIVER-NOT-CONNECTED\n"
    assert ask(s, "LOGOUT") == "OK Goodbye\n" and hung == [1]
    assert ask(s, "VER") == ""                          # nothing after LOGOUT


def test_session_login(tmp_path):
    sim, s, _ = session(tmp_path, username="mon", password='p "w"')
    assert ask(s, "LOGIN ups1") == "ERR USERNAME-REQUIRED\n"
    assert ask(s, "USERNAME mon") == "OK\n"
    assert ask(s, "USERNAME again") == "ERR ALREADY-SET-USERNAME\n"
    assert ask(s, "LOGIN ups1") == "ERR PASSWORD-REQUIRED\n"
    assert ask(s, 'PASSWORD "p \\"w\\""') == "OK\n"
    assert ask(s, "LOGIN nosuch") == "ERR UNKNOWN-UPS\n"
    assert ask(s, "LOGIN ups1") == "OK\n"
    assert ask(s, "LOGIN ups1") == "ERR ALREADY-LOGGED-IN\n"
    assert ask(s, "GET NUMLOGINS ups1") == "NUMLOGINS ups1 1\n"
    assert ask(s, "LIST CLIENT ups1").splitlines()[1] == "CLIENT ups1 127.0.0.1"
    s.closed()
    assert sim.numlogins() == 0


def test_session_wrong_password_and_no_users(tmp_path):
    _, s, _ = session(tmp_path, username="mon", password="right")
    for line in ("USERNAME mon", "PASSWORD wrong"):
        assert ask(s, line) == "OK\n"                   # PASSWORD is not checked until LOGIN
    assert ask(s, "LOGIN ups1") == "ERR ACCESS-DENIED\n"
    _, s2, _ = session(tmp_path)
    ask(s2, "USERNAME a"), ask(s2, "PASSWORD b")
    assert ask(s2, "LOGIN ups1") == "ERR ACCESS-DENIED\n"


def test_rw_type_and_cmd_lists(tmp_path):
    sim = SIMULATOR.factory(SimContext(role="ups", run_dir=tmp_path,
                                       options={"dump": "Eaton__5PX_2000__usbhid-ups__2.7.4__01.dev"}))
    s = sim._session(Link())
    assert ask(s, "GET TYPE ups1 battery.charge.low") == "TYPE ups1 battery.charge.low RW STRING:5\n"
    assert ask(s, "GET TYPE ups1 output.voltage.nominal") == "TYPE ups1 output.voltage.nominal RW ENUM\n"
    assert ask(s, "GET TYPE ups1 ups.load") == "TYPE ups1 ups.load NUMBER\n"
    enum = ask(s, "LIST ENUM ups1 output.voltage.nominal").splitlines()
    assert enum[1:-1] == [f'ENUM ups1 output.voltage.nominal "{v}"' for v in ("200", "208", "220", "230", "240")]
    cmds = ask(s, "LIST CMD ups1").splitlines()
    assert "CMD ups1 beeper.disable" in cmds and len(cmds) == 2 + 19
    rw = ask(s, "LIST RW ups1").splitlines()
    assert all(words_of(x)[0] == "RW" for x in rw[1:-1]) and len(rw) > 20


def test_bad_options(tmp_path):
    with pytest.raises(ConfigError, match="no UPS dump"):
        SIMULATOR.factory(SimContext(role="ups", run_dir=tmp_path, options={"dump": "nope.dev"}))
    with pytest.raises(ConfigError):
        SIMULATOR.factory(SimContext(role="ups", run_dir=tmp_path, options={"ups": "a b"}))
