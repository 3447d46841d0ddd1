"""The saved version of the workflow a run starts from, encoded across event-loop turns.

Every run saves its workflow's canonical document (compact JSON, keys sorted) and its
content hash (`engine.fileformat.canonical`). Left to the engine, that is one `json.dumps`
of the whole document on the engine thread: 27-44 ms of a 5,000-node workflow in a single
C call that holds the interpreter lock, so the GUI thread could not run any Python
meanwhile. `canonical_in_slices` writes the same text a few milliseconds at a time on the
GUI thread, a hundred nodes at a time (a JSON list is its items joined by commas, an
object its sorted members), with the event loop's turns between; the run is then started with the hash and
the text (`ExecutionService.start(content_hash=..., document=...)`), and the engine saves
them as they are. The run's workflow is its own copy (`run_copy`): nothing edits it meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

from engine import fileformat
from engine.model import Workflow

SLICE_S = 0.003  # encoding per event-loop turn: this long at most
SMALL = 500  # workflows up to this many nodes are encoded at once (a few milliseconds)
CHUNK = 100  # list items encoded in one call (about 0.6 ms for 100 `set` nodes)


def _pieces(doc: dict[str, Any], chunk: int) -> Iterator[str]:
    """The canonical text of `doc` in pieces: its long lists `chunk` items at a time (a
    list's text is its items' joined by commas inside brackets)."""
    yield "{"
    for i, key in enumerate(sorted(doc)):
        value = doc[key]
        yield ("," if i else "") + fileformat.canonical_json(key) + ":"
        if isinstance(value, list) and len(value) > chunk:
            yield "["
            for k in range(0, len(value), chunk):
                yield ("," if k else "") + fileformat.canonical_json(value[k : k + chunk])[1:-1]
            yield "]"
        else:
            yield fileformat.canonical_json(value)
    yield "}"


async def canonical_in_slices(workflow: Workflow, slice_s: float = SLICE_S, small: int = SMALL, chunk: int = CHUNK) -> tuple[str, str]:
    """`fileformat.canonical(workflow)`: (the document, its sha256), written `slice_s` at a time."""
    if len(workflow.nodes) <= small:
        return fileformat.canonical(workflow)
    doc = fileformat.to_dict(workflow)
    await asyncio.sleep(0)
    out: list[str] = []
    deadline = time.perf_counter() + slice_s
    for piece in _pieces(doc, chunk):
        out.append(piece)
        if time.perf_counter() > deadline:
            await asyncio.sleep(0)
            deadline = time.perf_counter() + slice_s
    text = "".join(out)
    return text, fileformat.content_hash(text)
