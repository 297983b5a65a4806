"""Who may call what: API keys sent as `authorization: Bearer <key>` metadata, each with
a role, checked by one interceptor before any handler runs.

Roles nest: `search` may read and search, `write` may also upsert and delete, `admin`
may also retrain the projection and create or delete catalogs. Health stays open so that
probes need no key. A key may be limited to some catalogs: the service then answers
PERMISSION_DENIED for any other (the interceptor leaves the caller in `CALLER`).

Keys are stored as SHA-256 digests, one per line:
`<name> <role> sha256:<hex> [catalogs=<id>,<id>...]` (make a line with `productsearch
new-key`). The keys are random 256-bit tokens, so a fast hash is enough: there is nothing
to brute-force that a slow, salted hash would protect.
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import hashlib
import hmac
import ipaddress
import os
import secrets
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

import grpc

from server.api.interceptors import SERVICE_PREFIX, Scope, ScopedInterceptor
from server.domain import ANYONE, Principal

ENV_KEYS = "PRODUCTSEARCH_API_KEYS"  # key lines, separated by newlines or ";"
OPEN_PREFIXES = ("/grpc.health.v1.Health/",)
# Who the current call comes from (set by AccessInterceptor; ANYONE without keys).
CALLER: contextvars.ContextVar[Principal] = contextvars.ContextVar("caller", default=ANYONE)


class Role(enum.IntEnum):
    SEARCH = 1
    WRITE = 2
    ADMIN = 3


# Methods of ProductSearch not listed here need the `search` role.
METHOD_ROLES = {
    "UpsertProducts": Role.WRITE,
    "DeleteProducts": Role.WRITE,
    "TrainProjection": Role.ADMIN,
    "TrainImageHead": Role.ADMIN,
    "CreateCatalog": Role.ADMIN,
    "DeleteCatalog": Role.ADMIN,
}


class KeyFileError(ValueError):
    """A key line that cannot be read."""


@dataclass(frozen=True)
class ApiKey:
    name: str
    role: Role
    digest: bytes  # SHA-256 of the key
    catalogs: frozenset[str] | None = None  # the catalog ids it may use; None: all

    @property
    def principal(self) -> Principal:
        return Principal(self.name, self.catalogs)


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def new_key(name: str, role: str, catalogs: Iterable[str] = ()) -> tuple[str, str]:
    """A fresh random key and the line that grants it `role`, in `catalogs` when given
    (the line holds only its hash)."""
    key = "psk_" + secrets.token_urlsafe(32)
    line = f"{name} {Role[role.upper()].name.lower()} sha256:{digest(key).hex()}"
    limited = ",".join(catalogs)
    return key, f"{line} catalogs={limited}" if limited else line


def parse_keys(text: str, source: str) -> list[ApiKey]:
    keys = []
    for number, line in enumerate(text.replace(";", "\n").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        catalogs = None
        if len(parts) == 4 and parts[3].startswith("catalogs="):
            catalogs = frozenset(filter(None, parts.pop().removeprefix("catalogs=").split(",")))
            if not catalogs:
                raise KeyFileError(f"{source}:{number}: catalogs= lists no catalog")
        if len(parts) != 3 or not parts[2].startswith("sha256:") or parts[1].upper() not in Role.__members__:
            raise KeyFileError(
                f"{source}:{number}: expected '<name> search|write|admin sha256:<hex> [catalogs=<id>,...]'"
            )
        try:
            hashed = bytes.fromhex(parts[2].removeprefix("sha256:"))
        except ValueError:
            hashed = b""
        if len(hashed) != 32:
            raise KeyFileError(f"{source}:{number}: the digest must be 64 hex digits")
        keys.append(ApiKey(parts[0], Role[parts[1].upper()], hashed, catalogs))
    return keys


def load_keys(path: Path | None, environ=os.environ) -> tuple[ApiKey, ...]:
    """Keys from `path` and from $PRODUCTSEARCH_API_KEYS; none means access is not checked."""
    keys = parse_keys(path.read_text(), str(path)) if path is not None else []
    keys += parse_keys(environ.get(ENV_KEYS, ""), ENV_KEYS)
    return tuple(keys)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def required_role(method: str) -> Role | None:
    """The role `method` needs; None for open methods."""
    if method.startswith(OPEN_PREFIXES):
        return None
    if method.startswith(SERVICE_PREFIX):
        return METHOD_ROLES.get(method.removeprefix(SERVICE_PREFIX), Role.SEARCH)
    return Role.SEARCH  # reflection and anything added later


class KeyRing:
    def __init__(self, keys: Iterable[ApiKey]) -> None:
        self.keys = tuple(keys)

    def find(self, key: str) -> ApiKey | None:
        """The entry for `key`; every digest is compared, in constant time, whatever matches."""
        wanted, found = digest(key), None
        for entry in self.keys:
            if hmac.compare_digest(entry.digest, wanted):
                found = entry
        return found

    def check(self, authorization: str | None, needed: Role) -> ApiKey | tuple[grpc.StatusCode, str]:
        """The caller's key when allowed, else the status code and message to answer."""
        if not authorization:
            return grpc.StatusCode.UNAUTHENTICATED, "missing API key: send 'authorization: Bearer <key>'"
        scheme, _, key = authorization.partition(" ")
        entry = self.find(key.strip()) if scheme.lower() == "bearer" else None
        if entry is None:
            return grpc.StatusCode.UNAUTHENTICATED, "invalid API key"
        if entry.role < needed:
            return (
                grpc.StatusCode.PERMISSION_DENIED,
                f"key '{entry.name}' has role {entry.role.name.lower()}; "
                f"this call needs {needed.name.lower()}",
            )
        return entry


class AccessInterceptor(ScopedInterceptor):
    """Answers UNAUTHENTICATED / PERMISSION_DENIED before the handler runs, and leaves the
    caller's key in `CALLER` for the service's per-catalog checks."""

    def __init__(self, keys: KeyRing) -> None:
        self.keys = keys

    def scope(self, method: str, details: grpc.HandlerCallDetails) -> Scope | None:
        needed = required_role(method)
        if needed is None:
            return None
        metadata = dict(details.invocation_metadata or ())
        outcome = self.keys.check(metadata.get("authorization"), needed)
        principal = outcome.principal if isinstance(outcome, ApiKey) else None

        @contextlib.asynccontextmanager
        async def checked(context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
            if principal is None:
                assert not isinstance(outcome, ApiKey)
                await context.abort(*outcome)
                return
            token = CALLER.set(principal)
            try:
                yield
            finally:
                CALLER.reset(token)

        return checked
