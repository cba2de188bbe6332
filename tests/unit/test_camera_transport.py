"""Driver side of the ONVIF camera protocol (src/examhw/transports/onvif.py),
pure parts: camera clock offset (BR-15, incl. LocalDateTime-only cameras),
HTTP Digest answers (RFC 2617 vector), challenge parsing, credential
stripping and image magic (BR-17), and the error mapping to examhw errors.

Seat/gate snapshots (R-DEV-SEAT, R-OPS-SEAT, R-DEV-GATE) depend on these;
credentials never appear in errors (R-SEC-CRED)."""
from __future__ import annotations

import hashlib
import logging
import os
from datetime import datetime, timezone
from types import SimpleNamespace as NS

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from examhw.errors import DeviceFault, DeviceTimeout, DeviceUnavailable, ProtocolError
from examhw.transports import onvif as t

UTC = timezone.utc


def stamp(y, mo, d, h, mi, s):
    return NS(Date=NS(Year=y, Month=mo, Day=d), Time=NS(Hour=h, Minute=mi, Second=s))


def test_offset_from_utc_date_time_centres_the_whole_second_truncation():
    """BR-15: offset = camera UTC − host UTC (+0.5 s for the whole-second report)."""
    host = datetime(2026, 3, 1, 9, 0, 0, 200000, tzinfo=UTC)
    ct = t.camera_time_from(NS(UTCDateTime=stamp(2026, 3, 1, 10, 0, 0), LocalDateTime=None), host)
    assert ct.source == "utc"
    assert ct.offset_s == pytest.approx(3600 - 0.2 + 0.5)


def test_bosch_capture_clock_is_two_and_a_half_years_behind():
    """The real Bosch capture: camera says 2023-05-24 21:25:05 on 2025-11-10."""
    host = datetime(2025, 11, 10, 12, 32, 59, tzinfo=UTC)
    ct = t.camera_time_from(NS(UTCDateTime=stamp(2023, 5, 24, 21, 25, 5)), host)
    behind = (datetime(2025, 11, 10, 12, 32, 59) - datetime(2023, 5, 24, 21, 25, 5)).total_seconds()
    assert ct.offset_s == pytest.approx(-behind + 0.5)
    assert 900 < behind / 86400 < 902


def test_local_date_time_only_camera_is_used_as_is():
    """BR-15 second fake: only LocalDateTime 1979-11-30 00:00:50, no UTCDateTime."""
    host = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)
    ct = t.camera_time_from(NS(UTCDateTime=None, LocalDateTime=stamp(1979, 11, 30, 0, 0, 50)), host)
    assert ct.source == "local"
    assert ct.camera_utc == datetime(1979, 11, 30, 0, 0, 50, tzinfo=UTC)
    assert ct.offset_s < -46 * 365 * 86400


@pytest.mark.parametrize("sys_date", [None, NS(UTCDateTime=None, LocalDateTime=None),
                                      NS(UTCDateTime=stamp(2026, 2, 30, 0, 0, 0)),
                                      NS(UTCDateTime=NS(Date=None, Time=None))])
def test_unusable_camera_time_is_a_protocol_error(sys_date):
    with pytest.raises(ProtocolError):
        t.camera_time_from(sys_date, datetime.now(UTC))


# -- HTTP Digest client ------------------------------------------------------------------------
def test_digest_answer_reproduces_the_rfc2617_example():
    """RFC 2617 §3.5: Mufasa / Circle Of Life → response 6629fae4…"""
    chal = {"realm": "testrealm@host.com", "qop": "auth,auth-int", "nonce": "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            "opaque": "5ccc069c403ebaf9f0171e9517f40e41"}
    header = t.digest_authorization("Mufasa", "Circle Of Life", "GET", "/dir/index.html", chal, 1, "0a4f113b")
    assert 'response="6629fae49393a05397450978507c4ef1"' in header
    assert "nc=00000001" in header and 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in header
    assert header.startswith("Digest ") and "qop=auth," in header


def test_digest_answer_without_qop_and_with_sha256():
    chal = {"realm": "r", "nonce": "n"}
    h = t.digest_authorization("u", "p", "GET", "/x", chal, 1, "c")
    ha1 = hashlib.md5(b"u:r:p").hexdigest()
    ha2 = hashlib.md5(b"GET:/x").hexdigest()
    assert f'response="{hashlib.md5(f"{ha1}:n:{ha2}".encode()).hexdigest()}"' in h and "qop" not in h
    s = t.digest_authorization("u", "p", "GET", "/x", {**chal, "algorithm": "SHA-256", "qop": "auth"}, 2, "c")
    assert "algorithm=SHA-256" in s and "nc=00000002" in s
    with pytest.raises(ProtocolError):
        t.digest_authorization("u", "p", "GET", "/x", {**chal, "algorithm": "SHA-512-256"}, 1, "c")
    with pytest.raises(ProtocolError):
        t.digest_authorization("u", "p", "GET", "/x", {**chal, "qop": "auth-int"}, 1, "c")


def test_parse_challenges_picks_schemes_and_params():
    got = t.parse_challenges(['Digest realm="cam", qop="auth", nonce="abc123", algorithm=MD5',
                              'Basic realm="cam"'])
    assert got == [("digest", {"realm": "cam", "qop": "auth", "nonce": "abc123", "algorithm": "MD5"}),
                   ("basic", {"realm": "cam"})]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=3))
