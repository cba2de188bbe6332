"""ONVIF camera client: the only module of examhw that imports ``onvif``
(onvif-zeep-async 4.3.x) and zeep.

:class:`OnvifClient` wraps one ``ONVIFCamera``: connect with clock-offset
compensation, device information, media profiles, snapshot and stream URIs,
the camera's date/time, and an HTTP snapshot fetch with Digest/Basic
challenge handling. Every failure leaves as an examhw error:

- ``NotAuthorized`` SOAP fault (or HTTP 401/403) → one re-sync of the camera
  clock and one retry, then :class:`DeviceFault` ``code="not_authorized"``
  (BR-15; never a retry loop — cameras lock accounts out);
- other SOAP faults → :class:`DeviceFault` with the fault's subcode;
- connection refused/reset → :class:`DeviceUnavailable`;
- HTTP/XML garbage, a snapshot that is not a JPEG/PNG → :class:`ProtocolError`
  naming the content type and first bytes (BR-17);
- library timeouts → :class:`DeviceTimeout`.

The protocol is described in docs/protocols/onvif-camera.md.

Import side effects of the library (``logging.basicConfig(level=INFO)`` at
import, ``http_proxy``/``https_proxy`` popped from ``os.environ`` by every
``ONVIFCamera()``) are undone: the library is imported lazily and the root
logger and the environment are restored afterwards. The library's and zeep's
transport loggers (which print whole envelopes, WS-Security tokens
included, at DEBUG) are capped at INFO so credentials never reach a log
(R-SEC-CRED).
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import os
import re
import secrets
import sys
import time
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import ModuleType
from typing import Any, Awaitable, Callable, Iterator, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiohttp
from yarl import URL

from ..errors import DeviceError, DeviceFault, DeviceTimeout, DeviceUnavailable, ProtocolError

T = TypeVar("T")
log = logging.getLogger("examhw.transports.onvif")

#: largest snapshot body accepted, bytes
MAX_SNAPSHOT_BYTES = 10 * 1024 * 1024
#: the camera reports whole seconds; half a second centres the truncation error
_TRUNCATION_S = 0.5
_PROXY_VARS = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")
_CREDENTIAL_PARAMS = frozenset({"user", "username", "pwd", "password", "pass", "passwd"})
#: loggers of the library and zeep that print whole SOAP envelopes at DEBUG
_ENVELOPE_LOGGERS = ("zeep.transports", "onvif.zeep_aiohttp", "onvif.transport")
#: SOAP fault subcodes meaning "your request was malformed" (a protocol error, not a device fault)
_MALFORMED_SUBCODES = frozenset({"WellFormed", "TagMismatch", "Tag", "Namespace", "MissingAttr", "ProhibitedAttr"})
_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# -- the library, imported lazily and without side effects ---------------------------
@contextlib.contextmanager
def _preserved_process_state() -> Iterator[None]:
    """Restore the root logger (level, handlers) and the proxy environment
    variables after the block, whatever the library did to them."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    env = {k: os.environ.get(k) for k in _PROXY_VARS}
    try:
        yield
    finally:
        root.setLevel(level)
        for h in list(root.handlers):
            if h not in handlers:
                root.removeHandler(h)
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _onvif() -> ModuleType:
    """The ``onvif`` package (imported on first use, side effects undone)."""
    mod = sys.modules.get("onvif.client")
    if mod is None:
        with _preserved_process_state():
            import onvif.client as mod  # noqa: PLC0415 - lazy on purpose (import cost, side effects)
        for name in _ENVELOPE_LOGGERS:           # at DEBUG they print WS-Security tokens
            envelope_log = logging.getLogger(name)
            if envelope_log.level < logging.INFO:
                envelope_log.setLevel(logging.INFO)
    return mod


#: one lock per event loop serialising the first WSDL parse (the library caches the
#: parsed documents per process but lets concurrent first users all parse them:
#: 100 cameras opened at once would parse the same WSDLs 100 times over).
_WARM_LOCKS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]" = weakref.WeakKeyDictionary()
_WARMED: set[str] = set()


