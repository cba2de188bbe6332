"""Simulator side of the ONVIF camera protocol (docs/protocols/onvif-camera.md):
SOAP envelope parsing, WS-UsernameToken PasswordDigest verification against
the camera's own clock (BR-15), nonce replay, PRE_AUTH operations, faults,
and the snapshot HTTP Digest authority (BR-17).

Seat and gate cameras (R-DEV-SEAT, R-DEV-GATE) must refuse wrong or replayed
credentials exactly as real firmware does (R-SEC-CRED), and a garbage
request must get a SOAP fault, never a traceback."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from examhw_simulators.camera.http_digest import DigestAuthority, parse_digest_header
from examhw_simulators.camera.model import CameraModel
from examhw_simulators.camera.services import OnvifServices, load_templates, rewrite_hosts
from examhw_simulators.camera.soap import (SOAP12, NonceCache, SoapFault, parse_created, parse_request,
                                           password_digest, verify_token)

DATA = Path(__file__).resolve().parents[1] / "data" / "onvif"
BASE = "http://127.0.0.1:8999"
UTC = timezone.utc

# Real client tokens found in the headers of the agsh/onvif mock-up captures
# (tests/data/onvif/SOURCES.md); the password of that test suite is 9999.
AGSH_1 = ("NTkyOTYxNTEyMw==", "2014-12-24T16:29:17.999Z", "s1Kq3uO8l/Nwp48xOwRt5TYWqy8=")
AGSH_2 = ("NDU3MTE0NzM1OQ==", "2014-12-24T16:07:17.112Z", "zrbiJA5e0IkzAeYHk/HAlTgBs9Q=")


def request_xml(op: str = "GetDeviceInformation", ns: str = "http://www.onvif.org/ver10/device/wsdl",
                token: tuple[str, str, str, str] | None = None, inner: str = "") -> bytes:
    """A request envelope; ``token`` = (username, password_digest, nonce_b64, created)."""
    header = ""
    if token:
        user, digest, nonce, created = token
        header = ('<s:Header><wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/'
                  'oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/'
                  'oasis-200401-wss-wssecurity-utility-1.0.xsd"><wsse:UsernameToken>'
                  f'<wsse:Username>{user}</wsse:Username>'
                  '<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-'
                  f'profile-1.0#PasswordDigest">{digest}</wsse:Password><wsse:Nonce>{nonce}</wsse:Nonce>'
                  f'<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security></s:Header>')
    return (f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP12}">{header}'
            f'<s:Body><x:{op} xmlns:x="{ns}">{inner}</x:{op}></s:Body></s:Envelope>').encode()


def signed(password: str, created: datetime | str, nonce: bytes = b"0123456789abcdef",
           user: str = "admin") -> tuple[str, str, str, str]:
    import base64
    text = created if isinstance(created, str) else created.strftime("%Y-%m-%dT%H:%M:%SZ")
    return user, password_digest(nonce, text, password), base64.b64encode(nonce).decode(), text


def fault_subcodes(body: bytes) -> list[str]:
    root = ET.fromstring(body)
    return [el.text or "" for el in root.iter(f"{{{SOAP12}}}Value")]


# -- known vectors --------------------------------------------------------------------------
@pytest.mark.parametrize("vector", [AGSH_1, AGSH_2])
def test_password_digest_matches_real_client_tokens(vector):
    """R-SEC-CRED: Base64(SHA1(nonce ‖ Created ‖ password)) over the decoded nonce."""
    import base64
    nonce, created, digest = vector
    assert password_digest(base64.b64decode(nonce), created, "9999") == digest


def test_token_parsed_from_a_real_captured_header_verifies_with_its_password():
    """The header of a real gSOAP capture parses and verifies at its own time (R-DEV-SEAT)."""
    req = parse_request((DATA / "generic_GetServices.xml").read_bytes())
    assert req.operation == "GetServicesResponse"
    assert req.token is not None and req.token.username == "admin"
    now = parse_created(req.token.created) + timedelta(seconds=1)
    verify_token(req.token, username="admin", password="9999", now=now, nonces=NonceCache())
    with pytest.raises(SoapFault) as wrong:
        verify_token(req.token, username="admin", password="1234", now=now, nonces=NonceCache())
    assert wrong.value.auth_reason == "bad_digest"
    assert wrong.value.subcodes == ("ter:NotAuthorized",) and wrong.value.http_status == 400


# -- the time window and replay (BR-15) --------------------------------------------------------
CAM_NOW = datetime(2026, 3, 1, 9, 15, 2, tzinfo=UTC)


@pytest.mark.parametrize("created_offset_s, reason", [
    (0, None), (-4.9, None), (4.9, None),
    (-6, "stale_created"), (6, "future_created"),
    (-3600, "stale_created"), (-183 * 86400, "stale_created")])
def test_created_must_lie_within_five_seconds_of_the_camera_clock(created_offset_s, reason):
    """R-DEV-SEAT / BR-15: the camera checks Created against its own clock, ±5 s."""
    created = (CAM_NOW + timedelta(seconds=created_offset_s)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    req = parse_request(request_xml(token=signed("pw", created)))
    if reason is None:
        verify_token(req.token, username="admin", password="pw", now=CAM_NOW, nonces=NonceCache())
        return
    with pytest.raises(SoapFault) as err:
        verify_token(req.token, username="admin", password="pw", now=CAM_NOW, nonces=NonceCache())
    assert err.value.auth_reason == reason


def test_skewed_camera_refuses_a_host_clock_token_and_accepts_an_adjusted_one():
    """BR-15: camera one hour ahead; a token signed with host time fails, one
    signed with host time + offset passes."""
    host_now = CAM_NOW
    cam_now = host_now + timedelta(hours=1)
    bad = parse_request(request_xml(token=signed("pw", host_now)))
    with pytest.raises(SoapFault) as err:
        verify_token(bad.token, username="admin", password="pw", now=cam_now, nonces=NonceCache())
    assert err.value.auth_reason == "stale_created"
    good = parse_request(request_xml(token=signed("pw", host_now + timedelta(hours=1))))
    verify_token(good.token, username="admin", password="pw", now=cam_now, nonces=NonceCache())


def test_replayed_nonce_is_refused_inside_the_window():
    """R-SEC-CRED: a captured token cannot be replayed."""
    nonces = NonceCache()
    req = parse_request(request_xml(token=signed("pw", CAM_NOW)))
    verify_token(req.token, username="admin", password="pw", now=CAM_NOW, nonces=nonces)
    with pytest.raises(SoapFault) as err:
        verify_token(req.token, username="admin", password="pw", now=CAM_NOW + timedelta(seconds=1), nonces=nonces)
    assert err.value.auth_reason == "replayed_nonce"


def test_nonce_cache_forgets_old_nonces_and_is_bounded():
    cache = NonceCache(keep_s=10, max_entries=3)
    for i in range(5):
        cache.add(f"n{i}", CAM_NOW)
    assert len(cache) == 3 and not cache.seen("n0", CAM_NOW) and cache.seen("n4", CAM_NOW)
    assert not cache.seen("n4", CAM_NOW + timedelta(seconds=11))


def test_wrong_user_missing_token_and_garbage_fields_are_not_authorized():
    """R-SEC-CRED: every refusal is the same NotAuthorized fault; the reason stays internal."""
    cases = [
        (None, "no_token"),
        (signed("pw", CAM_NOW, user="root"), "unknown_user"),
        (("admin", "xx", "not base64!!", "2026-03-01T09:15:02Z"), "bad_created"),
        (("admin", "xx", "AAAA", "yesterday"), "bad_created"),
    ]
    for token, reason in cases:
        req = parse_request(request_xml(token=token))
        with pytest.raises(SoapFault) as err:
            verify_token(req.token, username="admin", password="pw", now=CAM_NOW, nonces=NonceCache())
        assert err.value.auth_reason == reason
        assert "pw" not in str(err.value)


def test_require_zulu_refuses_numeric_offset_created():
    """Hikvision behaviour: Created must end in Z."""
    created = CAM_NOW.isoformat()              # …+00:00
    req = parse_request(request_xml(token=signed("pw", created)))
    verify_token(req.token, username="admin", password="pw", now=CAM_NOW, nonces=NonceCache())
    req2 = parse_request(request_xml(token=signed("pw", created, nonce=b"another-nonce-16")))
    with pytest.raises(SoapFault) as err:
        verify_token(req2.token, username="admin", password="pw", now=CAM_NOW, nonces=NonceCache(),
                     require_zulu=True)
    assert err.value.auth_reason == "not_zulu"


# -- the service dispatcher -------------------------------------------------------------------
def services(password: str = "pw", vendor: str = "examhw", skew: float = 0.0) -> OnvifServices:
    return OnvifServices(CameraModel("seat-001", vendor=vendor, password=password, clock_skew_s=skew))


def test_pre_auth_operations_need_no_token_others_do():
    """ONVIF access classes: GetSystemDateAndTime/GetServices/GetCapabilities are PRE_AUTH."""
    svc = services()
    dev = "http://www.onvif.org/ver10/device/wsdl"
    for op in ("GetSystemDateAndTime", "GetServices", "GetCapabilities"):
        assert svc.dispatch(request_xml(op, dev), BASE).status == 200
    reply = svc.dispatch(request_xml("GetDeviceInformation", dev), BASE)
    assert reply.status == 400 and "ter:NotAuthorized" in fault_subcodes(reply.body)
    assert svc.model.auth_failures == {"no_token": 1}
    token = signed("pw", datetime.now(UTC))
    ok = svc.dispatch(request_xml("GetDeviceInformation", dev, token=token), BASE)
    assert ok.status == 200 and b"<tds:Manufacturer>examhw</tds:Manufacturer>" in ok.body


def test_system_date_and_time_reports_the_skewed_camera_clock():
    svc = services(skew=-183 * 86400)
    body = svc.dispatch(request_xml("GetSystemDateAndTime"), BASE).body
    root = ET.fromstring(body)
    tt = "{http://www.onvif.org/ver10/schema}"
    utc = root.find(f".//{tt}UTCDateTime")
    d, t = utc.find(f"{tt}Date"), utc.find(f"{tt}Time")
    cam = datetime(int(d.find(f"{tt}Year").text), int(d.find(f"{tt}Month").text), int(d.find(f"{tt}Day").text),
                   int(t.find(f"{tt}Hour").text), int(t.find(f"{tt}Minute").text), int(t.find(f"{tt}Second").text),
                   tzinfo=UTC)
    assert abs((cam - datetime.now(UTC)).total_seconds() + 183 * 86400) < 3


def test_unknown_operation_is_action_not_supported_and_unknown_profile_is_no_profile():
    svc = services(password="")
    reply = svc.dispatch(request_xml("GotoPreset", "http://www.onvif.org/ver20/ptz/wsdl"), BASE)
    assert reply.status == 500 and "ter:ActionNotSupported" in fault_subcodes(reply.body)
    media = "http://www.onvif.org/ver10/media/wsdl"
    bad = svc.dispatch(request_xml("GetSnapshotUri", media, inner="<x:ProfileToken>nope</x:ProfileToken>"), BASE)
    assert bad.status == 400 and fault_subcodes(bad.body)[-1] == "ter:NoProfile"
    good = svc.dispatch(request_xml("GetSnapshotUri", media, inner="<x:ProfileToken>Profile_1</x:ProfileToken>"), BASE)
    assert good.status == 200 and b"http://127.0.0.1:8999/onvif/snapshot?profile=Profile_1" in good.body


def test_soap11_envelope_is_version_mismatch_and_dtd_is_refused():
    svc = services(password="")
    soap11 = b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><a/></e:Body></e:Envelope>'
    reply = svc.dispatch(soap11, BASE)
    assert reply.status == 400 and fault_subcodes(reply.body) == ["env:VersionMismatch"]
    bomb = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><x>&b;</x></s:Body></s:Envelope>')
    assert "ter:WellFormed" in fault_subcodes(svc.dispatch(bomb, BASE).body)


@pytest.mark.parametrize("vendor, tokens, snap_path", [
    ("bosch", ("0", "1", "2", "3"), "/snap.jpg"),
    ("hikvision", ("Profile_1", "Profile_2"), "/onvif-http/snapshot"),
    ("dahua", None, "/onvifsnapshot/media_service/snapshot"),
])
def test_vendor_templates_are_served_with_loopback_hosts(vendor, tokens, snap_path):
    """Captured vendor responses become the simulator's answers; no TEST-NET host leaks out."""
    svc = services(password="", vendor=vendor)
    if tokens:
        assert svc.profile_tokens == tokens
    else:
        assert len(svc.profile_tokens) == 36
    assert svc.snapshot_path() == snap_path
    media = "http://www.onvif.org/ver10/media/wsdl"
    token = f"<x:ProfileToken>{svc.profile_tokens[0]}</x:ProfileToken>"
    for op, inner in (("GetProfiles", ""), ("GetSnapshotUri", token), ("GetStreamUri", token)):
        body = svc.dispatch(request_xml(op, media, inner=inner), BASE).body
        assert b"198.51.100." not in body
    caps = svc.dispatch(request_xml("GetCapabilities"), BASE).body
    assert b"198.51.100." not in caps


