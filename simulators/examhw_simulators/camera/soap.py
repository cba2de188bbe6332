"""Simulator-side SOAP 1.2 codec for the ONVIF camera: parse a request
envelope, verify its WS-UsernameToken against the camera's clock, and build
response and fault envelopes.

Written from docs/protocols/onvif-camera.md; stdlib only (``xml.etree``).
Nothing here raises anything but :class:`SoapFault` for bad input, so the
HTTP layer can always answer with a SOAP fault instead of a traceback.
"""
from __future__ import annotations

import base64
import binascii
import collections
import hashlib
import hmac
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from xml.sax.saxutils import escape

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TRT = "http://www.onvif.org/ver10/media/wsdl"
TT = "http://www.onvif.org/ver10/schema"
TER = "http://www.onvif.org/ver10/error"

#: largest request body the camera accepts, bytes
MAX_BODY = 256 * 1024
#: ±window around the camera clock inside which ``Created`` is accepted, seconds
DEFAULT_WINDOW_S = 5.0

_PREFIXES = (f'xmlns:env="{SOAP12}" xmlns:tds="{TDS}" xmlns:trt="{TRT}" '
             f'xmlns:tt="{TT}" xmlns:ter="{TER}"')
_XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'


class SoapFault(Exception):
    """A SOAP fault the camera answers with.

    ``code`` is ``env:Sender``/``env:Receiver``/``env:VersionMismatch``;
    ``subcodes`` are qualified names (``ter:NotAuthorized``); ``http_status``
    follows the SOAP 1.2 HTTP binding (400 Sender, 500 Receiver);
    ``auth_reason`` says why a token was refused (for the model's counters,
    never sent on the wire)."""

    def __init__(self, code: str, subcodes: tuple[str, ...], reason: str, *,
                 http_status: int | None = None, auth_reason: str | None = None) -> None:
        super().__init__(f"{code} {'/'.join(subcodes)}: {reason}")
        self.code = code
        self.subcodes = subcodes
        self.reason = reason
        self.http_status = http_status or (500 if code == "env:Receiver" else 400)
        self.auth_reason = auth_reason


def not_authorized(auth_reason: str) -> SoapFault:
    """The one fault every authentication failure maps to (the reason stays internal)."""
    return SoapFault("env:Sender", ("ter:NotAuthorized",), "Sender not Authorized",
                     http_status=400, auth_reason=auth_reason)


def malformed(reason: str) -> SoapFault:
    return SoapFault("env:Sender", ("ter:WellFormed",), reason)


@dataclass(frozen=True)
class UsernameToken:
    """The WS-Security UsernameToken of a request, as text."""

    username: str
    password: str
    password_type: str          # "digest" or "text"
    nonce_b64: str
    created: str