async def warm_up() -> None:
    """Parse the device and media WSDLs once (off the event loop, inside the
    library) before cameras connect concurrently. Cheap after the first call."""
    if "done" in _WARMED:
        return
    mod = _onvif()
    loop = asyncio.get_running_loop()
    lock = _WARM_LOCKS.setdefault(loop, asyncio.Lock())
    async with lock:
        if "done" in _WARMED:
            return
        with _preserved_process_state():
            cam = mod.ONVIFCamera("127.0.0.1", 9, None, None, no_cache=True)
        try:
            cam.xaddrs["http://www.onvif.org/ver10/media/wsdl"] = "http://127.0.0.1:9/onvif/media_service"
            await cam.create_devicemgmt_service()        # builds clients only: no network I/O
            await cam.create_media_service()
        finally:
            await cam.close()
        _WARMED.add("done")


# -- results -----------------------------------------------------------------------------
@dataclass(frozen=True)
class OnvifDeviceInfo:
    """``GetDeviceInformation`` (empty strings for missing fields)."""

    manufacturer: str
    model: str
    firmware: str
    serial: str
    hardware_id: str


@dataclass(frozen=True)
class OnvifProfile:
    """One media profile; encoding/size are ``None`` when the camera omits
    them (e.g. a Dahua NVR's 36 profiles)."""

    token: str
    name: str
    encoding: str | None
    width: int | None
    height: int | None


@dataclass(frozen=True)
class ImageBytes:
    """A fetched still: the encoded bytes, the declared content type, and
    the detected format (``"jpeg"`` or ``"png"``)."""

    data: bytes
    content_type: str
    format: str


@dataclass(frozen=True)
class CameraTime:
    """The camera clock as read by ``GetSystemDateAndTime``.

    ``offset_s`` = camera UTC − host UTC (seconds); ``source`` says which
    element it came from: ``"utc"`` or ``"local"`` (no ``UTCDateTime``; the
    local time is taken as if it were UTC — only the difference matters)."""

    camera_utc: datetime
    offset_s: float
    source: str


class _AuthRejected(Exception):
    """Internal: the camera refused the credentials (or the clock)."""


# -- pure helpers (tested directly) --------------------------------------------------------
def camera_time_from(sys_date: Any, host_utc: datetime) -> CameraTime:
    """Turn a ``SystemDateAndTime`` object (attribute access: ``UTCDateTime``/
    ``LocalDateTime`` with ``Date.Year…`` and ``Time.Hour…``) into a
    :class:`CameraTime` against ``host_utc``. Raises :class:`ProtocolError`
    when neither date is usable."""
    for attr, source in (("UTCDateTime", "utc"), ("LocalDateTime", "local")):
        value = getattr(sys_date, attr, None) if sys_date is not None else None
        if value is None:
            continue
        try:
            d, t = value.Date, value.Time
            cam = datetime(int(d.Year), int(d.Month), int(d.Day), int(t.Hour), int(t.Minute),
                           int(t.Second), tzinfo=timezone.utc)
        except (AttributeError, TypeError, ValueError, OverflowError):
            continue
        offset = (cam - host_utc).total_seconds() + _TRUNCATION_S
        return CameraTime(camera_utc=cam, offset_s=offset, source=source)
    raise ProtocolError("GetSystemDateAndTime carried no usable UTCDateTime or LocalDateTime")


def parse_challenges(values: list[str]) -> list[tuple[str, dict[str, str]]]:
    """``WWW-Authenticate`` header values → ``[(scheme_lower, params)]``."""
    out = []
    for value in values:
        scheme, _, rest = value.strip().partition(" ")
        params = {}
        for key, raw in re.findall(r'([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)', rest):
            if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
                raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
            params[key.lower()] = raw
        if scheme:
            out.append((scheme.lower(), params))
    return out