def test_parse_challenges_never_raises(values):
    for scheme, params in t.parse_challenges(values):
        assert isinstance(scheme, str) and isinstance(params, dict)


def test_userinfo_and_query_credentials_are_stripped():
    """BR-17: credentials in the snapshot URI are never sent as such."""
    assert t.split_userinfo("http://u:p@10.0.0.1:81/snap?x=1") == ("http://10.0.0.1:81/snap?x=1", "u", "p")
    assert t.split_userinfo("http://10.0.0.1/snap") == ("http://10.0.0.1/snap", None, None)
    assert t.strip_query_credentials("http://h/onvif/snapshot?user=u&pwd=p&channel=1") == \
        "http://h/onvif/snapshot?channel=1"
    assert t.strip_query_credentials("http://h/s?channel=1&subtype=1") == "http://h/s?channel=1&subtype=1"


def test_image_magic():
    assert t.image_format(b"\xff\xd8\xff\xe0rest") == "jpeg"
    assert t.image_format(b"\x89PNG\r\n\x1a\nrest") == "png"
    assert t.image_format(b"<html>Error</html>") is None
    assert t.image_format(b"") is None


# -- error mapping ---------------------------------------------------------------------------
def _zeep():
    t._onvif()                       # imports zeep through the library, side effects undone
    import zeep.exceptions as z
    from lxml import etree
    return z, etree


def test_not_authorized_fault_maps_to_the_auth_marker_and_others_to_device_fault():
    z, etree = _zeep()
    ter = "http://www.onvif.org/ver10/error"
    na = z.Fault("Sender not Authorized", code="env:Sender", subcodes=[etree.QName(ter, "NotAuthorized")])
    assert isinstance(t.classify_error(na), t._AuthRejected)
    nsup = z.Fault("no", code="env:Receiver", subcodes=[etree.QName(ter, "ActionNotSupported")])
    mapped = t.classify_error(nsup)
    assert isinstance(mapped, DeviceFault) and mapped.code == "ActionNotSupported"
    noprof = z.Fault("no", code="env:Sender",
                     subcodes=[etree.QName(ter, "InvalidArgVal"), etree.QName(ter, "NoProfile")])
    assert t.classify_error(noprof).code == "NoProfile"
    wellformed = z.Fault("bad xml", code="env:Sender", subcodes=[etree.QName(ter, "WellFormed")])
    assert isinstance(t.classify_error(wellformed), ProtocolError)


def test_unknown_fault_from_an_html_error_page():
    """zeep turns an HTTP error with an HTML body into a code-less Fault: a
    401 page means not authorized, anything else is a protocol error."""
    z, _ = _zeep()
    page401 = z.Fault("Unknown fault occured", code=None, detail=b"<html><h1>401 Unauthorized</h1></html>")
    assert isinstance(t.classify_error(page401), t._AuthRejected)
    page500 = z.Fault("Unknown fault occured", code=None, detail=b"<html><h1>Server Error</h1></html>")
    assert isinstance(t.classify_error(page500), ProtocolError)


def test_transport_and_network_errors_map_to_typed_errors():
    z, _ = _zeep()
    assert isinstance(t.classify_error(z.TransportError("x", status_code=401)), t._AuthRejected)
    assert isinstance(t.classify_error(z.TransportError("x", status_code=502)), ProtocolError)
    assert isinstance(t.classify_error(z.XMLSyntaxError("root element found is html")), ProtocolError)
    assert isinstance(t.classify_error(ConnectionRefusedError(111, "refused")), DeviceUnavailable)
    assert isinstance(t.classify_error(aiohttp.ServerDisconnectedError()), DeviceUnavailable)
    assert isinstance(t.classify_error(TimeoutError()), DeviceTimeout)
    assert isinstance(t.classify_error(KeyError("x")), ProtocolError)


def test_lazy_import_leaves_root_logger_and_proxy_env_alone(monkeypatch):
    """The library's import-time basicConfig and proxy popping are undone."""
    monkeypatch.setenv("http_proxy", "http://proxy.invalid:3128")
    root = logging.getLogger()
    before = (root.level, list(root.handlers))
    with t._preserved_process_state():
        logging.basicConfig(level=logging.INFO)
        os.environ.pop("http_proxy", None)
    assert (root.level, list(root.handlers)) == before
    assert os.environ["http_proxy"] == "http://proxy.invalid:3128"
    t._onvif()
    for name in ("zeep.transports", "onvif.zeep_aiohttp"):
        assert logging.getLogger(name).level == logging.INFO


def test_client_repr_never_shows_the_password():
    """R-SEC-CRED."""
    c = t.OnvifClient("127.0.0.1", 80, "admin", "hunter2-secret")
    assert "hunter2" not in repr(c)
