import pytest

from examhw import ConfigError, DeviceURL


def test_parse_serial_url():
    u = DeviceURL.parse("serial:///dev/ttyUSB0?baud=115200")
    assert (u.scheme, u.path, u.query) == ("serial", "/dev/ttyUSB0", {"baud": "115200"})


def test_password_never_rendered_by_str():
    # R-SEC-CRED: credentials never reach logs or reports.
    u = DeviceURL.parse("onvif://admin:s3cret@127.0.0.1:8080/onvif")
    assert "s3cret" not in str(u) and "s3cret" not in u.redacted()
    assert u.render() == "onvif://admin:s3cret@127.0.0.1:8080/onvif"


def test_sim_url_with_options():
    u = DeviceURL.parse("sim:?clock_skew_s=420")
    assert u.scheme == "sim" and u.query == {"clock_skew_s": "420"}


@pytest.mark.parametrize("bad", ["nothing", "://x", "tcp://h:notaport"])
def test_bad_urls_raise_config_error(bad):
    with pytest.raises(ConfigError):
        DeviceURL.parse(bad)
