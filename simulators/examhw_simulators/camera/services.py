"""ONVIF device and media services of the simulated camera: turn one SOAP
request body into one SOAP reply (status + envelope bytes).

Responses are generated from the model, or — for ``vendor`` bosch /
hikvision / dahua — served from that vendor's captured templates in
``data/`` with the TEST-NET hosts rewritten to the simulator's own loopback
address. :meth:`OnvifServices.dispatch` never raises: every failure is a
SOAP fault (docs/protocols/onvif-camera.md §4).
"""
from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from importlib import resources
from typing import Callable
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from .model import CameraModel
from .soap import (TDS, SoapFault, SoapRequest, envelope, fault_envelope, parse_request,
                   verify_token)

#: operations answered without credentials (ONVIF Core access class PRE_AUTH)
PRE_AUTH = frozenset({"GetSystemDateAndTime", "GetServices", "GetCapabilities", "GetServiceCapabilities",
                      "GetHostname", "GetWsdlUrl", "GetEndpointReference"})
#: operations a vendor's captured template can answer
TEMPLATE_OPS = ("GetDeviceInformation", "GetCapabilities", "GetProfiles", "GetSnapshotUri", "GetStreamUri")
DEVICE_PATH = "/onvif/device_service"
MEDIA_PATH = "/onvif/media_service"
RTSP_BASE = "rtsp://127.0.0.1:554"

log = logging.getLogger("examhw.sim.onvif")

_TEST_NET = re.compile(r"(https?|rtsp)://198\.51\.100\.\d{1,3}(?::(\d+))?")
_TOKEN_RE = re.compile(r'<[A-Za-z0-9_]+:Profiles\b[^>]*\btoken="([^"]*)"')
_URI_RE = re.compile(r"<[A-Za-z0-9_]+:Uri>([^<]*)</")

_GENERATED_PROFILES = (("Profile_1", "mainStream", 640, 480, 25, 2048), ("Profile_2", "subStream", 320, 240, 15, 512))


@dataclass(frozen=True)
class SoapReply:
    """HTTP status and body of one SOAP answer."""

    status: int
    body: bytes
    content_type: str = "application/soap+xml; charset=utf-8"


def load_templates(vendor: str) -> dict[str, str]:
    """The captured response templates of ``vendor`` (operation → XML text)."""
    if vendor == "examhw":
        return {}
    folder = resources.files(__package__).joinpath("data")
    found = {}
    for op in TEMPLATE_OPS:
        item = folder.joinpath(f"{vendor}_{op}.xml")
        if item.is_file():
            found[op] = item.read_text(encoding="utf-8")
    return found


def rewrite_hosts(text: str, base_url: str) -> str:
    """Point every TEST-NET-2 URL of a template at the simulator:
    ``http(s)://198.51.100.x[:p]`` → ``base_url``, ``rtsp://198.51.100.x[:p]``
    → ``rtsp://127.0.0.1:<p or 554>``."""
    def sub(m: re.Match[str]) -> str:
        if m.group(1) == "rtsp":
            return f"rtsp://127.0.0.1:{m.group(2) or 554}"
        return base_url
    return _TEST_NET.sub(sub, text)


def _unescape(text: str) -> str:
    return html.unescape(text)


