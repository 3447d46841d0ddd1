"""Named credentials with kinds: resolved at run time, never stored in a workflow file.

A workflow refers to a credential by name (`"credential": "github"`); the secret
lives outside the file. Every credential has a `kind` and the fields of that kind:

| kind | fields (secret in *italics*) | used by |
| --- | --- | --- |
| `basic` | username, *password* | http_request (Basic auth), send_email |
| `bearer` | *token* | http_request (`Authorization: Bearer`) |
| `header` | name, *value* | http_request (one header) |
| `query` | name, *value* | http_request (one query parameter) |
| `smtp` | username, *password* | send_email |
| `sql` | *url* | sql_query (a SQLAlchemy URL, password included) |

Looked up in this order (the environment first, so a headless run never
triggers a keyring unlock prompt):

1. ``PROCESSENGINE_CRED_<NAME>`` holding the whole credential as JSON
   (``{"kind": "bearer", "token": "…"}``), where ``<NAME>`` is the name
   upper-cased with every character that is not a letter or digit replaced by
   ``_`` (``smtp-main`` -> ``SMTP_MAIN``);
2. ``PROCESSENGINE_CRED_<NAME>_USERNAME`` / ``_PASSWORD`` (kind `basic`, also
   accepted where `smtp` is wanted); the password variable must be set;
3. the OS keyring (`keyring`), service ``processengine``, entry = the name as
   written, secret = the credential's JSON. A stored object without `kind` is
   `basic`; a non-JSON secret is a `basic` password with an empty username.
   The keyring cannot list its entries, so the names saved through this module
   are kept in one more entry (``processengine-index``), names only.

Secret values are never logged, never put in error messages and never
returned by `list_credentials` or `public_fields`.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from typing import Any

from engine.errors import NodeError

__all__ = [
    "ENV_PREFIX",
    "INDEX_ENTRY",
    "INDEX_SERVICE",
    "KEYRING_SERVICE",
    "KINDS",
    "CredentialInfo",
    "CredentialInvalid",
    "CredentialNotFound",
    "delete_credential",
    "env_name",
    "env_vars",
    "list_credentials",
    "public_fields",
    "resolve_credential",
    "save_credential",
    "secret_field",
    "store_credential",
    "validate",
]

log = logging.getLogger(__name__)

KEYRING_SERVICE = "processengine"
INDEX_SERVICE = "processengine-index"
INDEX_ENTRY = "names"
ENV_PREFIX = "PROCESSENGINE_CRED_"

# kind -> (public fields, the secret field); every kind has exactly one secret
KINDS: dict[str, tuple[tuple[str, ...], str]] = {
    "basic": (("username",), "password"),
    "bearer": ((), "token"),
    "header": (("name",), "value"),
    "query": (("name",), "value"),
    "smtp": (("username",), "password"),
    "sql": ((), "url"),
}


class CredentialNotFound(NodeError):
    """No credential of that name in the environment or the keyring (retrying cannot help)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False, error_type="CredentialNotFound")


