"""Tokens, signed cookies, form nonces and password checks, on the standard library's hmac/secrets.

- Reader tokens: ``secrets.token_urlsafe(24)`` (192 bits), stored as SHA-256 hashes only.
- Signed values: ``value.timestamp.HMAC-SHA256`` (base64url), checked with ``hmac.compare_digest``
  and a maximum age (the admin session cookie).
- Form nonces: HMAC of (purpose, reader, image, revision) — tied to one reader and one image, and
  single use because the answer's revision changes when the form is accepted (see :mod:`.crud`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

TOKEN_BYTES = 24


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_secret() -> str:
    return secrets.token_hex(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _mac(secret: str, message: str) -> str:
    d = hmac.new(secret.encode(), message.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(d).rstrip(b"=").decode()


def sign(secret: str, value: str, now: float | None = None) -> str:
    """``value.ts.mac``; ``value`` must not contain dots."""
    if "." in value:
        raise ValueError("signed values may not contain '.'")
    ts = str(int(now if now is not None else time.time()))
    return f"{value}.{ts}.{_mac(secret, f'{value}.{ts}')}"


def unsign(secret: str, signed: str | None, max_age: float, now: float | None = None) -> str | None:
    """The value of a signed string, or None if forged, malformed or older than ``max_age`` seconds."""
    if not signed or signed.count(".") != 2:
        return None
    value, ts, mac = signed.split(".")
    if not hmac.compare_digest(mac, _mac(secret, f"{value}.{ts}")):
        return None
    if not ts.isdigit() or (now if now is not None else time.time()) - int(ts) > max_age:
        return None
    return value


def form_nonce(secret: str, *parts: object) -> str:
    """Nonce for one form: an HMAC of its purpose and the ids it may change."""
    return _mac(secret, "nonce:" + ":".join(str(p) for p in parts))


def check_nonce(secret: str, given: str | None, *parts: object) -> bool:
    return bool(given) and hmac.compare_digest(str(given), form_nonce(secret, *parts))


def check_password(given: str | None, expected: str) -> bool:
    """Constant-time comparison (on digests, so lengths leak nothing either)."""
    a = hashlib.sha256((given or "").encode("utf-8", "surrogatepass")).digest()
    b = hashlib.sha256(expected.encode()).digest()
    return hmac.compare_digest(a, b) and bool(expected)
