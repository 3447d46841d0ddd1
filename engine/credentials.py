"""Named credentials: resolved at run time, never stored in a workflow file.

A workflow refers to a credential by name (`"credential": "smtp-main"`); the
secret lives outside the file, in one of two places, looked up in this order:

1. Environment variables (a process-scoped override, and what CI and servers
   use; checked first so a headless run never triggers a keyring unlock prompt):
   ``PROCESSENGINE_CRED_<NAME>_USERNAME`` and ``PROCESSENGINE_CRED_<NAME>_PASSWORD``
   where ``<NAME>`` is the credential name upper-cased with every character that
   is not a letter or digit replaced by ``_`` (``smtp-main`` -> ``SMTP_MAIN``).
   The password variable must be set; the username may be missing (empty).
2. The OS keyring (`keyring` package), service ``processengine``, entry (keyring
   "username") = the credential name exactly as written in the workflow; the
   stored secret is a JSON object ``{"username": "...", "password": "..."}``.
   `store_credential` writes that layout; a plain (non-JSON) stored secret is
   read as a password with an empty username.

Secret values are never logged and never appear in error messages.
"""

from __future__ import annotations

import json
import logging
import os
import re

from engine.errors import NodeError

log = logging.getLogger(__name__)

KEYRING_SERVICE = "processengine"
ENV_PREFIX = "PROCESSENGINE_CRED_"


class CredentialNotFound(NodeError):
    """No credential of that name in the environment or the keyring (retrying cannot help)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False, error_type="CredentialNotFound")


def env_name(name: str) -> str:
    """The `<NAME>` part of the env var names for credential `name`."""
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def env_vars(name: str) -> tuple[str, str]:
    """The (username, password) environment variable names for credential `name`."""
    base = ENV_PREFIX + env_name(name)
    return base + "_USERNAME", base + "_PASSWORD"


def _from_env(name: str) -> dict[str, str] | None:
    user_var, pass_var = env_vars(name)
    password = os.environ.get(pass_var)
    if password is None:
        return None
    return {"username": os.environ.get(user_var, ""), "password": password}


def _from_keyring(name: str) -> dict[str, str] | None:
    try:
        import keyring
    except ImportError:  # pragma: no cover - keyring is a declared dependency
        return None
    try:
        secret = keyring.get_password(KEYRING_SERVICE, name)
    except Exception as exc:  # no usable backend (headless box, locked store, D-Bus down)
        log.debug("keyring unavailable for credential lookup: %s", type(exc).__name__)
        return None
    if secret is None:
        return None
    try:
        data = json.loads(secret)
    except ValueError:
        return {"username": "", "password": secret}
    if not isinstance(data, dict):
        return {"username": "", "password": secret}
    return {"username": str(data.get("username", "")), "password": str(data.get("password", ""))}


def resolve_credential(name: str) -> dict[str, str]:
    """Return ``{"username", "password"}`` for credential `name`, or raise CredentialNotFound."""
    if not isinstance(name, str) or not name.strip():
        raise CredentialNotFound("credential name must be a non-empty string")
    found = _from_env(name)
    if found is None:
        found = _from_keyring(name)
    if found is None:
        user_var, pass_var = env_vars(name)
        raise CredentialNotFound(
            f"credential {name!r} not found: set {pass_var} (and {user_var}) or store it "
            f"in the OS keyring under service {KEYRING_SERVICE!r}, entry {name!r}"
        )
    return found


def store_credential(name: str, username: str, password: str) -> None:
    """Save a credential in the OS keyring in the layout `resolve_credential` reads."""
    import keyring

    keyring.set_password(
        KEYRING_SERVICE, name, json.dumps({"username": username, "password": password})
    )


def delete_credential(name: str) -> None:
    """Remove a credential from the OS keyring (KeyringError if it is not there)."""
    import keyring

    keyring.delete_password(KEYRING_SERVICE, name)
