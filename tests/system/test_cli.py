"""The command line: plugins listing and config checking."""
import json
import subprocess
import sys

from examhw.cli import main
from examhw.kinds import DeviceKind


def test_plugins_lists_eight_kinds_each_with_driver_and_simulator():
    out = subprocess.run([sys.executable, "-m", "examhw", "plugins", "--json", "--strict"], capture_output=True,
                         text=True, check=True)
    kinds = json.loads(out.stdout)["kinds"]
    assert set(kinds) == {k.value for k in DeviceKind}
    for kind, entry in kinds.items():
        assert entry["drivers"] and entry["simulators"], kind


def test_check_config_names_role_and_key(tmp_path, capsys):
    bad = tmp_path / "site.toml"
    bad.write_text('[devices.gate_cam]\nkind = "camera"\ndriver = "examhw.onvif"\nurl = "rtsp://127.0.0.1/x"\n'
                   'options = { zoom = 3 }\n')
    assert main(["check-config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "devices.gate_cam.url" in err and "devices.gate_cam.options.zoom" in err


def test_check_config_accepts_the_demo_site(capsys, monkeypatch):
    from importlib import resources
    monkeypatch.setenv("EXAMHW_DEMO_CAMERA_PASSWORD", "x")
    path = resources.files("examhw.demo").joinpath("site.toml")
    assert main(["check-config", str(path)]) == 0
    assert "OK" in capsys.readouterr().out


def test_check_config_reports_a_counted_group_once_and_unknown_sim_options(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("EXAMHW_NOPE_PW", raising=False)
    f = tmp_path / "site.toml"
    f.write_text('[devices.seat_cam]\nkind = "camera"\ndriver = "examhw.onvif"\nurl = "sim:"\ncount = 100\n'
                 'secrets = { password = "env:EXAMHW_NOPE_PW" }\n'
                 '[devices.gate]\nkind = "turnstile"\ndriver = "examhw.gate-7e7f"\nurl = "sim:"\n'
                 'sim = { wait_time_sx = 3 }\n')
    assert main(["check-config", str(f)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert [line for line in err if "seat_cam" in line] == [
        f"{f}: devices.seat_cam.secrets.password: environment variable EXAMHW_NOPE_PW is not set"]
    assert any("devices.gate.sim.wait_time_sx" in line for line in err)