def test_rewrite_hosts_keeps_paths_and_rtsp_ports():
    text = "http://198.51.100.21/snap.jpg?a=1&amp;b=2 rtsp://198.51.100.51:8554/x rtsp://198.51.100.51/y"
    assert rewrite_hosts(text, BASE) == ("http://127.0.0.1:8999/snap.jpg?a=1&amp;b=2 "
                                         "rtsp://127.0.0.1:8554/x rtsp://127.0.0.1:554/y")
    assert set(load_templates("bosch")) == {"GetDeviceInformation", "GetCapabilities", "GetProfiles",
                                            "GetSnapshotUri", "GetStreamUri"}


# -- hypothesis: garbage never becomes a traceback ----------------------------------------------
def _check_reply(reply) -> None:
    assert reply.status in (200, 400, 500)
    root = ET.fromstring(reply.body)              # always a well-formed envelope
    assert root.tag == f"{{{SOAP12}}}Envelope"
    if reply.status != 200:
        assert root.find(f"{{{SOAP12}}}Body/{{{SOAP12}}}Fault") is not None


SVC = services()          # shared by the hypothesis tests (building a model per example is slow)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes_get_a_soap_fault(body):
    svc = SVC
    reply = svc.dispatch(body, BASE)
    _check_reply(reply)
    assert reply.status != 200 or body.strip().startswith(b"<")