def digest_authorization(username: str, password: str, method: str, uri: str,
                         challenge: dict[str, str], nc: int, cnonce: str) -> str:
    """The ``Authorization: Digest …`` value answering ``challenge``
    (RFC 2617 MD5 / RFC 7616 SHA-256; ``qop=auth`` or none). Raises
    :class:`ProtocolError` for qop/algorithm values it cannot answer."""
    algorithm = challenge.get("algorithm", "MD5")
    algo = algorithm.upper()
    if algo in ("MD5", "MD5-SESS"):
        def h(text: str) -> str:
            return hashlib.md5(text.encode("utf-8")).hexdigest()  # noqa: S324 - RFC 2617
    elif algo in ("SHA-256", "SHA-256-SESS"):
        def h(text: str) -> str:
            return hashlib.sha256(text.encode("utf-8")).hexdigest()
    else:
        raise ProtocolError(f"snapshot Digest algorithm {algorithm!r} not supported")
    realm, nonce = challenge.get("realm", ""), challenge.get("nonce", "")
    ha1 = h(f"{username}:{realm}:{password}")
    if algo.endswith("-SESS"):
        ha1 = h(f"{ha1}:{nonce}:{cnonce}")
    ha2 = h(f"{method}:{uri}")
    qops = [q.strip() for q in challenge.get("qop", "").split(",") if q.strip()]
    parts = [f'username="{username}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"',
             f"algorithm={algorithm}"]
    if qops:
        if "auth" not in qops:
            raise ProtocolError(f"snapshot Digest qop {challenge.get('qop')!r} not supported")
        ncv = f"{nc:08x}"
        response = h(f"{ha1}:{nonce}:{ncv}:{cnonce}:auth:{ha2}")
        parts += ["qop=auth", f"nc={ncv}", f'cnonce="{cnonce}"']
    else:
        response = h(f"{ha1}:{nonce}:{ha2}")
    parts.append(f'response="{response}"')
    if "opaque" in challenge:
        parts.append(f'opaque="{challenge["opaque"]}"')
    return "Digest " + ", ".join(parts)


