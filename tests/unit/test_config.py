import pytest

from examhw import ConfigError, parse_site
from examhw.config import resolve_secrets
from examhw.kinds import DeviceKind

GOOD = """
schema = 1
[site]
id = "t"
seats = 10
accessible_seats = [1]
[devices.gate_reader]
kind = "id_reader"
driver = "x.y"
url = "serial:///dev/ttyUSB0"
[devices.seat_cam]
kind = "camera"
driver = "x.cam"
url = "sim:"
count = 3
secrets = { password = "env:CAM_PW" }
"""


def test_roles_expand_with_count():
    cfg = parse_site(GOOD)
    assert sorted(cfg.devices) == ["gate_reader", "seat_cam_001", "seat_cam_002", "seat_cam_003"]
    assert cfg.devices["seat_cam_002"].kind == DeviceKind.CAMERA


@pytest.mark.parametrize("text,role,key", [
    ('[devices.a]\nkind="toaster"\ndriver="d"\nurl="tcp://h:1"', "a", "kind"),
    ('[devices.a]\nkind="ups"\ndriver="d"', "a", "url"),
    ('[devices.a]\nkind="ups"\ndriver="d"\nurl="tcp://h:1"\ncolour="red"', "a", "colour"),
    ('[devices.a]\nkind="ups"\ndriver="d"\nurl="tcp://h:1"\nsecrets={pw=3}', "a", "secrets.pw"),
    ('[site]\nseats=10\naccessible_seats=[11]', None, "site.accessible_seats"),
])
def test_errors_name_role_and_key(text, role, key):
    with pytest.raises(ConfigError) as ei:
        parse_site(text)
    assert ei.value.role == role and ei.value.key == key


def test_secrets_from_env_and_file(tmp_path):
    f = tmp_path / "pw"
    f.write_text("from-file\n")
    got = resolve_secrets({"a": "env:X", "b": f"file:{f}"}, role="r", env={"X": "from-env"})
    assert got == {"a": "from-env", "b": "from-file"}


def test_literal_secret_refused_without_echoing_it():
    # R-SEC-CRED: the error names role and key, never the value.
    with pytest.raises(ConfigError) as ei:
        resolve_secrets({"password": "hunter2"}, role="cam", env={})
    assert "hunter2" not in str(ei.value) and ei.value.key == "secrets.password"


@pytest.mark.parametrize("text,key", [
    ('[site]\ncolour = "red"', "site.colour"),
    ('[defaults]\ntimeout = 3', "defaults.timeout"),
    ('[flow]\nface_treshold = 0.5', "flow.face_treshold"),
    ('[flow]\nface_threshold = "high"', "flow.face_threshold"),
])
def test_unknown_or_mistyped_site_and_flow_keys_are_named(text, key):
    with pytest.raises(ConfigError) as ei:
        parse_site(text)
    assert ei.value.key == key


def test_toml_error_names_the_file_once(tmp_path):
    from examhw import load_site
    f = tmp_path / "broken.toml"
    f.write_text("[site\n")
    with pytest.raises(ConfigError) as ei:
        load_site(f)
    assert "not valid TOML" in str(ei.value)