VALID = request_xml("GetSystemDateAndTime")


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(VALID)), st.binary(max_size=40), st.integers(0, len(VALID)))
def test_mutated_envelopes_never_raise(cut, junk, at):
    """Truncated envelopes and junk spliced in anywhere: a fault or a valid answer."""
    svc = SVC
    _check_reply(svc.dispatch(VALID[:cut], BASE))
    _check_reply(svc.dispatch(VALID[:at] + junk + VALID[at:], BASE))


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_arbitrary_token_fields_are_refused_cleanly(text):
    """Any username/nonce/created text: NotAuthorized or success, never an exception."""
    svc = SVC
    from xml.sax.saxutils import escape
    t = escape(text)
    body = request_xml(token=(t, t, t, t))
    if b"\x00" in body:
        return
    reply = svc.dispatch(body, BASE)
    _check_reply(reply)


# -- HTTP Digest (snapshot) ------------------------------------------------------------------------
RFC2617 = dict(username="Mufasa", realm="testrealm@host.com", password="Circle Of Life",
               nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", nc="00000001",
               cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1",
               opaque="5ccc069c403ebaf9f0171e9517f40e41")


def rfc_header(**over: str) -> str:
    v = {**RFC2617, **over}
    return (f'Digest username="{v["username"]}", realm="{v["realm"]}", nonce="{v["nonce"]}", uri="{v["uri"]}", '
            f'qop=auth, nc={v["nc"]}, cnonce="{v["cnonce"]}", response="{v["response"]}", opaque="{v["opaque"]}"')


