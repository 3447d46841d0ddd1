"""Write file: text, JSON, CSV or bytes (from base64) to a file; outputs {path, size}.

A side effect: the store commits the node's result before the run moves on, and a
resumed run warns before writing again. `overwrite` replaces the file atomically
(a temp file renamed over it), so a reader never sees half a file; `append` adds
to the end (JSON appends one compact line, i.e. JSON Lines; CSV writes the header
only when the file is new or empty); `fail_if_exists` refuses to touch a file that
is there. Missing parent folders are created (inside the allowed folders).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from engine.errors import NodeError
from engine.nodes import registry
from engine.nodes.base import NodeConfig, NodeContext, NodeResult, NodeSpec
from engine.nodes.files import resolve_path
from engine.nodes.items import json_type

Mode = Literal["overwrite", "append", "fail_if_exists"]


class WriteFileConfig(NodeConfig):
    path: str = Field(description="File to write; relative paths start at the workflow file's folder.")
    content: Any = Field(
        None,
        description="What to write (default: the node's input): text for text, any JSON for json, "
        "a list of objects or of lists for csv, base64 text for bytes.",
    )
    format: Literal["text", "json", "csv", "bytes"] = Field(
        "text", description="text, json (pretty-printed), csv or bytes (content is base64)."
    )
    mode: Mode = Field("overwrite", description="overwrite, append or fail_if_exists.")
    encoding: str = Field("utf-8", description="Text encoding for text, json and csv.")
    delimiter: str = Field(",", min_length=1, max_length=1, description="CSV field separator, e.g. ';' or a tab.")


def csv_text(content: Any, with_header: bool, where: str, delimiter: str = ",") -> str:
    """A list of objects (columns: keys in first-seen order) or of lists, as CSV text."""
    if not isinstance(content, list):
        raise NodeError(f"{where}: csv needs a list of objects or of lists, got {json_type(content)}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n", delimiter=delimiter)
    if all(isinstance(r, dict) for r in content):
        columns = list(dict.fromkeys(k for r in content for k in r))
        if with_header and columns:
            writer.writerow(columns)
        for r in content:
            writer.writerow([_cell(r.get(c)) for c in columns])
    elif all(isinstance(r, list) for r in content):
        writer.writerows([[_cell(c) for c in r] for r in content])
    else:
        raise NodeError(f"{where}: csv rows must be all objects or all lists")
    return out.getvalue()


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    return str(v)


def encode(cfg: WriteFileConfig, content: Any, appending_to_data: bool, where: str) -> bytes:
    """The bytes to write for `content` in the configured format."""
    if cfg.format == "bytes":
        if not isinstance(content, str):
            raise NodeError(f"{where}: bytes needs base64 text, got {json_type(content)}")
        try:
            return base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise NodeError(f"{where}: not valid base64") from None
    if cfg.format == "json":
        if cfg.mode == "append":
            text = json.dumps(content, ensure_ascii=False, separators=(",", ":")) + "\n"
        else:
            text = json.dumps(content, ensure_ascii=False, indent=2) + "\n"
    elif cfg.format == "csv":
        text = csv_text(content, not appending_to_data, where, cfg.delimiter)
    else:
        if not isinstance(content, str):
            raise NodeError(f"{where}: text needs a string, got {json_type(content)} (use format json)")
        text = content
    try:
        return text.encode(cfg.encoding)
    except LookupError:
        raise NodeError(f"{where.rsplit(', ', 1)[0]}, config.encoding: unknown encoding {cfg.encoding!r}") from None
    except UnicodeEncodeError as exc:
        raise NodeError(f"{where}: cannot be written as {cfg.encoding} (character {exc.start})") from None


def _write(path: Path, cfg: WriteFileConfig, content: Any, where: str) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if cfg.mode == "append":
            has_data = path.exists() and path.stat().st_size > 0
            data = encode(cfg, content, has_data, where)
            with open(path, "ab") as fh:
                fh.write(data)
        elif cfg.mode == "fail_if_exists":
            data = encode(cfg, content, False, where)
            with open(path, "xb") as fh:
                fh.write(data)
        else:
            data = encode(cfg, content, False, where)
            _atomic_write(path, data)
        return path.stat().st_size
    except FileExistsError:
        raise NodeError(f"{where}: {path} already exists (mode fail_if_exists)") from None
    except IsADirectoryError:
        raise NodeError(f"{where}: {path} is a folder, not a file") from None
    except PermissionError:
        raise NodeError(f"{where}: permission denied: {path}") from None
    except OSError as exc:
        raise NodeError(f"{where}: cannot write {path}: {exc.strerror or exc}") from None


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class WriteFileSpec(NodeSpec):
    type = "write_file"
    title = "Write file"
    category = "Files"
    description = "Writes text, JSON, CSV or bytes to a file (overwrite, append or fail if it exists); outputs {path, size}."
    icon = "file_write"
    config_model = WriteFileConfig
    side_effects = True

    async def run(self, ctx: NodeContext, value: Any) -> NodeResult:
        cfg: WriteFileConfig = ctx.config
        path = resolve_path(ctx, cfg.path)
        content = value if "content" not in ctx.raw_config else cfg.content
        where = f"node {ctx.node.id!r}, config.content"
        size = await asyncio.to_thread(_write, path, cfg, content, where)
        ctx.log.info("wrote %s (%s, %s, %d bytes)", path, cfg.format, cfg.mode, size)
        return NodeResult.out({"path": str(path), "size": size})


SPEC = registry.register(WriteFileSpec())