def split_userinfo(uri: str) -> tuple[str, str | None, str | None]:
    """``http://u:p@host/x`` → (``http://host/x``, ``u``, ``p``)."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri, None, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, pw = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=hostport)), user or None, pw or None


def strip_query_credentials(uri: str) -> str:
    """Remove ``user=``/``pwd=``/``password=``… parameters from the query."""
    parts = urlsplit(uri)
    if not parts.query:
        return uri
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in _CREDENTIAL_PARAMS]
    if len(kept) == len(parse_qsl(parts.query, keep_blank_values=True)):
        return uri
    return urlunsplit(parts._replace(query=urlencode(kept)))


def image_format(data: bytes) -> str | None:
    """``"jpeg"``/``"png"`` by magic bytes, else ``None``."""
    if data.startswith(_JPEG_MAGIC):
        return "jpeg"
    if data.startswith(_PNG_MAGIC):
        return "png"
    return None


def _local_name(qname: Any) -> str:
    text = getattr(qname, "localname", None) or str(qname or "")
    return text.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def classify_error(exc: BaseException) -> DeviceError | _AuthRejected:
    """Map a library / aiohttp / zeep exception to an examhw error (or the
    internal auth marker). Never raises."""
    mod = sys.modules.get("onvif.exceptions")
    zexc = sys.modules.get("zeep.exceptions")
    if zexc is not None and isinstance(exc, zexc.Fault):
        subcodes = [_local_name(s) for s in (exc.subcodes or [])]
        if exc.code is None and not subcodes:
            # zeep's "Unknown fault": an HTTP error status with a non-SOAP body (an HTML page)
            detail = exc.detail
            text = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail or "")
            if re.search(r"\b401\b|unauthori[sz]ed", text, re.IGNORECASE):
                return _AuthRejected()
            return ProtocolError(f"camera answered an error page instead of SOAP: {text[:80]!r}")
        if "NotAuthorized" in subcodes or "FailedAuthentication" in subcodes:
            return _AuthRejected()
        if _local_name(exc.code) == "VersionMismatch" or set(subcodes) & _MALFORMED_SUBCODES:
            return ProtocolError(f"camera could not parse our request: {exc.message}")
        code = next((s for s in reversed(subcodes) if s), None) or _local_name(exc.code) or "fault"
        return DeviceFault(f"camera SOAP fault: {exc.message}", code=code)
    if zexc is not None and isinstance(exc, zexc.TransportError):
        if exc.status_code in (401, 403):
            return _AuthRejected()
        return ProtocolError(f"camera answered HTTP {exc.status_code} without a SOAP envelope")
    if zexc is not None and isinstance(exc, (zexc.XMLSyntaxError, zexc.XMLParseError, zexc.ValidationError,
                                             zexc.UnexpectedElementError, zexc.LookupError)):
        return ProtocolError(f"camera answered malformed SOAP: {str(exc)[:200]}")
    if mod is not None and isinstance(exc, mod.ONVIFAuthError):
        return _AuthRejected()
    if mod is not None and isinstance(exc, mod.ONVIFTimeoutError):
        return DeviceTimeout(f"camera did not answer: {exc}")
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return DeviceTimeout("camera did not answer in time")
    if isinstance(exc, (aiohttp.ClientConnectionError, OSError)):
        return DeviceUnavailable(f"camera unreachable: {type(exc).__name__}: {exc}")
    if isinstance(exc, aiohttp.ClientError):
        return ProtocolError(f"camera HTTP error: {type(exc).__name__}: {exc}")
    if mod is not None and isinstance(exc, mod.ONVIFError):
        if exc.__cause__ is not None and exc.__cause__ is not exc:
            return classify_error(exc.__cause__)
        return ProtocolError(f"ONVIF client error: {exc}")
    if zexc is not None and isinstance(exc, zexc.Error):
        return ProtocolError(f"camera SOAP error: {type(exc).__name__}: {str(exc)[:200]}")
    if isinstance(exc, DeviceError):
        return exc
    return ProtocolError(f"unexpected answer from camera: {type(exc).__name__}: {str(exc)[:200]}")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


# -- the client ---------------------------------------------------------------------------
class OnvifClient:
    """One ONVIF camera at ``host:port`` (device service
    ``http://host:port/onvif/device_service``).

    ``nat_override`` rewrites every advertised XAddr/snapshot host to
    ``host:port`` (cameras behind NAT, replayed captures). All methods raise
    only examhw errors; none has its own timeout — callers bound them
    (``DeviceBase._call``). Always :meth:`close`."""

    def __init__(self, host: str, port: int, username: str | None, password: str | None, *,
                 nat_override: bool = False, max_snapshot_bytes: int = MAX_SNAPSHOT_BYTES) -> None:
        self.host = host
        self.port = int(port)
        self._user = username or None
        self._password = password or None
        self.nat_override = nat_override
        self.max_snapshot_bytes = max_snapshot_bytes
        self._cam: Any = None
        self._http: aiohttp.ClientSession | None = None
        self._challenge: tuple[str, dict[str, str]] | None = None      # (scheme, params) last seen
        self._nc = 0
        self.time: CameraTime | None = None
        #: how many times the clock was re-read after a NotAuthorized fault
        self.resyncs = 0

    def __repr__(self) -> str:          # never shows the password
        return f"OnvifClient({self.host}:{self.port}, user={self._user!r})"

    @property
    def connected(self) -> bool:
        return self._cam is not None

    # -- lifecycle --------------------------------------------------------------
    async def connect(self) -> None:
        """Read the camera clock (unauthenticated, then authenticated as a
        fallback), discover the service addresses (GetServices, else
        GetCapabilities). Raises DeviceUnavailable / DeviceFault /
        ProtocolError; closes everything it opened on failure."""
        mod = _onvif()
        await self._guard(warm_up)
        with _preserved_process_state():
            cam = mod.ONVIFCamera(self.host, self.port, self._user, self._password,
                                  adjust_time=True, no_cache=True, nat_override=self.nat_override)
        cam._adjust_time = self._make_adjust_time(cam)  # noqa: SLF001 - see _make_adjust_time
        self._cam = cam
        try:
            await self._authed(cam.update_xaddrs)
        except BaseException:
            await self.close()
            raise

    def _make_adjust_time(self, cam: Any) -> Callable[[Any], Awaitable[Any]]:
        """Replacement for the library's clock handshake (4.3.0 reads only
        ``UTCDateTime`` and fails on cameras that send ``LocalDateTime``
        alone, BR-15): same steps, plus LocalDateTime, and the offset is
        recorded in :attr:`time`."""
        zexc = sys.modules["zeep.exceptions"]

        async def adjust_time(devicemgmt: Any) -> Any:
            t0 = time.monotonic()
            host0 = datetime.now(timezone.utc)
            try:
                sys_date = await devicemgmt.authless_GetSystemDateAndTime()
            except zexc.Fault:
                sys_date = await devicemgmt.GetSystemDateAndTime()    # Axis: everything authenticated
            host_mid = host0 + timedelta(seconds=(time.monotonic() - t0) / 2)
            self.time = camera_time_from(sys_date, host_mid)
            cam.dt_diff = timedelta(seconds=self.time.offset_s)
            await devicemgmt.close()
            cam.services.pop(devicemgmt.binding_key, None)
            return await cam.create_devicemgmt_service()

        return adjust_time

    async def close(self) -> None:
        """Close every HTTP session (SOAP services, snapshot). Idempotent."""
        cam, self._cam = self._cam, None
        http, self._http = self._http, None
        if cam is not None:
            try:
                await cam.close()
            except (aiohttp.ClientError, OSError, RuntimeError) as exc:
                log.debug("closing ONVIF sessions of %s:%s failed: %s", self.host, self.port, exc)
        if http is not None:
            await http.close()

    # -- error mapping and the one re-sync ------------------------------------------
    async def _guard(self, fn: Callable[[], Awaitable[T]], *, retryable_auth: bool = False) -> T:
        """Run ``fn`` mapping every error to an examhw error. A refused token
        becomes the internal :class:`_AuthRejected` only for
        ``retryable_auth`` (the caller re-syncs); otherwise it is final."""
        try:
            return await fn()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every library error is mapped, none swallowed
            mapped = classify_error(exc)
            if isinstance(mapped, _AuthRejected):
                if retryable_auth:
                    raise mapped from exc
                raise DeviceFault("camera refused the credentials", code="not_authorized") from exc
            if mapped is exc:
                raise
            raise mapped from exc

    async def _authed(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``fn``; on NotAuthorized re-read the camera clock once and
        retry once; a second refusal is final (DeviceFault not_authorized)."""
        try:
            return await self._guard(fn, retryable_auth=True)
        except _AuthRejected:
            pass
        self.resyncs += 1
        log.info("camera %s:%s refused the token; re-reading its clock once", self.host, self.port)
        try:
            await self._resync()
            return await self._guard(fn, retryable_auth=True)
        except _AuthRejected:
            raise DeviceFault("camera refused the credentials (bad username/password, or its clock "
                              "is outside the token window)", code="not_authorized") from None

    async def _resync(self) -> None:
        cam = self._require()
        for service in list(cam.services.values()):
            await self._guard(service.close)
        cam.services.clear()
        await self._guard(cam.update_xaddrs, retryable_auth=True)

    def _require(self) -> Any:
        if self._cam is None:
            raise DeviceUnavailable("ONVIF client is not connected")
        return self._cam

    async def _device(self) -> Any:
        cam = self._require()
        return await self._guard(cam.create_devicemgmt_service)

    async def _media(self) -> Any:
        cam = self._require()
        return await self._guard(cam.create_media_service)

    # -- operations ----------------------------------------------------------------
    async def device_information(self) -> OnvifDeviceInfo:
        """GetDeviceInformation."""
        async def op() -> Any:
            return await (await self._device()).GetDeviceInformation()
        r = await self._authed(op)
        return OnvifDeviceInfo(manufacturer=_text(getattr(r, "Manufacturer", None)),
                               model=_text(getattr(r, "Model", None)),
                               firmware=_text(getattr(r, "FirmwareVersion", None)),
                               serial=_text(getattr(r, "SerialNumber", None)),
                               hardware_id=_text(getattr(r, "HardwareId", None)))

    async def profiles(self) -> list[OnvifProfile]:
        """GetProfiles (media ver10). Missing encoder fields become ``None``."""
        async def op() -> Any:
            return await (await self._media()).GetProfiles()
        result = await self._authed(op)
        if result is None:
            return []
        if not isinstance(result, list):        # some NVRs answer a single profile unwrapped
            result = [result]
        out = []
        for p in result:
            token = getattr(p, "token", None)
            if token is None:
                continue
            vec = getattr(p, "VideoEncoderConfiguration", None)
            res = getattr(vec, "Resolution", None) if vec is not None else None
            encoding = getattr(vec, "Encoding", None) if vec is not None else None
            out.append(OnvifProfile(token=str(token), name=_text(getattr(p, "Name", None)),
                                    encoding=None if encoding is None else str(encoding),
                                    width=_int_or_none(getattr(res, "Width", None)),
                                    height=_int_or_none(getattr(res, "Height", None))))
        return out

    async def snapshot_uri(self, token: str) -> str | None:
        """GetSnapshotUri for ``token``; ``None`` when the camera has no HTTP
        snapshot (fault ActionNotSupported, no Uri, or a non-HTTP URI)."""
        async def op() -> Any:
            return await (await self._media()).GetSnapshotUri({"ProfileToken": token})
        try:
            r = await self._authed(op)
        except DeviceFault as exc:
            if exc.code in ("ActionNotSupported", "NotSupported", "NoSnapshot"):
                return None
            raise
        uri = getattr(r, "Uri", None)
        if not uri or not str(uri).lower().startswith(("http://", "https://")):
            return None
        return self._rewrite(str(uri))

    async def stream_uri(self, token: str) -> str:
        """GetStreamUri (RTP-Unicast over RTSP) for ``token``."""
        async def op() -> Any:
            return await (await self._media()).GetStreamUri(
                {"StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                 "ProfileToken": token})
        r = await self._authed(op)
        uri = getattr(r, "Uri", None)
        if not uri:
            raise ProtocolError("GetStreamUri answered without a Uri")
        return str(uri)

    async def system_date_and_time(self) -> CameraTime:
        """Read the camera clock now (unauthenticated, PRE_AUTH)."""
        dev = await self._device()
        t0 = time.monotonic()
        host0 = datetime.now(timezone.utc)
        try:
            sys_date = await self._guard(dev.authless_GetSystemDateAndTime)
        except DeviceFault:                      # Axis: even the clock needs credentials
            sys_date = await self._authed(dev.GetSystemDateAndTime)
        host_mid = host0 + timedelta(seconds=(time.monotonic() - t0) / 2)
        return camera_time_from(sys_date, host_mid)

    def _rewrite(self, uri: str) -> str:
        cam = self._require()
        return str(cam.rewrite_url(uri) or uri)

    # -- snapshot over HTTP ----------------------------------------------------------
    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=4, keepalive_timeout=15),
                timeout=aiohttp.ClientTimeout(total=60), trust_env=False)
        return self._http

    async def _get(self, url: str, authorization: str | None) -> tuple[int, str, list[str], bytes]:
        headers = {"Authorization": authorization} if authorization else {}
        try:
            async with self._session().get(URL(url, encoded=True), headers=headers,
                                           allow_redirects=False) as resp:
                declared = resp.content_length
                if declared is not None and declared > self.max_snapshot_bytes:
                    raise ProtocolError(f"snapshot of {declared} bytes exceeds {self.max_snapshot_bytes}")
                body = bytearray()
                async for chunk in resp.content.iter_chunked(65536):
                    body += chunk
                    if len(body) > self.max_snapshot_bytes:
                        raise ProtocolError(f"snapshot larger than {self.max_snapshot_bytes} bytes")
                return (resp.status, resp.headers.get("Content-Type", ""),
                        resp.headers.getall("WWW-Authenticate", []), bytes(body))
        except ProtocolError:
            raise
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - mapped to a typed error, never swallowed
            mapped = classify_error(exc)
            raise (DeviceFault("snapshot refused", code="not_authorized")
                   if isinstance(mapped, _AuthRejected) else mapped) from exc

    def _answer(self, scheme: str, challenge: dict[str, str], url: str) -> str:
        assert self._user is not None and self._password is not None
        if scheme == "basic":
            token = base64.b64encode(f"{self._user}:{self._password}".encode("utf-8")).decode("ascii")
            return f"Basic {token}"
        self._nc += 1
        return digest_authorization(self._user, self._password, "GET", URL(url, encoded=True).raw_path_qs,
                                    challenge, self._nc, secrets.token_hex(8))

    async def fetch_snapshot(self, uri: str) -> ImageBytes:
        """GET the snapshot ``uri`` and return the image.

        Credentials in the URI's userinfo are never sent as such (they are
        stripped and used only if the client has none). A ``401`` Digest
        challenge is answered (RFC 2617 MD5/qop=auth, cached for the next
        call with ``nc+1``), a Basic one likewise; one retry without
        credential query parameters; at most 3 GETs. Raises
        :class:`DeviceFault` (``not_authorized``, ``snapshot_not_found``,
        ``http_<status>``), :class:`ProtocolError` (not a JPEG/PNG: names
        the content type and first bytes), :class:`DeviceUnavailable`."""
        url, uri_user, uri_pw = split_userinfo(uri)
        if self._user is None and uri_user is not None:
            self._user, self._password = uri_user, uri_pw
        have_creds = self._user is not None and self._password is not None
        auth: str | None = None
        if have_creds and self._challenge is not None:
            auth = self._answer(*self._challenge, url)
        answered_fresh = False
        stripped = False
        status, ctype, challenges, body = 0, "", [], b""
        for _ in range(3):
            status, ctype, challenges, body = await self._get(url, auth)
            if status != 401 or not have_creds:
                break
            parsed = parse_challenges(challenges)
            chosen = next(((s, p) for s, p in parsed if s == "digest"), None) or \
                next(((s, p) for s, p in parsed if s == "basic"), None)
            if chosen is None:
                break
            scheme, params = chosen
            stale = params.get("stale", "").lower() == "true"
            if answered_fresh and not stale:
                alt = strip_query_credentials(url)
                if stripped or alt == url:
                    break
                url, stripped = alt, True
            self._challenge = (scheme, params)
            self._nc = 0
            auth = self._answer(scheme, params, url)
            answered_fresh = True
        if status == 401:
            self._challenge = None
            raise DeviceFault("camera refused the snapshot credentials", code="not_authorized")
        if status == 404:
            raise DeviceFault("camera has no snapshot at that URI", code="snapshot_not_found")
        if status >= 300 or status < 200:
            raise DeviceFault(f"snapshot GET answered HTTP {status}", code=f"http_{status}")
        fmt = image_format(body)
        if fmt is None:
            raise ProtocolError(f"snapshot is not an image: content type {ctype or '(none)'!r}, "
                                f"{len(body)} bytes, first bytes {body[:16]!r}")
        return ImageBytes(data=body, content_type=ctype or f"image/{fmt}", format=fmt)