def test_digest_authority_accepts_the_rfc2617_example_once():
    """RFC 2617 §3.5 vector; the same nc is a replay (BR-17)."""
    auth = DigestAuthority(RFC2617["username"], RFC2617["password"], realm=RFC2617["realm"])
    auth.challenge(nonce=RFC2617["nonce"])
    assert auth.check("GET", "/dir/index.html", rfc_header()) == "ok"
    assert auth.check("GET", "/dir/index.html", rfc_header()) == "bad"        # replayed nc
    assert auth.check("GET", "/dir/other.html", rfc_header()) == "bad"        # uri mismatch
    assert auth.check("GET", "/dir/index.html", None) == "missing"
    assert auth.check("GET", "/dir/index.html", "Basic TXVmYXNhOnB3") == "missing"


def test_digest_authority_wrong_password_is_bad_and_expired_nonce_is_stale():
    clock = [0.0]
    auth = DigestAuthority("Mufasa", "wrong", realm=RFC2617["realm"], clock=lambda: clock[0])
    auth.challenge(nonce=RFC2617["nonce"])
    assert auth.check("GET", "/dir/index.html", rfc_header()) == "bad"
    good = DigestAuthority("Mufasa", RFC2617["password"], realm=RFC2617["realm"], clock=lambda: clock[0])
    good.challenge(nonce=RFC2617["nonce"])
    clock[0] = 301.0
    assert good.check("GET", "/dir/index.html", rfc_header()) == "stale"
    assert "stale=true" in good.challenge(stale=True)


def test_parse_digest_header_handles_quotes_and_escapes():
    p = parse_digest_header(r'Digest username="a\"b", realm="r, x", nc=00000001, qop=auth')
    assert p == {"username": 'a"b', "realm": "r, x", "nc": "00000001", "qop": "auth"}
    assert parse_digest_header("Basic abc") is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_digest_authority_never_raises_on_garbage(header):
    auth = DigestAuthority("admin", "pw")
    auth.challenge()
    assert auth.check("GET", "/onvif/snapshot", header) in ("ok", "missing", "stale", "bad")
    assert auth.check("GET", "/onvif/snapshot", "Digest " + header) in ("missing", "stale", "bad")
