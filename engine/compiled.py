"""The compiled-workflow cache: what Python's `.pyc` files are to modules, for workflow files.

Why: a `processengine run` of a file it has run before spent most of its load path
re-checking what could not have changed - the file's shape, every config, every
expression, the graph. When this engine has loaded and validated a file's exact bytes
without an error, it keeps that verdict; the next load of the same bytes builds the
workflow without those checks (`fileformat.loads(known_valid=True)`, which builds the
same objects) and without `graph.validate`.

- Key: sha256 of the file's bytes, the engine's fingerprint (Python's version; size and
  times of every `.py` file of the `engine` package; the versions and folders of the
  libraries that check configs and expressions, whose times change whenever anything is
  installed there) and the node registry's (`registry.fingerprint`: plugin types too).
  An edited file, an edited engine or a new registration misses and is checked again.
- Entry: `<cache dir>/compiled/<key>.json`, a few hashes: the key itself and the content
  hash of the workflow's canonical document (so a run finds its saved version without
  encoding the workflow again). Never the workflow's content, never a secret. Written
  atomically (a temporary file, then `os.replace`); at most MAX_ENTRIES (the least
  recently used are removed). An unreadable, corrupt or foreign entry counts as none,
  an unwritable folder as no cache: the cold path, never an error.
- Folder: `PROCESSENGINE_CACHE_DIR`, else the user cache folder (platformdirs); set to
  an empty value, no cache is read or written.
- An invalid file never gets an entry. A warm load finds no warnings (they are not
  looked for): `validate` always checks everything.
- Hashes only, by decision: an entry never holds what the file says in another form
  (decoded data, nodes, parsed or folded expressions). Anyone who can write the cache
  folder can write an entry, so such a form would either be trusted - and a corrupt,
  foreign or forged entry could make the engine run what the file does not say - or be
  checked against the file, which costs what building it from the bytes costs (decoding
  is ~1.5 µs a node; `engine.expression_front` reads the commonest expressions in ~1.5 µs
  without Python's parser). A lying entry can at worst skip the checks of a file that
  then loads as written (`_load_known`), and every expression is still parsed and
  statically checked from the file's text when it is first rendered.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from engine import fileformat
from engine.errors import Problem, WorkflowInvalid
from engine.model import Workflow

__all__ = [
    "CACHE_ENV",
    "ENTRY_FORMAT",
    "MAX_ENTRIES",
    "Loaded",
    "cache_dir",
    "engine_fingerprint",
    "entry_path",
    "key_of",
    "load",
]

log = logging.getLogger("engine.compiled")

CACHE_ENV = "PROCESSENGINE_CACHE_DIR"
ENTRY_FORMAT = "processengine-compiled/1"
MAX_ENTRIES = 256
_DEPENDENCIES = ("pydantic", "pydantic_core", "simpleeval")  # what checks configs and expressions


@dataclass(slots=True, kw_only=True)
class Loaded:
    """A workflow loaded and valid (no error), with what its run may reuse.

    `warnings`: the problems that do not stop a run (None on a warm load: not looked for);
    `content_hash`, `document`: the canonical document's hash and text where known (a
    warm load knows the hash; a cold load with the cache on computes both)."""

    workflow: Workflow
    warnings: list[Problem] | None
    content_hash: str | None = None
    document: str | None = None
    warm: bool = False


def cache_dir() -> Path | None:
    """The cache's folder: PROCESSENGINE_CACHE_DIR, else the user cache folder; None
    (no cache) when the variable is set but empty."""
    raw = os.environ.get(CACHE_ENV)
    if raw is not None:
        return Path(raw).expanduser() if raw.strip() else None
    import platformdirs

    from engine.paths import APP_NAME

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


@cache
def engine_fingerprint() -> str:
    """What decides a file's verdict besides the file and the registered node types,
    computed once per process (~0.7 ms: a stat of each of the engine's ~115 files)."""
    parts = [sys.version, sys.implementation.cache_tag or "", ENTRY_FORMAT]
    parts += _files_of(Path(__file__).resolve().parent)
    folders = set()
    for name in _DEPENDENCIES:
        module = sys.modules.get(name) or __import__(name)
        parts.append(f"{name}={getattr(module, 'VERSION', None) or getattr(module, '__version__', '')}")
        where = Path(module.__file__ or "").resolve()
        folders.add(where.parent.parent if where.name == "__init__.py" else where.parent)
    parts += [f"{folder}:{_stamp(folder)}" for folder in sorted(folders)]
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _files_of(root: Path) -> list[str]:
    """Path, size and times of every `.py` file below `root`, sorted."""
    found = []
    todo = [str(root)]
    while todo:
        with os.scandir(todo.pop()) as entries:
            for entry in entries:
                if entry.name.endswith(".py"):
                    found.append(f"{entry.path}:{_stamp(entry.path)}")
                elif entry.name != "__pycache__" and entry.is_dir(follow_symlinks=False):
                    todo.append(entry.path)
    return sorted(found)


def _stamp(path: str | Path) -> str:
    st = os.stat(path)
    return f"{st.st_size}/{st.st_mtime_ns}/{st.st_ctime_ns}"


def key_of(raw: bytes) -> str:
    """The cache key of a file's bytes under this engine and node registry (a registry not
    imported yet holds no type from elsewhere: it is left to the run to import)."""
    registry = sys.modules.get("engine.nodes.registry")
    types = registry.fingerprint() if registry is not None else ""
    h = hashlib.sha256(f"{engine_fingerprint()}\n{types}\n".encode("utf-8", "surrogateescape"))
    h.update(raw)
    return h.hexdigest()


def entry_path(directory: Path, key: str) -> Path:
    return directory / "compiled" / f"{key}.json"


def load(
    path: str, *, use_cache: bool = True, warnings: bool = False, timings: dict[str, float] | None = None
) -> Loaded:
    """Load and validate a workflow file; raise WorkflowInvalid listing every problem when
    there is an error (the same problems, in the same order, as without the cache).

    `warnings`: they are wanted (`validate`), so the file is checked even when its
    verdict is kept (and the verdict written). `timings`: filled with the CPU seconds
    of each step (`load`, `validate`, `cache`)."""
    clock = time.process_time
    started = clock()
    name = str(Path(path))  # how the loader names the file (the graph check: as given)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise WorkflowInvalid([Problem(f"cannot read file: {exc.strerror or exc}", file=name)], name) from None
    directory = cache_dir() if use_cache else None
    key = content_hash = None
    if directory is not None:
        try:
            key = key_of(raw)
        except OSError as exc:  # the engine's or a library's files cannot be looked at
            log.debug("no compiled-workflow cache: %s", exc, extra={"file": name})
            directory = None
        else:
            content_hash = None if warnings else _read_entry(entry_path(directory, key), key)
    if content_hash is not None:
        wf = _load_known(raw, name)
        if wf is not None:
            log.debug("%s: found valid before, loaded without the checks", name, extra={"file": name, "cache_key": key})
            if timings is not None:
                timings.update(load=clock() - started, validate=0.0, cache=0.0)
            return Loaded(workflow=wf, warnings=None, content_hash=content_hash, warm=True)
    wf = fileformat.loads(raw, file=name, check_configs=False)
    loaded_at = clock()
    loaded = _validated(wf, path)
    validated_at = clock()
    if directory is not None and key is not None:
        loaded.document, loaded.content_hash = fileformat.canonical(wf)
        _write_entry(directory, key, loaded.content_hash)
    if timings is not None:
        timings.update(load=loaded_at - started, validate=validated_at - loaded_at, cache=clock() - validated_at)
    return loaded


def _validated(wf: Workflow, path: str) -> Loaded:
    from engine.graph import validate

    problems = validate(wf, file=path)
    if any(p.is_error for p in problems):
        raise WorkflowInvalid(problems, path)
    return Loaded(workflow=wf, warnings=problems)


def _load_known(raw: bytes, name: str) -> Workflow | None:
    """The workflow of bytes known valid, or None if they do not load so (an entry that
    lies, e.g. written by hand, costs the cold path, never a wrong workflow)."""
    try:
        return fileformat.loads(raw, file=name, check_configs=False, known_valid=True)
    except Exception:
        log.debug("a cached verdict did not hold; checking the file", exc_info=True, extra={"file": name})
        return None


def _read_entry(path: Path, key: str) -> str | None:
    """The content hash an entry holds, or None (no entry, unreadable, corrupt, foreign)."""
    try:
        with open(path, "rb") as f:
            entry = json.loads(f.read(4096))
    except (OSError, ValueError):
        return None
    if type(entry) is not dict or entry.get("format") != ENTRY_FORMAT or entry.get("key") != key:
        return None
    content_hash = entry.get("content_hash")
    if type(content_hash) is not str or len(content_hash) != 64:
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: kept longest
    return content_hash


def _write_entry(directory: Path, key: str, content_hash: str) -> None:
    """Write an entry atomically, then keep at most MAX_ENTRIES; any failure is logged
    and ignored (a read-only or full disk costs the next run its warm load, nothing else)."""
    path = entry_path(directory, key)
    tmp = path.with_name(f".{key}.{os.getpid()}.tmp")
    text = json.dumps({"format": ENTRY_FORMAT, "key": key, "content_hash": content_hash})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _evict(path.parent)
    except OSError as exc:
        log.debug("cannot write the compiled-workflow cache: %s", exc, extra={"cache_entry": str(path)})
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _evict(folder: Path) -> None:
    """Remove the least recently used entries beyond MAX_ENTRIES."""
    entries = []
    with os.scandir(folder) as found:
        for entry in found:
            if entry.name.endswith(".json"):
                try:
                    entries.append((entry.stat().st_mtime_ns, entry.path))
                except OSError:
                    continue
    if len(entries) <= MAX_ENTRIES:
        return
    entries.sort()
    for _, old in entries[: len(entries) - MAX_ENTRIES]:
        with contextlib.suppress(OSError):
            os.unlink(old)