@dataclass(frozen=True)
class SoapRequest:
    """A parsed request: operation local name and namespace, the operation
    element (for its parameters) and the token, if any."""

    operation: str
    namespace: str
    element: ET.Element
    token: UsernameToken | None

    def param(self, local_name: str) -> str | None:
        """Text of the first descendant of the operation element with that
        local name (any namespace), stripped; ``None`` if absent."""
        for el in self.element.iter():
            if isinstance(el.tag, str) and _local(el.tag) == local_name:
                return (el.text or "").strip()
        return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _ns(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def parse_request(body: bytes) -> SoapRequest:
    """Parse one SOAP 1.2 request envelope.

    Raises :class:`SoapFault` (``ter:WellFormed``, ``env:VersionMismatch``)
    for anything that is not a well-formed SOAP 1.2 envelope with a body
    element; never any other exception."""
    if not body or not body.strip():
        raise malformed("empty request body")
    if len(body) > MAX_BODY:
        raise malformed(f"request body larger than {MAX_BODY} bytes")
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise malformed("a SOAP message must not contain a DTD")
    try:
        root = ET.fromstring(body)
    except (ET.ParseError, ValueError, LookupError, UnicodeError, RecursionError) as exc:
        raise malformed(f"not well-formed XML: {exc}") from None
    if not isinstance(root.tag, str) or _local(root.tag) != "Envelope":
        raise malformed("root element is not an Envelope")
    if _ns(root.tag) != SOAP12:
        raise SoapFault("env:VersionMismatch", (), f"envelope namespace {_ns(root.tag)!r} is not SOAP 1.2")
    header = root.find(f"{{{SOAP12}}}Header")
    body_el = root.find(f"{{{SOAP12}}}Body")
    if body_el is None:
        raise malformed("envelope has no Body")
    ops = [c for c in body_el if isinstance(c.tag, str)]
    if not ops:
        raise malformed("Body is empty")
    op = ops[0]
    return SoapRequest(operation=_local(op.tag), namespace=_ns(op.tag), element=op,
                       token=_extract_token(header))


def _extract_token(header: ET.Element | None) -> UsernameToken | None:
    if header is None:
        return None
    tok = header.find(f"{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
    if tok is None:
        return None

    def text(*tags: str) -> tuple[str, ET.Element | None]:
        for tag in tags:
            el = tok.find(tag)
            if el is not None:
                return (el.text or "").strip(), el
        return "", None

    username, _ = text(f"{{{WSSE}}}Username")
    password, pw_el = text(f"{{{WSSE}}}Password")
    nonce, _ = text(f"{{{WSSE}}}Nonce")
    created, _ = text(f"{{{WSU}}}Created", f"{{{WSSE}}}Created")
    ptype = (pw_el.get("Type", "") if pw_el is not None else "")
    kind = "text" if ptype.endswith("#PasswordText") else "digest"
    return UsernameToken(username=username, password=password, password_type=kind,
                         nonce_b64=nonce, created=created)


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """``Base64(SHA-1(nonce ‖ created ‖ password))`` as text."""
    raw = hashlib.sha1(nonce + created.encode("utf-8") + password.encode("utf-8")).digest()
    return base64.b64encode(raw).decode("ascii")


_CREATED_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?$")


def parse_created(text: str) -> datetime:
    """``wsu:Created`` → aware UTC datetime. A missing zone means UTC.
    Raises :class:`ValueError` for anything else."""
    if not _CREATED_RE.match(text):
        raise ValueError(f"bad Created {text!r}")
    stamp = text
    frac = re.search(r"\.(\d+)", stamp)
    if frac and len(frac.group(1)) > 6:            # fromisoformat takes at most microseconds
        stamp = stamp.replace(frac.group(0), "." + frac.group(1)[:6])
    value = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:                          # e.g. 9999-12-31T23:59:59-23:59 leaves the range in UTC
        raise ValueError(f"Created {text!r} is outside the datetime range in UTC") from None


class NonceCache:
    """Nonces accepted recently (camera time), to refuse replays.

    Entries older than ``keep_s`` are forgotten; at most ``max_entries`` are
    kept (oldest dropped first)."""

    def __init__(self, keep_s: float = 2 * DEFAULT_WINDOW_S, max_entries: int = 10_000) -> None:
        self.keep_s = keep_s
        self._seen: collections.OrderedDict[str, datetime] = collections.OrderedDict()
        self._max = max_entries

    def seen(self, nonce: str, now: datetime) -> bool:
        self._prune(now)
        return nonce in self._seen

    def add(self, nonce: str, now: datetime) -> None:
        self._seen[nonce] = now
        self._seen.move_to_end(nonce)
        while len(self._seen) > self._max:
            self._seen.popitem(last=False)

    def _prune(self, now: datetime) -> None:
        limit = now - timedelta(seconds=self.keep_s)
        while self._seen:
            nonce, when = next(iter(self._seen.items()))
            if when >= limit:
                break
            self._seen.popitem(last=False)

    def __len__(self) -> int:
        return len(self._seen)


def verify_token(token: UsernameToken | None, *, username: str, password: str, now: datetime,
                 nonces: NonceCache, window_s: float = DEFAULT_WINDOW_S,
                 require_zulu: bool = False) -> None:
    """Check a UsernameToken as a camera does, against the camera clock ``now``.

    Raises :func:`not_authorized` faults with ``auth_reason`` one of
    ``no_token``, ``unknown_user``, ``bad_created``, ``not_zulu``,
    ``bad_digest``, ``stale_created``, ``future_created``, ``replayed_nonce``.
    On success the nonce is remembered."""
    if token is None:
        raise not_authorized("no_token")
    if not hmac.compare_digest(token.username.encode("utf-8"), username.encode("utf-8")):
        raise not_authorized("unknown_user")
    if token.password_type == "text":
        if not hmac.compare_digest(token.password.encode("utf-8"), password.encode("utf-8")):
            raise not_authorized("bad_digest")
        return
    try:
        created = parse_created(token.created)
        nonce = base64.b64decode(token.nonce_b64.encode("ascii"), validate=True)
    except (ValueError, binascii.Error, UnicodeError):
        raise not_authorized("bad_created") from None
    if require_zulu and not token.created.endswith("Z"):
        raise not_authorized("not_zulu")
    expected = password_digest(nonce, token.created, password)
    if not hmac.compare_digest(expected.encode("ascii"), token.password.encode("utf-8", "replace")):
        raise not_authorized("bad_digest")
    age = (now - created).total_seconds()
    if age > window_s:
        raise not_authorized("stale_created")
    if age < -window_s:
        raise not_authorized("future_created")
    if nonces.seen(token.nonce_b64, now):
        raise not_authorized("replayed_nonce")
    nonces.add(token.nonce_b64, now)


def envelope(body_xml: str, extra_ns: str = "") -> bytes:
    """A complete SOAP 1.2 response envelope around ``body_xml``."""
    ns = _PREFIXES + (" " + extra_ns if extra_ns else "")
    return (f"{_XML_DECL}<env:Envelope {ns}><env:Body>{body_xml}</env:Body></env:Envelope>").encode("utf-8")


def fault_envelope(fault: SoapFault) -> bytes:
    """The SOAP 1.2 fault envelope for ``fault``."""
    sub = ""
    for code in reversed(fault.subcodes):
        sub = f"<env:Subcode><env:Value>{escape(code)}</env:Value>{sub}</env:Subcode>"
    body = (f"<env:Fault><env:Code><env:Value>{escape(fault.code)}</env:Value>{sub}</env:Code>"
            f'<env:Reason><env:Text xml:lang="en">{escape(fault.reason)}</env:Text></env:Reason>'
            f"</env:Fault>")
    return envelope(body)
