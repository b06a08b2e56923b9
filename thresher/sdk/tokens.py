"""``thresher token ...``: the API tokens a thresher server accepts, each with a role.

A token's secret is made here, shown once, and stored only as its SHA-256: a database copy does not
let anyone in. Roles are ordered: a reader reads; a contributor also creates, updates, deletes and
runs; an owner also manages tokens.
"""

from __future__ import annotations

import builtins
import hashlib
import secrets
from dataclasses import dataclass

from thresher.errors import ResourceError
from thresher.instance import Instance
from thresher.store.service import ROLES, TokenRecord

SECRET_PREFIX = "thr_"


def secret_hash(secret: str) -> str:
    """What the store keeps of a secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def role_allows(role: str, needed: str) -> bool:
    """Whether a token of ``role`` may do what needs ``needed``."""
    return ROLES.index(role) >= ROLES.index(needed)


@dataclass(frozen=True)
class NewToken:
    """A token just made: its record and its secret, which is never shown again."""

    token: TokenRecord
    secret: str


class TokenOperations:
    """Create, list and revoke API tokens."""

    def __init__(self, instance: Instance) -> None:
        self._instance = instance

    def create(self, name: str, *, role: str = "reader") -> NewToken:
        """A new token; its secret is in the result only. ``role``: reader, contributor or owner."""
        if role not in ROLES:
            raise ResourceError(
                f"Token role {role!r} is not one of {', '.join(ROLES)}.",
                fix="Pass --role reader (read only), contributor (run and change things) or owner (also tokens).",
            )
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        return NewToken(self._instance.store.create_token(name, role, secret_hash(secret)), secret)

    def list(self) -> builtins.list[TokenRecord]:
        """Every token (revoked ones too), without secrets."""
        return self._instance.store.list_tokens()

    def revoke(self, name: str) -> TokenRecord:
        """Revoke a token: requests with it are refused from now on."""
        return self._instance.store.revoke_token(name)

    def verify(self, secret: str) -> TokenRecord | None:
        """The live token whose secret this is, or None."""
        return self._instance.store.token_for_secret(secret_hash(secret))
