"""Server side of HTTP Digest authentication (RFC 2617, MD5, qop=auth) as
camera firmware uses it to protect the snapshot URL
(docs/protocols/onvif-camera.md §5). Pure: no I/O."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from typing import Callable

NONCE_LIFETIME_S = 300.0
MAX_NONCES = 1024
_PARAM_RE = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)')


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()  # noqa: S324 - RFC 2617 mandates MD5


def parse_digest_header(value: str) -> dict[str, str] | None:
    """``Digest k=v, k="v"`` → dict (lower-case keys); ``None`` if not Digest."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    params = {}
    for key, raw in _PARAM_RE.findall(rest):
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[key.lower()] = raw
    return params


class DigestAuthority:
    """Issues challenges and checks answers for one user.

    ``check`` returns ``"ok"``, ``"missing"`` (no/other Authorization),
    ``"stale"`` (right password, expired nonce) or ``"bad"``."""

    def __init__(self, username: str, password: str, realm: str = "examhw-camera",
                 lifetime_s: float = NONCE_LIFETIME_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.username = username
        self._password = password
        self.realm = realm
        self.lifetime_s = lifetime_s
        self._clock = clock
        self._nonces: dict[str, tuple[float, int]] = {}     # nonce → (issued, last nc)
        self.opaque = secrets.token_hex(8)

    def challenge(self, stale: bool = False, nonce: str | None = None) -> str:
        """A fresh ``WWW-Authenticate`` value (``nonce`` fixes the nonce, for
        known-vector tests; default: 128 random bits)."""
        self._prune()
        nonce = nonce or secrets.token_hex(16)
        self._nonces[nonce] = (self._clock(), 0)
        value = (f'Digest realm="{self.realm}", qop="auth", nonce="{nonce}", '
                 f'opaque="{self.opaque}", algorithm=MD5')
        return value + (", stale=true" if stale else "")

    def check(self, method: str, target: str, authorization: str | None) -> str:
        """Verify an ``Authorization`` header for ``method`` on ``target``
        (the request's path + query exactly as sent)."""
        if not authorization:
            return "missing"
        p = parse_digest_header(authorization)
        if p is None:
            return "missing"
        if p.get("username") != self.username or p.get("realm") != self.realm or p.get("uri") != target:
            return "bad"
        if p.get("algorithm", "MD5").upper() != "MD5":
            return "bad"
        nonce = p.get("nonce", "")
        ha1 = _md5(f"{self.username}:{self.realm}:{self._password}")
        ha2 = _md5(f"{method}:{p['uri']}")
        qop = p.get("qop")
        if qop == "auth":
            nc_text = p.get("nc", "")
            if not re.fullmatch(r"[0-9a-fA-F]{8}", nc_text) or not p.get("cnonce"):
                return "bad"
            expected = _md5(f"{ha1}:{nonce}:{nc_text}:{p['cnonce']}:auth:{ha2}")
        elif qop is None:
            nc_text = ""
            expected = _md5(f"{ha1}:{nonce}:{ha2}")
        else:
            return "bad"
        # compared as bytes: compare_digest refuses non-ASCII str (that is a "bad" answer)
        if not hmac.compare_digest(expected.encode(), p.get("response", "").encode("utf-8", "surrogateescape")):
            return "bad"
        entry = self._nonces.get(nonce)
        if entry is None or self._clock() - entry[0] > self.lifetime_s:
            self._nonces.pop(nonce, None)
            return "stale"                      # right password, unknown or expired nonce
        nc = int(nc_text, 16) if nc_text else entry[1] + 1
        if nc <= entry[1]:
            return "bad"                        # replayed nonce count
        self._nonces[nonce] = (entry[0], nc)
        return "ok"

    def _prune(self) -> None:
        now = self._clock()
        for nonce in [n for n, (t, _) in self._nonces.items() if now - t > self.lifetime_s]:
            del self._nonces[nonce]
        while len(self._nonces) >= MAX_NONCES:          # dicts keep insertion order: oldest first
            del self._nonces[next(iter(self._nonces))]
