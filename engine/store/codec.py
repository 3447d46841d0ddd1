"""JSON text for the store (compact, C-encoded), and the compressed form of large outputs."""

from __future__ import annotations

import json
import zlib
from typing import Any

from engine.jsonvalue import compact_encoder

COMPRESS_OVER = 64 * 1024  # outputs larger than this (JSON bytes) are stored zlib-compressed

dumps = compact_encoder(default=str, allow_nan=True)
_decode = json.JSONDecoder().decode


def loads(text: str | bytes | None) -> Any:
    if text is None:
        return None
    if isinstance(text, bytes | bytearray | memoryview):
        text = bytes(text).decode("utf-8")
    return _decode(text)


def dumps_opt(value: Any) -> str | None:
    return None if value is None else dumps(value)


def encode_value(value: Any) -> tuple[str, int, bytes]:
    """(encoding, size of the JSON text, stored bytes) for one output value."""
    return encode_raw(dumps(value).encode("utf-8"))


def encode_raw(raw: bytes) -> tuple[str, int, bytes]:
    """`encode_value` of a value whose UTF-8 JSON text is `raw` (already encoded once)."""
    if len(raw) > COMPRESS_OVER:
        return "zjson", len(raw), zlib.compress(raw, 6)
    return "json", len(raw), raw


def decode_value(encoding: str, data: bytes | memoryview) -> Any:
    raw = bytes(data)
    if encoding == "zjson":
        raw = zlib.decompress(raw)
    elif encoding != "json":
        raise ValueError(f"unknown output encoding {encoding!r}")
    return _decode(raw.decode("utf-8"))
