"""An online endpoint's credentials: keys that never expire, tokens that do, and the check of either.

- ``auth_mode: key``: a primary and a secondary key (``secrets.token_urlsafe(32)`` each), sent as
  ``Authorization: Bearer <key>``; either opens the endpoint until it is regenerated.
- ``auth_mode: aml_token``: tokens that ``get-credentials`` issues, valid for ``TOKEN_LIFETIME``:
  ``<payload>.<signature>``, the payload the endpoint's name and expiry (base64url JSON), the signature
  its HMAC-SHA256 under the endpoint's token secret. Nothing about a token is stored.

The serving front holds an endpoint's ``KeyMaterial`` (``ws.online_endpoints.key_material(name)``) and
asks ``credential_checker(material)`` about each request's bearer string. Secrets never appear in a
``repr`` and thresher never logs them.

Example::

    material = ws.online_endpoints.key_material("churn-online")
    accepts = credential_checker(material)
    accepts(request_bearer)  # True or False; constant time in the secret's content
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Final, Literal, TypedDict

TOKEN_LIFETIME = timedelta(hours=1)
TOKEN_REFRESH_AFTER = timedelta(minutes=30)  # a client asks for a new token halfway through
TOKEN_TYPE: Final = "Bearer"
_SIGNED = b"thresher-online-token\0"  # binds a signature to this use of the secret
_MAX_TOKEN_CHARS = 1024


class KeyCredentials(TypedDict):
    """``get-credentials`` of a ``key`` endpoint, as ``az ml online-endpoint get-credentials`` prints it."""

    primaryKey: str
    secondaryKey: str


class TokenCredentials(TypedDict):
    """``get-credentials`` of an ``aml_token`` endpoint: a token and its times (seconds since the epoch, UTC)."""

    accessToken: str
    expiryTimeUtc: int
    refreshAfterTimeUtc: int
    tokenType: Literal["Bearer"]


Credentials = KeyCredentials | TokenCredentials


@dataclass(frozen=True)
class KeyMaterial:
    """An online endpoint's secrets, opened: what checking a request's credential needs."""

    endpoint_name: str
    auth_mode: str  # "key" or "aml_token"
    primary_key: str = field(repr=False)
    secondary_key: str = field(repr=False)
    token_secret: str = field(repr=False)
    keys_version: int  # moves when a key is regenerated: a holder of old material reloads it


def new_secret() -> str:
    """A fresh key or token secret: 32 random bytes, URL-safe text."""
    return secrets.token_urlsafe(32)


def key_credentials(material: KeyMaterial) -> KeyCredentials:
    """The endpoint's two keys, as Azure names them."""
    return {"primaryKey": material.primary_key, "secondaryKey": material.secondary_key}


def issue_token(material: KeyMaterial, *, now: datetime | None = None) -> TokenCredentials:
    """A token for the endpoint that expires ``TOKEN_LIFETIME`` after ``now`` (the time now by default)."""
    issued = now or datetime.now(timezone.utc)
    expiry = int((issued + TOKEN_LIFETIME).timestamp())
    payload = _encode(json.dumps({"endpoint": material.endpoint_name, "exp": expiry}, separators=(",", ":")).encode())
    token = f"{payload}.{_signature(material.token_secret, payload)}"
    return {
        "accessToken": token,
        "expiryTimeUtc": expiry,
        "refreshAfterTimeUtc": int((issued + TOKEN_REFRESH_AFTER).timestamp()),
        "tokenType": TOKEN_TYPE,
    }


class CredentialChecker:
    """Whether a bearer string opens one endpoint: one of its keys (``key``), or a token it issued that has
    not expired (``aml_token``). Keys and signatures are compared in constant time."""

    def __init__(self, material: KeyMaterial) -> None:
        self.endpoint_name = material.endpoint_name
        self.keys_version = material.keys_version
        self._material = material

    def __call__(self, bearer: str, *, now: datetime | None = None) -> bool:
        """True when ``bearer`` (the text after ``Bearer ``) is a valid credential of the endpoint now."""
        if not bearer:
            return False
        if self._material.auth_mode == "aml_token":
            return self._token_valid(bearer, now or datetime.now(timezone.utc))
        given = bearer.encode()
        primary = hmac.compare_digest(given, self._material.primary_key.encode())
        secondary = hmac.compare_digest(given, self._material.secondary_key.encode())
        return primary | secondary  # both compared, whichever matches

    def _token_valid(self, token: str, now: datetime) -> bool:
        payload, dot, signature = token.partition(".")
        if not dot or len(token) > _MAX_TOKEN_CHARS:
            return False
        expected = _signature(self._material.token_secret, payload)
        if not hmac.compare_digest(signature.encode(), expected.encode()):
            return False
        try:
            claims = json.loads(_decode(payload))
        except (ValueError, binascii.Error):
            return False
        if not isinstance(claims, dict) or claims.get("endpoint") != self.endpoint_name:
            return False
        expiry = claims.get("exp")
        return isinstance(expiry, int) and now.timestamp() < expiry


def credential_checker(material: KeyMaterial) -> CredentialChecker:
    """The check of bearer strings for the endpoint whose secrets ``material`` holds."""
    return CredentialChecker(material)


def _signature(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), _SIGNED + payload.encode(), hashlib.sha256).digest()
    return _encode(digest)


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
