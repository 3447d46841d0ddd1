"""`processengine credentials list|set|delete`: named credentials in the OS keyring.

A secret is read from a hidden prompt (getpass) or, with `--stdin` or when stdin is
not a terminal, from standard input — never from the command line, where other
users could read it in the process list and the shell would keep it in its history.
Nothing printed (text or `--json`) ever holds a secret.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

EXIT_USAGE = 64


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, Callable[[argparse.Namespace], int]]:
    from engine.credentials import KINDS

    c = sub.add_parser("credentials", help="list, set or delete named credentials (OS keyring)")
    verbs = c.add_subparsers(dest="cred_command", metavar="{list,set,delete}", required=True)
    ls = verbs.add_parser("list", parents=[common], help="list credentials (names, kinds, sources; never secrets)")
    ls.add_argument("--json", action="store_true", help="print a JSON array")
    st = verbs.add_parser("set", parents=[common], help="save a credential; the secret is read from a prompt or stdin")
    st.add_argument("name", help="the credential's name, as nodes reference it")
    st.add_argument("--kind", required=True, choices=list(KINDS), help="what the secret is (required)")
    st.add_argument("--username", default="", help="user name (basic, smtp)")
    st.add_argument("--key-name", default="", help="header or query parameter name (header, query)")
    st.add_argument("--stdin", action="store_true", help="read the secret from stdin instead of a prompt")
    dl = verbs.add_parser("delete", parents=[common], help="remove a credential from the OS keyring")
    dl.add_argument("name", help="the credential's name")
    return {"credentials": cmd_credentials}


def cmd_credentials(args: argparse.Namespace) -> int:
    handlers = {"list": _list, "set": _set, "delete": _delete}
    return handlers[args.cred_command](args)


def _list(args: argparse.Namespace) -> int:
    from engine.credentials import list_credentials

    found = list_credentials()
    if args.json:
        sys.stdout.write(json.dumps([c.as_json() for c in found], indent=2) + "\n")
        return 0
    if not found:
        sys.stdout.write("no credentials (add one with: processengine credentials set NAME --kind KIND)\n")
    for c in found:
        extra = "  ".join(f"{k}={v}" for k, v in c.public.items() if v)
        sys.stdout.write(f"{c.name}  {c.kind}  {c.source}{'  ' + extra if extra else ''}\n")
    return 0


def _read_secret(field: str, name: str, from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        text = sys.stdin.read()
        return text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
    import getpass

    return getpass.getpass(f"{field} for {name!r}: ")


def _set(args: argparse.Namespace) -> int:
    from engine.credentials import KINDS, CredentialInvalid, save_credential

    public, secret = KINDS[args.kind]
    data: dict[str, Any] = {"kind": args.kind}
    if "username" in public:
        data["username"] = args.username
    if "name" in public:
        if not args.key_name:
            sys.stderr.write(f"processengine: a {args.kind} credential needs --key-name (the {args.kind} parameter name)\n")
            return EXIT_USAGE
        data["name"] = args.key_name
    data[secret] = _read_secret(secret, args.name, args.stdin)
    if not data[secret]:
        sys.stderr.write(f"processengine: no {secret} given (nothing saved)\n")
        return 1
    try:
        save_credential(args.name, data)
    except CredentialInvalid as exc:
        sys.stderr.write(f"processengine: {exc.message}\n")
        return 1
    except Exception as exc:  # no usable keyring backend, locked store
        sys.stderr.write(f"processengine: the OS keyring cannot be written ({type(exc).__name__}: {exc})\n")
        return 1
    sys.stdout.write(f"saved credential {args.name!r} ({args.kind}) in the OS keyring\n")
    return 0


def _delete(args: argparse.Namespace) -> int:
    from keyring.errors import PasswordDeleteError

    from engine.credentials import delete_credential

    try:
        delete_credential(args.name)
    except PasswordDeleteError:
        sys.stderr.write(f"processengine: no credential {args.name!r} in the OS keyring\n")
        return 1
    except Exception as exc:
        sys.stderr.write(f"processengine: the OS keyring cannot be changed ({type(exc).__name__}: {exc})\n")
        return 1
    sys.stdout.write(f"deleted credential {args.name!r}\n")
    return 0
