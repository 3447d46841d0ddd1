"""Read file: a text, JSON, CSV or binary file into the run, as {path, content, size}.

`path` is relative to the workflow file's folder (see `engine.nodes.files` for which
folders are allowed). `csv` gives a list of objects keyed by the header row (every
value text; a short row's missing cells are null, a long row is an error). `bytes`
gives the content as base64 text. Reading runs off the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from engine.errors import NodeError
from engine.nodes import registry
from engine.nodes.base import NodeConfig, NodeContext, NodeResult, NodeSpec
from engine.nodes.files import resolve_path

Format = Literal["text", "json", "csv", "bytes"]


class ReadFileConfig(NodeConfig):
    path: str = Field(description="File to read; relative paths start at the workflow file's folder.")
    format: Format = Field(
        "text", description="text, json (parsed), csv (list of objects by header) or bytes (base64)."
    )
    encoding: str = Field(
        "utf-8", description="Text encoding for text, json and csv (a UTF-8 byte-order mark is skipped)."
    )
    delimiter: str = Field(",", min_length=1, max_length=1, description="CSV field separator, e.g. ';' or a tab.")


def parse_csv(text: str, where: str, delimiter: str = ",") -> list[dict[str, Any]]:
    """Rows as objects keyed by the header row; errors name the line."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            return []
        rows: list[dict[str, Any]] = []
        for row in reader:
            if not row:
                continue
            if len(row) > len(header):
                raise NodeError(
                    f"{where}: line {reader.line_num} has {len(row)} fields, the header has {len(header)}"
                )
            rows.append({h: (row[i] if i < len(row) else None) for i, h in enumerate(header)})
        return rows
    except csv.Error as exc:
        raise NodeError(f"{where}: not valid CSV at line {reader.line_num}: {exc}") from None


def decode(data: bytes, fmt: str, encoding: str, where: str, delimiter: str = ",") -> Any:
    """The file's bytes as the node outputs them in format `fmt`."""
    if fmt == "bytes":
        return base64.b64encode(data).decode("ascii")
    codec = encoding
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        codec = "utf-8-sig"  # files saved by Excel and Notepad start with a BOM
    try:
        text = data.decode(codec)
    except LookupError:
        raise NodeError(f"{where}: unknown encoding {encoding!r}") from None
    except UnicodeDecodeError as exc:
        raise NodeError(
            f"{where}: not valid {encoding} text (byte {exc.start}); set `encoding` or use format bytes"
        ) from None
    if fmt == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise NodeError(f"{where}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if fmt == "csv":
        return parse_csv(text, where, delimiter)
    return text


def _read(path: Path, where: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NodeError(f"{where}: file not found: {path}") from None
    except IsADirectoryError:
        raise NodeError(f"{where}: {path} is a folder, not a file") from None
    except PermissionError:
        raise NodeError(f"{where}: permission denied: {path}") from None
    except OSError as exc:
        raise NodeError(f"{where}: cannot read {path}: {exc.strerror or exc}") from None


class ReadFileSpec(NodeSpec):
    type = "read_file"
    title = "Read file"
    category = "Files"
    description = "Reads a text, JSON, CSV or binary file; outputs {path, content, size}."
    icon = "file_read"
    config_model = ReadFileConfig

    async def run(self, ctx: NodeContext, value: Any) -> NodeResult:
        cfg: ReadFileConfig = ctx.config
        path = resolve_path(ctx, cfg.path)
        where = f"node {ctx.node.id!r}, config.path"
        data = await asyncio.to_thread(_read, path, where)
        content = decode(data, cfg.format, cfg.encoding, f"{where} ({path})", cfg.delimiter)
        ctx.log.info("read %s (%d bytes, %s)", path, len(data), cfg.format)
        return NodeResult.out({"path": str(path), "content": content, "size": len(data)})


SPEC = registry.register(ReadFileSpec())