class CredentialInvalid(NodeError):
    """A credential was found but does not have the shape of its kind (never shows values)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False, error_type="CredentialInvalid")


@dataclass(frozen=True, slots=True, kw_only=True)
class CredentialInfo:
    """What may be shown about a credential: no secret."""

    name: str
    kind: str
    source: str  # "env" | "keyring"
    public: dict[str, str]

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "source": self.source, "fields": dict(self.public)}


def env_name(name: str) -> str:
    """The `<NAME>` part of the env var names for credential `name`."""
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def env_vars(name: str) -> tuple[str, str]:
    """The (username, password) environment variable names for credential `name`."""
    base = ENV_PREFIX + env_name(name)
    return base + "_USERNAME", base + "_PASSWORD"


def secret_field(kind: str) -> str:
    return KINDS[kind][1]


def public_fields(cred: dict[str, str]) -> dict[str, str]:
    """The fields of a credential that are not secret (username, header/query name)."""
    public, _ = KINDS.get(cred.get("kind", ""), ((), ""))
    return {k: cred.get(k, "") for k in public}


def validate(data: Any, where: str) -> dict[str, str]:
    """A credential dict checked against its kind; errors name `where` and the field, never a value."""
    if not isinstance(data, dict):
        raise CredentialInvalid(f"{where}: a credential must be a JSON object")
    kind = data.get("kind", "basic")
    if kind not in KINDS:
        raise CredentialInvalid(f"{where}: unknown kind {kind!r} (kinds: {', '.join(KINDS)})")
    public, secret = KINDS[kind]
    allowed = {"kind", secret, *public}
    extra = sorted(set(data) - allowed)
    if extra:
        raise CredentialInvalid(f"{where}: a {kind} credential has no field {', '.join(extra)}")
    out = {"kind": kind}
    for key in (*public, secret):
        value = data.get(key, "")
        if not isinstance(value, str):
            raise CredentialInvalid(f"{where}: field {key!r} must be a string")
        out[key] = value
    if not out[secret] and kind != "basic":
        raise CredentialInvalid(f"{where}: field {secret!r} is empty")
    if kind in ("header", "query") and not out["name"]:
        raise CredentialInvalid(f"{where}: field 'name' is empty")
    return out


def _from_env(name: str) -> dict[str, str] | None:
    whole = ENV_PREFIX + env_name(name)
    raw = os.environ.get(whole)
    if raw is not None:
        try:
            data = json.loads(raw)
        except ValueError:
            raise CredentialInvalid(
                f"credential {name!r}: {whole} is not valid JSON (expected e.g. "
                '{"kind": "bearer", "token": "..."})'
            ) from None
        return validate(data, f"credential {name!r} ({whole})")
    user_var, pass_var = env_vars(name)
    password = os.environ.get(pass_var)
    if password is None:
        return None
    return {"kind": "basic", "username": os.environ.get(user_var, ""), "password": password}


def _keyring() -> Any:
    import keyring

    return keyring


def _from_keyring(name: str) -> dict[str, str] | None:
    try:
        secret = _keyring().get_password(KEYRING_SERVICE, name)
    except Exception as exc:  # no usable backend (headless box, locked store, D-Bus down)
        log.debug("keyring unavailable for credential lookup", extra={"error_type": type(exc).__name__})
        return None
    if secret is None:
        return None
    try:
        data = json.loads(secret)
    except ValueError:
        return {"kind": "basic", "username": "", "password": secret}
    if not isinstance(data, dict):
        return {"kind": "basic", "username": "", "password": secret}
    if "kind" not in data:  # the layout written before credentials had kinds
        data = {"kind": "basic", "username": str(data.get("username", "")), "password": str(data.get("password", ""))}
    return validate(data, f"credential {name!r} (keyring)")


def resolve_credential(name: str, kinds: tuple[str, ...] | None = None) -> dict[str, str]:
    """Return the credential `name` as ``{"kind", <its fields>}``, or raise.

    `kinds` lists the kinds the caller can use; a `basic` credential also serves
    where `smtp` is wanted (and the other way round), as both are a user and password.
    """
    if not isinstance(name, str) or not name.strip():
        raise CredentialNotFound("credential name must be a non-empty string")
    found = _from_env(name)
    if found is None:
        found = _from_keyring(name)
    if found is None:
        _, pass_var = env_vars(name)
        raise CredentialNotFound(
            f"credential {name!r} not found: set {ENV_PREFIX}{env_name(name)} (JSON) or {pass_var}, "
            f"or store it with `processengine credentials set {name}` (OS keyring, service "
            f"{KEYRING_SERVICE!r})"
        )
    if kinds is not None and found["kind"] not in kinds:
        pair = {"basic", "smtp"}
        if not (found["kind"] in pair and pair & set(kinds)):
            raise CredentialInvalid(
                f"credential {name!r} is of kind {found['kind']!r}; this node takes {' or '.join(kinds)}"
            )
    return found


# --------------------------------------------------------------------------- the keyring store


def _index() -> list[str]:
    try:
        raw = _keyring().get_password(INDEX_SERVICE, INDEX_ENTRY)
    except Exception:
        return []
    try:
        names = json.loads(raw) if raw else []
    except ValueError:
        return []
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def _write_index(names: list[str]) -> None:
    _keyring().set_password(INDEX_SERVICE, INDEX_ENTRY, json.dumps(sorted(set(names))))


def save_credential(name: str, data: dict[str, Any]) -> dict[str, str]:
    """Check `data` against its kind and save it in the OS keyring under `name`."""
    if not isinstance(name, str) or not name.strip():
        raise CredentialInvalid("credential name must be a non-empty string")
    cred = validate(data, f"credential {name!r}")
    _keyring().set_password(KEYRING_SERVICE, name, json.dumps(cred))
    names = _index()
    if name not in names:
        _write_index([*names, name])
    log.info("credential saved", extra={"credential": name, "kind": cred["kind"]})
    return cred


def store_credential(name: str, username: str, password: str) -> None:
    """Save a `basic` credential (user name and password) in the OS keyring."""
    save_credential(name, {"kind": "basic", "username": username, "password": password})


def delete_credential(name: str) -> None:
    """Remove a credential from the OS keyring (keyring's PasswordDeleteError if it is not there)."""
    kr = _keyring()
    try:
        kr.delete_password(KEYRING_SERVICE, name)
    finally:
        names = _index()
        if name in names:
            _write_index([n for n in names if n != name])
    log.info("credential deleted", extra={"credential": name})


def _env_names() -> list[str]:
    """`<NAME>` of every credential defined in the environment (whole JSON or the pair)."""
    found = set()
    for var in os.environ:
        if not var.startswith(ENV_PREFIX):
            continue
        rest = var[len(ENV_PREFIX) :]
        if rest.endswith("_USERNAME"):  # read with its _PASSWORD, never alone
            continue
        found.add(rest[: -len("_PASSWORD")] if rest.endswith("_PASSWORD") else rest)
    return sorted(n for n in found if n)


def list_credentials() -> list[CredentialInfo]:
    """Every known credential: the environment's, then the keyring's (no secrets)."""
    out: list[CredentialInfo] = []
    env_shadowed = set()
    for env in _env_names():
        try:
            cred = _from_env(env)
        except CredentialInvalid as exc:
            log.warning("%s", exc.message)
            continue
        if cred is not None:
            out.append(CredentialInfo(name=env, kind=cred["kind"], source="env", public=public_fields(cred)))
            env_shadowed.add(env)
    for name in _index():
        if env_name(name) in env_shadowed:
            continue
        try:
            cred = _from_keyring(name)
        except CredentialInvalid as exc:
            log.warning("%s", exc.message)
            continue
        if cred is not None:
            out.append(CredentialInfo(name=name, kind=cred["kind"], source="keyring", public=public_fields(cred)))
    return out
