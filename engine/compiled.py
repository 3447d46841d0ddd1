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
- Compact form: `<key>.wf` beside the entry, the workflow the file built as `marshal`
  data (`_compact`), so a warm load builds the same objects without decoding the JSON
  text again: on a 20,000-node file, under half the load's time and 10,000 fewer fresh
  memory pages (equal texts - a node's id in its connections, a port's name - are one
  object). The entry stays hashes only. Anyone who could write the folder could write a
  form that runs what the file does not say, so a form is used only when it and its
  folder are this user's and writable by nobody else (as ssh asks of its own files):
  whoever can write there can write the user's workflow files too. Its sha256 is
  checked first (a torn or corrupt form is no form); a form missing, not to be trusted
  or unreadable sends the load to the file's bytes, never to an error. Expressions are
  not kept: each is still parsed and statically checked from its text when it is first
  rendered.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import marshal
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from engine import fileformat
from engine.errors import Problem, WorkflowInvalid
from engine.model import Connection, Node, Note, Workflow

__all__ = [
    "CACHE_ENV",
    "ENTRY_FORMAT",
    "MAX_ENTRIES",
    "Loaded",
    "cache_dir",
    "compact_path",
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
    h = _keyed()
    h.update(raw)
    return h.hexdigest()


KEY_PIECE = 256 * 1024  # bytes of the file read at a time for its key (`_key_of_file`)


def _key_of_file(path: str) -> str:
    """`key_of` the file's bytes, read a piece at a time: a warm load from the compact
    form never holds the whole file (7 MB of fresh memory for a 20,000-node file)."""
    h = _keyed()
    piece = bytearray(KEY_PIECE)
    view = memoryview(piece)
    with open(path, "rb") as f:
        while n := f.readinto(piece):
            h.update(view[:n])
    return h.hexdigest()


def _keyed() -> hashlib._Hash:
    """A sha256 that has taken in what a key holds besides the file's bytes."""
    registry = sys.modules.get("engine.nodes.registry")
    types = registry.fingerprint() if registry is not None else ""
    return hashlib.sha256(f"{engine_fingerprint()}\n{types}\n".encode("utf-8", "surrogateescape"))


def entry_path(directory: Path, key: str) -> Path:
    return directory / "compiled" / f"{key}.json"


def compact_path(directory: Path, key: str) -> Path:
    """The compact form of the workflow an entry's file builds (`_compact`)."""
    return directory / "compiled" / f"{key}.wf"


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
    directory = cache_dir() if use_cache else None
    kept = _kept(path, name, directory) if directory is not None and not warnings else None
    if kept is not None:
        if timings is not None:
            timings.update(load=clock() - started, validate=0.0, cache=0.0)
        return kept
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise WorkflowInvalid([Problem(f"cannot read file: {exc.strerror or exc}", file=name)], name) from None
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
        _write_entry(directory, key, loaded.content_hash, _compact(wf))
    if timings is not None:
        timings.update(load=loaded_at - started, validate=validated_at - loaded_at, cache=clock() - validated_at)
    return loaded


def _kept(path: str, name: str, directory: Path) -> Loaded | None:
    """The warm load from an entry's compact form, or None (no entry or no usable form:
    `load` reads the whole file then, and finds the entry again by those bytes)."""
    try:
        key = _key_of_file(path)
    except OSError:  # the file (said by the whole read), or the engine's files
        return None
    content_hash = _read_entry(entry_path(directory, key), key)
    wf = None if content_hash is None else _load_compact(compact_path(directory, key), name)
    if wf is None:
        return None
    log.debug("%s: found valid before, built from its compact form", name, extra={"file": name, "cache_key": key})
    return Loaded(workflow=wf, warnings=None, content_hash=content_hash, warm=True)


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


COMPACT_FORMAT = b"processengine-compact/1\n"  # then the sha256 of the rest, then `marshal` data
_DIGEST = hashlib.sha256().digest_size
_NODE_FIELDS = tuple(f.name for f in dataclasses.fields(Node))  # Node's positional order
_NOTE_FIELDS = tuple(f.name for f in dataclasses.fields(Note))


def _compact(wf: Workflow) -> bytes | None:
    """The workflow's own objects as `marshal` data (nodes and notes as tuples in their
    fields' order), after a header and the data's sha256; None if a value is not one
    marshal keeps (a file's values always are). Equal texts are made one object first,
    and marshal keeps shared objects shared: a warm load holds a node's id once for the
    node, its name and the connections' ends, and a port's name once."""
    same: dict[str, str] = {}
    one = same.setdefault

    def shared(values: Iterable[Any]) -> tuple[Any, ...]:
        return tuple(one(v, v) if type(v) is str else v for v in values)

    nodes = [shared(getattr(node, f) for f in _NODE_FIELDS) for node in wf.nodes]
    notes = [tuple(getattr(note, f) for f in _NOTE_FIELDS) for note in wf.notes]
    data = (wf.id, wf.name, wf.variables, wf.max_node_visits, wf.concurrency, notes, nodes, [shared(c) for c in wf.connections])
    try:
        blob = marshal.dumps(data, 4)
    except ValueError:
        return None
    return COMPACT_FORMAT + hashlib.sha256(blob).digest() + blob


def _load_compact(path: Path, name: str) -> Workflow | None:
    """The workflow of a compact form, or None: none there, or not to be trusted (not
    this user's, or its folder or itself writable by others), or not intact. Then the
    file is decoded as before; a compact form is never a reason to fail a load."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as f:
            if not (_own(os.fstat(f.fileno())) and _own(os.stat(path.parent))):
                log.debug("a compact form not this user's alone: ignored", extra={"file": name, "cache_entry": str(path)})
                return None
            data = memoryview(f.read())
    except OSError:
        return None
    start = len(COMPACT_FORMAT) + _DIGEST
    if data[: len(COMPACT_FORMAT)] != COMPACT_FORMAT or hashlib.sha256(data[start:]).digest() != data[start - _DIGEST : start]:
        return None
    try:
        return _from_compact(marshal.loads(data[start:]))
    except Exception:  # written by another build of this engine's format: the file decides
        log.debug("an unreadable compact form: ignored", exc_info=True, extra={"file": name, "cache_entry": str(path)})
        return None


def _own(st: os.stat_result) -> bool:
    """Whether a file (or folder) is this user's and writable by nobody else (as ssh asks
    of its own files): only then is what it holds taken as this engine wrote it."""
    geteuid = getattr(os, "geteuid", None)
    return geteuid is not None and st.st_uid == geteuid() and not st.st_mode & 0o022


def _from_compact(data: Any) -> Workflow:
    """The workflow `_compact` wrote (the same objects `fileformat.loads` builds)."""
    wid, name, variables, max_visits, concurrency, notes, nodes, connections = data
    new = tuple.__new__
    wf = Workflow(
        id=wid,
        name=name,
        variables=variables,
        nodes=[],
        connections=[new(Connection, c) for c in connections],
        notes=[Note(*n) for n in notes],
        max_node_visits=max_visits,
    )
    wf.concurrency = concurrency
    built = [Node(*n) for n in nodes]
    wf._nodes, wf._by_id = built, {n.id: n for n in built}
    return wf


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


def _write_entry(directory: Path, key: str, content_hash: str, compact: bytes | None = None) -> None:
    """Write an entry (and the workflow's compact form first) atomically, then keep at
    most MAX_ENTRIES; any failure is logged and ignored (a read-only or full disk costs
    the next run its warm load, nothing else)."""
    path = entry_path(directory, key)
    text = json.dumps({"format": ENTRY_FORMAT, "key": key, "content_hash": content_hash})
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if compact is not None:
            _write_atomically(compact_path(directory, key), compact)
        _write_atomically(path, text.encode())
        _evict(path.parent)
    except OSError as exc:
        log.debug("cannot write the compiled-workflow cache: %s", exc, extra={"cache_entry": str(path)})


def _write_atomically(path: Path, data: bytes) -> None:
    """`data` as the file `path` (0600), through a temporary file and `os.replace`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


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
        for gone in (old, old[: -len(".json")] + ".wf"):
            with contextlib.suppress(OSError):
                os.unlink(gone)
