"""`inbox`: the email an execution captured instead of sending (`run --capture-email`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from engine import cli

__all__ = ["captured_messages", "cmd_inbox", "register"]


def register(sub: Any, common: argparse.ArgumentParser) -> dict[str, Any]:
    i = sub.add_parser("inbox", parents=[common], help="the email an execution captured instead of sending")
    i.add_argument("id", help="execution id")
    i.add_argument("--json", action="store_true", help="print a JSON array of messages")
    return {"inbox": cmd_inbox}


def captured_messages(recordings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Captured email recordings as inbox messages, in the order the run made them."""
    out = []
    for r in recordings:
        if r["kind"] != "email" or not r["captured"]:
            continue
        m = r["request"] or {}
        out.append({
            "from": m.get("from"), "to": m.get("to") or [], "cc": m.get("cc") or [], "bcc": m.get("bcc") or [],
            "subject": m.get("subject", ""), "text": m.get("text", ""), "node_id": r["node_id"],
            "thread_id": r["thread_id"], "attempt": r["attempt"], "message_id": m.get("message_id"),
            "date": m.get("date"),
        })
    return out


def cmd_inbox(args: argparse.Namespace) -> int:
    service = cli._service(args)
    try:
        messages = captured_messages(service.store.recordings(args.id))
    finally:
        service.close()
    if args.json:
        cli._print_json(messages)
        return 0
    if not messages:
        sys.stdout.write(f"execution {args.id} captured no email\n")
    for m in messages:
        sys.stdout.write(f"{m['node_id']}  {m['from']} -> {', '.join(m['to'])}  {m['subject']}\n")
    return 0
