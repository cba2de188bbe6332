"""Our ONVIF transport against REAL captured camera responses (Bosch,
Dahua, Hikvision, Axis, Milesight; tests/data/onvif/SOURCES.md), served byte
for byte by a tiny replay server on loopback.

R-DEV-SEAT / R-DEV-GATE: whatever camera brand the site buys, the driver
must read its identity, profiles and URIs: Dahua's 36 profiles without
encoder details, ``&amp;`` in URIs, Bosch's 2.5-year-old clock (BR-15),
compact and indented envelopes with any prefix. Error pages instead of SOAP
map to typed errors (R-SEC-CRED: a 401 page is "not authorized", not a crash)."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from aiohttp import web

from examhw.errors import DeviceFault, ProtocolError
from examhw.sim.endpoints.http import HttpEndpoint
from examhw.transports.onvif import OnvifClient

DATA = Path(__file__).resolve().parents[1] / "data" / "onvif"
_OP = re.compile(rb"<(?:[A-Za-z0-9_-]+:)?Body[^>]*>\s*<(?:[A-Za-z0-9_-]+:)?([A-Za-z]+)")
_NOT_SUPPORTED = (b'<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/'
                  b'soap-envelope" xmlns:ter="http://www.onvif.org/ver10/error"><env:Body><env:Fault><env:Code>'
                  b'<env:Value>env:Receiver</env:Value><env:Subcode><env:Value>ter:ActionNotSupported</env:Value>'
                  b'</env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">not supported</env:Text>'
                  b'</env:Reason></env:Fault></env:Body></env:Envelope>')

# operation → captured file (or (status, content type, body) for synthetic answers)
CAMERAS = {
    "bosch": {"GetSystemDateAndTime": "bosch_GetSystemDateAndTime.xml", "GetCapabilities": "bosch_GetCapabilities.xml",
              "GetDeviceInformation": "bosch_GetDeviceInformation.xml", "GetProfiles": "bosch_GetProfiles.xml",
              "GetSnapshotUri": "bosch_GetSnapshotUri.xml", "GetStreamUri": "bosch_GetStreamUri.xml"},
    "dahua": {"GetSystemDateAndTime": "axis_GetSystemDateAndTime.xml", "GetCapabilities": "dahua_GetCapabilities.xml",
              "GetDeviceInformation": "milesight_GetDeviceInformation.xml", "GetProfiles": "dahua_GetProfiles.xml",
              "GetSnapshotUri": "dahua_GetSnapshotUri.xml", "GetStreamUri": "dahua_GetStreamUri.xml"},
    "hikvision": {"GetSystemDateAndTime": "axis_GetSystemDateAndTime.xml", "GetServices": "generic_GetServices.xml",
                  "GetProfiles": "hikvision_GetProfiles.xml"},
}


class Replay:
    """Answers each SOAP operation with a fixed captured file, byte for byte;
    unknown operations get an ActionNotSupported fault. Records the operations asked."""

    def __init__(self, answers: dict[str, object]) -> None:
        self.answers = answers
        self.asked: list[str] = []
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        self.endpoint = HttpEndpoint(app)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        m = _OP.search(body)
        op = m.group(1).decode() if m else "?"
        self.asked.append(op)
        answer = self.answers.get(op)
        if answer is None:
            return web.Response(status=500, body=_NOT_SUPPORTED, content_type="application/soap+xml")
        if isinstance(answer, tuple):
            status, ctype, raw = answer
            return web.Response(status=status, body=raw, content_type=ctype)
        return web.Response(body=(DATA / str(answer)).read_bytes(), content_type="application/soap+xml")


@pytest.fixture
async def replay():
    servers = []
    clients = []

    async def start(answers: dict[str, object]) -> tuple[Replay, OnvifClient]:
        server = Replay(answers)
        await server.endpoint.start()
        servers.append(server)
        # nat_override: the captures advertise 198.51.100.x; never follow those hosts
        client = OnvifClient("127.0.0.1", server.endpoint.port, "admin", "pw", nat_override=True)
        clients.append(client)
        return server, client

    yield start
    for c in clients:
        await c.close()
    for s in servers:
        await s.endpoint.stop()


async def test_bosch_camera_parses_and_its_stale_clock_is_measured(replay):
    """Bosch FLEXIDOME: GetServices unsupported → GetCapabilities fallback;
    4 profiles 0..3; camera clock of 2023-05-24 (BR-15)."""
    server, client = await replay(CAMERAS["bosch"])
    await client.connect()
    assert server.asked[:3] == ["GetSystemDateAndTime", "GetServices", "GetCapabilities"]
    assert client.time is not None and client.time.source == "utc"
    expected = (datetime(2023, 5, 24, 21, 25, 5, tzinfo=timezone.utc) - datetime.now(timezone.utc)).total_seconds()
    assert client.time.offset_s == pytest.approx(expected, abs=3)
    info = await client.device_information()
    assert (info.manufacturer, info.model, info.firmware) == ("Bosch", "FLEXIDOME indoor 5100i IR", "8.71.0066")
    profiles = await client.profiles()
    assert [(p.token, p.name, p.encoding, p.width, p.height) for p in profiles] == [
        ("0", "Profile_L1S1", "H264", 1920, 1080), ("1", "Profile_L1S2", "H264", 1536, 864),
        ("2", "Profile_L1S3", "H264", 1280, 720), ("3", "Profile_L1S4", "H264", 512, 288)]
    port = server.endpoint.port
    assert await client.snapshot_uri("0") == f"http://127.0.0.1:{port}/snap.jpg?JpegCam=1"
    assert await client.stream_uri("0") == "rtsp://198.51.100.21/rtsp_tunnel?p=0&line=1&inst=1&vcd=2"


async def test_dahua_nvr_36_profiles_without_encoder_details_and_escaped_uris(replay):
    """Dahua: 36 profiles whose VideoEncoderConfiguration lacks Encoding and
    Resolution; ``&amp;`` in snapshot/stream URIs comes out as ``&``."""
    server, client = await replay(CAMERAS["dahua"])
    await client.connect()
    info = await client.device_information()
    assert info.manufacturer == "Milesight Technology Co.,Ltd." and info.model == "MS-C8165-PE"
    profiles = await client.profiles()
    assert len(profiles) == 36
    assert profiles[0].token == "MediaProfile00000" and profiles[0].name == "MediaProfile_Channel1_MainStream"
    assert all(p.encoding is None and p.width is None and p.height is None for p in profiles)
    assert len({p.token for p in profiles}) == 36
    port = server.endpoint.port
    assert await client.snapshot_uri(profiles[0].token) == \
        f"http://127.0.0.1:{port}/onvifsnapshot/media_service/snapshot?channel=1&subtype=1"
    assert await client.stream_uri(profiles[0].token) == \
        "rtsp://198.51.100.51:554/cam/realmonitor?channel=1&subtype=1&unicast=true&proto=Onvif"


async def test_hikvision_profiles_take_the_element_encoding_not_the_attribute(replay):
    """Hikvision: GetServices with a gSOAP header; profiles Profile_1/2 whose
    encoder says encoding="H265" as attribute but <Encoding>H264."""
    server, client = await replay(CAMERAS["hikvision"])
    await client.connect()
    assert "GetCapabilities" not in server.asked          # GetServices answered
    profiles = await client.profiles()
    assert [(p.token, p.name, p.encoding, p.width, p.height) for p in profiles[:2]] == [
        ("Profile_1", "mainStream", "H264", 1920, 1080), ("Profile_2", "subStream", "H264", 640, 360)]


async def test_missing_snapshot_uri_support_is_none_not_an_error(replay):
    server, client = await replay({k: v for k, v in CAMERAS["bosch"].items() if k != "GetSnapshotUri"})
    await client.connect()
    assert await client.snapshot_uri("0") is None


@pytest.mark.parametrize("answer, error, code", [
    ((200, "text/html", b"<html><body>Error</body></html>"), ProtocolError, None),
    ((401, "text/html", b"<html><body>401 Unauthorized</body></html>"), DeviceFault, "not_authorized"),
    ((200, "application/soap+xml", b"<env:Envelope xmlns:env='http://www.w3.org/2003/05/soap-envelope'><env:Bo"),
     ProtocolError, None),
])
async def test_error_pages_instead_of_soap_are_typed_errors(replay, answer, error, code):
    """HTML where SOAP was expected (Hikvision HTTP-Digest-on-SOAP firmware,
    proxies, truncated replies) → ProtocolError, or not_authorized for a 401."""
    server, client = await replay({**CAMERAS["bosch"], "GetProfiles": answer})
    await client.connect()
    with pytest.raises(error) as err:
        await client.profiles()
    if code:
        assert err.value.code == code
        assert server.asked.count("GetProfiles") == 2       # one re-sync, one retry, no loop
