"""Realistic order records shared by the list-node tests (filter, sort, aggregate, ...)."""

from __future__ import annotations

import copy
from typing import Any

_ORDERS: list[dict[str, Any]] = [
    {"id": "A-1001", "customer": "ann@example.org", "country": "DE", "total": 120.5, "items": 3, "status": "paid"},
    {"id": "A-1002", "customer": "bob@example.org", "country": "FR", "total": 42.0, "items": 1, "status": "refunded"},
    {"id": "A-1003", "customer": "ann@example.org", "country": "DE", "total": 310.0, "items": 7, "status": "paid"},
    {"id": "A-1004", "customer": "cem@example.org", "country": "TR", "total": 99.99, "items": 2, "status": "pending"},
    {"id": "A-1005", "customer": "Bob@Example.org", "country": "FR", "total": 15.25, "items": 1, "status": "paid"},
    {"id": "A-1006", "customer": "dana@example.org", "country": "DE", "total": None, "items": 0, "status": "cancelled"},
]


def orders() -> list[dict[str, Any]]:
    """A fresh deep copy, so a test that mutates by mistake cannot leak into another."""
    return copy.deepcopy(_ORDERS)
