"""A separate process that runs (or resumes) one workflow through ExecutionService.

Used by the durability tests, which kill it with SIGKILL or pause/cancel it
from the test process through the database::

    python -m tests.engine.store.child URL WORKSPACE run WORKFLOW_FILE
    python -m tests.engine.store.child URL WORKSPACE resume EXECUTION_ID

Prints `EXEC <id>` as soon as the execution exists, then `STATUS <status>`;
exits like the CLI: 0 completed, 1 failed, 3 cancelled, 4 paused.
"""

from __future__ import annotations

import asyncio
import sys

from engine import fileformat
from engine.errors import EngineError
from engine.service import ExecutionService

EXIT = {"completed": 0, "failed": 1, "cancelled": 3, "paused": 4}


async def main(url: str, workspace: str, verb: str, arg: str) -> int:
    svc = ExecutionService(url, workspace=workspace)
    try:
        return await _run(svc, verb, arg)
    except EngineError as exc:  # like the CLI: one line, exit 1
        print(f"child: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        svc.close()


async def _run(svc: ExecutionService, verb: str, arg: str) -> int:
    if verb == "run":
        handle = await svc.start(fileformat.load(arg), workflow_file=arg)
    else:
        handle = await svc.resume(arg)
    print(f"EXEC {handle.execution_id}", flush=True)
    rec = await handle.task
    print(f"STATUS {rec.status}", flush=True)
    return EXIT.get(rec.status, 1)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:5])))
