"""The API's bearer token, and the rule that only loopback listens without an explicit one.

Where the token comes from, first match wins: `--token`, `PROCESSENGINE_API_TOKEN`,
else the file `api_token` in the user data dir, created with mode 0600 on first
use (its path, never its content, is printed at start). A non-loopback `--host`
needs an explicit token (flag or variable): a token file on a server is too easy
to forget. Tokens are compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from engine.errors import EngineError

TOKEN_ENV = "PROCESSENGINE_API_TOKEN"
TOKEN_FILE = "api_token"


class AuthError(EngineError):
    """The API cannot start with this token setup."""


@dataclass(frozen=True, slots=True)
class ApiToken:
    value: str
    source: str  # "--token", the variable's name, or the token file's path
    explicit: bool

    def matches(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header[len("Bearer ") :].strip().encode(), self.value.encode())


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def token_file_path() -> Path:
    from engine.paths import data_dir

    return data_dir() / TOKEN_FILE


def _from_file(path: Path) -> str:
    """Read the token file, creating it (0600) with a fresh token when missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _existing(path)
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    return token


def _existing(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise AuthError(f"token file {path} is readable by others (mode {mode:o}); chmod 600 it")
    token = path.read_text(encoding="utf-8").strip()
    if not token:
        raise AuthError(f"token file {path} is empty; delete it to get a new token")
    return token


def resolve_token(flag: str | None, host: str, *, token_file: Path | None = None) -> ApiToken:
    """The token the API accepts; refuses a non-loopback host without an explicit one."""
    if flag:
        return ApiToken(flag, "--token", True)
    env = os.environ.get(TOKEN_ENV, "").strip()
    if env:
        return ApiToken(env, TOKEN_ENV, True)
    if not is_loopback(host):
        raise AuthError(
            f"refusing to serve the API on {host} (beyond this machine) without an explicit token: "
            f"pass --token or set {TOKEN_ENV}"
        )
    path = token_file or token_file_path()
    return ApiToken(_from_file(path), str(path), False)