class OnvifServices:
    """The camera's SOAP side. ``templates`` come from :func:`load_templates`."""

    def __init__(self, model: CameraModel, templates: dict[str, str] | None = None) -> None:
        self.model = model
        self.templates = dict(templates if templates is not None else load_templates(model.vendor))
        if "GetProfiles" in self.templates:
            self.profile_tokens = tuple(_TOKEN_RE.findall(self.templates["GetProfiles"]))
        else:
            self.profile_tokens = tuple(p[0] for p in _GENERATED_PROFILES)
        self._handlers: dict[str, Callable[[SoapRequest, str], bytes]] = {
            "GetSystemDateAndTime": self._system_date_and_time,
            "GetServices": self._services,
            "GetCapabilities": self._capabilities,
            "GetDeviceInformation": self._device_information,
            "GetScopes": self._scopes,
            "GetProfiles": self._profiles,
            "GetSnapshotUri": self._snapshot_uri,
            "GetStreamUri": self._stream_uri,
            "GetVideoSources": self._video_sources,
        }

    # -- routing ---------------------------------------------------------------
    def snapshot_path(self) -> str:
        """The HTTP path the snapshot is served on (query not included)."""
        tpl = self.templates.get("GetSnapshotUri")
        if tpl:
            m = _URI_RE.search(tpl)
            if m:
                return urlsplit(_unescape(m.group(1))).path or "/"
        return "/onvif-http/snapshot" if self.model.vendor == "hikvision" else "/onvif/snapshot"

    def dispatch(self, body: bytes, base_url: str) -> SoapReply:
        """Answer one request body. ``base_url`` is ``http://127.0.0.1:PORT``.
        Never raises."""
        try:
            req = parse_request(body)
            self.model.requests[req.operation] += 1
            if req.operation not in PRE_AUTH and self.model.requires_auth:
                verify_token(req.token, username=self.model.username, password=self.model.password,
                             now=self.model.camera_now(), nonces=self.model.nonces,
                             window_s=self.model.window_s, require_zulu=self.model.require_zulu)
            handler = self._handlers.get(req.operation)
            if handler is None:
                raise SoapFault("env:Receiver", ("ter:ActionNotSupported",),
                                f"Optional Action {req.operation} not implemented")
            return SoapReply(200, handler(req, base_url))
        except SoapFault as fault:
            if fault.auth_reason:
                self.model.auth_failures[fault.auth_reason] += 1
            return SoapReply(fault.http_status, fault_envelope(fault))
        except Exception:  # noqa: BLE001 - a camera answers a fault, never a traceback; logged
            log.exception("%s: SOAP handler failed", self.model.role)
            fault = SoapFault("env:Receiver", ("ter:Action",), "internal error")
            return SoapReply(fault.http_status, fault_envelope(fault))

    # -- helpers ----------------------------------------------------------------
    def _template(self, op: str, base_url: str) -> bytes | None:
        tpl = self.templates.get(op)
        return None if tpl is None else rewrite_hosts(tpl, base_url).encode("utf-8")

    def _token(self, req: SoapRequest) -> str:
        token = req.param("ProfileToken")
        if not token or token not in self.profile_tokens:
            raise SoapFault("env:Sender", ("ter:InvalidArgVal", "ter:NoProfile"),
                            f"The requested profile token {token!r} does not exist")
        return token

    @staticmethod
    def _media_uri(uri: str, invalid_after_connect: bool = False) -> str:
        return (f"<trt:MediaUri><tt:Uri>{escape(uri)}</tt:Uri>"
                f"<tt:InvalidAfterConnect>{str(invalid_after_connect).lower()}</tt:InvalidAfterConnect>"
                f"<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri>")

    # -- device service ------------------------------------------------------------
    def _system_date_and_time(self, req: SoapRequest, base_url: str) -> bytes:
        now = self.model.camera_now()

        def stamp(tag: str) -> str:
            return (f"<tt:{tag}><tt:Time><tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}</tt:Minute>"
                    f"<tt:Second>{now.second}</tt:Second></tt:Time><tt:Date><tt:Year>{now.year}</tt:Year>"
                    f"<tt:Month>{now.month}</tt:Month><tt:Day>{now.day}</tt:Day></tt:Date></tt:{tag}>")
        return envelope("<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
                        "<tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
                        "<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>"
                        f"{stamp('UTCDateTime')}{stamp('LocalDateTime')}"
                        "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>")

    def _services(self, req: SoapRequest, base_url: str) -> bytes:
        entries = ((TDS, DEVICE_PATH, 2, 60), ("http://www.onvif.org/ver10/media/wsdl", MEDIA_PATH, 2, 60))
        body = "".join(f"<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{base_url}{path}</tds:XAddr>"
                       f"<tds:Version><tt:Major>{major}</tt:Major><tt:Minor>{minor}</tt:Minor></tds:Version>"
                       f"</tds:Service>" for ns, path, major, minor in entries)
        return envelope(f"<tds:GetServicesResponse>{body}</tds:GetServicesResponse>")

    def _capabilities(self, req: SoapRequest, base_url: str) -> bytes:
        tpl = self._template("GetCapabilities", base_url)
        if tpl is not None:
            return tpl
        return envelope(
            "<tds:GetCapabilitiesResponse><tds:Capabilities>"
            f"<tt:Device><tt:XAddr>{base_url}{DEVICE_PATH}</tt:XAddr></tt:Device>"
            f"<tt:Media><tt:XAddr>{base_url}{MEDIA_PATH}</tt:XAddr><tt:StreamingCapabilities>"
            "<tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP>"
            "<tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>"
            "</tds:Capabilities></tds:GetCapabilitiesResponse>")

    def _device_information(self, req: SoapRequest, base_url: str) -> bytes:
        tpl = self._template("GetDeviceInformation", base_url)
        if tpl is not None:
            return tpl
        ident = self.model.identity
        return envelope(
            "<tds:GetDeviceInformationResponse>"
            f"<tds:Manufacturer>{escape(ident.manufacturer)}</tds:Manufacturer>"
            f"<tds:Model>{escape(ident.model)}</tds:Model>"
            f"<tds:FirmwareVersion>{escape(ident.firmware)}</tds:FirmwareVersion>"
            f"<tds:SerialNumber>{escape(ident.serial)}</tds:SerialNumber>"
            f"<tds:HardwareId>{escape(ident.hardware_id)}</tds:HardwareId>"
            "</tds:GetDeviceInformationResponse>")

    def _scopes(self, req: SoapRequest, base_url: str) -> bytes:
        ident = self.model.identity
        items = ("onvif://www.onvif.org/type/video_encoder", "onvif://www.onvif.org/Profile/Streaming",
                 f"onvif://www.onvif.org/hardware/{ident.model}", f"onvif://www.onvif.org/name/{ident.manufacturer}",
                 f"onvif://www.onvif.org/location/{self.model.role}")
        body = "".join(f"<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef><tt:ScopeItem>{escape(i)}</tt:ScopeItem>"
                       f"</tds:Scopes>" for i in items)
        return envelope(f"<tds:GetScopesResponse>{body}</tds:GetScopesResponse>")

    # -- media service ---------------------------------------------------------------
    def _profiles(self, req: SoapRequest, base_url: str) -> bytes:
        tpl = self._template("GetProfiles", base_url)
        if tpl is not None:
            return tpl
        out = []
        for token, name, w, h, fps, kbps in _GENERATED_PROFILES:
            out.append(
                f'<trt:Profiles token="{token}" fixed="true"><tt:Name>{name}</tt:Name>'
                '<tt:VideoSourceConfiguration token="VideoSourceConfig_1"><tt:Name>VideoSourceConfig</tt:Name>'
                '<tt:UseCount>2</tt:UseCount><tt:SourceToken>VideoSource_1</tt:SourceToken>'
                '<tt:Bounds x="0" y="0" width="640" height="480"/></tt:VideoSourceConfiguration>'
                f'<tt:VideoEncoderConfiguration token="VideoEncoder_{token[-1]}"><tt:Name>{name}</tt:Name>'
                '<tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>'
                f'<tt:Resolution><tt:Width>{w}</tt:Width><tt:Height>{h}</tt:Height></tt:Resolution>'
                '<tt:Quality>5</tt:Quality><tt:RateControl>'
                f'<tt:FrameRateLimit>{fps}</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval>'
                f'<tt:BitrateLimit>{kbps}</tt:BitrateLimit></tt:RateControl>'
                '<tt:H264><tt:GovLength>50</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264>'
                '<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address>'
                '</tt:Address><tt:Port>0</tt:Port><tt:TTL>1</tt:TTL><tt:AutoStart>false</tt:AutoStart>'
                '</tt:Multicast><tt:SessionTimeout>PT60S</tt:SessionTimeout></tt:VideoEncoderConfiguration>'
                '</trt:Profiles>')
        return envelope(f"<trt:GetProfilesResponse>{''.join(out)}</trt:GetProfilesResponse>")

    def _snapshot_uri(self, req: SoapRequest, base_url: str) -> bytes:
        token = self._token(req)
        tpl = self._template("GetSnapshotUri", base_url)
        if tpl is not None:
            return tpl
        if self.model.vendor == "hikvision":
            uri = f"{base_url}{self.snapshot_path()}?{token}"
        else:
            uri = f"{base_url}{self.snapshot_path()}?profile={token}"
        return envelope(f"<trt:GetSnapshotUriResponse>{self._media_uri(uri)}</trt:GetSnapshotUriResponse>")

    def _stream_uri(self, req: SoapRequest, base_url: str) -> bytes:
        token = self._token(req)
        tpl = self._template("GetStreamUri", base_url)
        if tpl is not None:
            return tpl
        if self.model.vendor == "hikvision":
            uri = f"{RTSP_BASE}/Streaming/Channels/10{self.profile_tokens.index(token) + 1}"
        else:
            uri = f"{RTSP_BASE}/examhw/{token}?transport=unicast&profile={token}"
        return envelope(f"<trt:GetStreamUriResponse>{self._media_uri(uri)}</trt:GetStreamUriResponse>")

    def _video_sources(self, req: SoapRequest, base_url: str) -> bytes:
        return envelope('<trt:GetVideoSourcesResponse><trt:VideoSources token="VideoSource_1">'
                        "<tt:Framerate>25</tt:Framerate><tt:Resolution><tt:Width>640</tt:Width>"
                        "<tt:Height>480</tt:Height></tt:Resolution></trt:VideoSources>"
                        "</trt:GetVideoSourcesResponse>")
