"""Autosave to a recovery file while a document has unsaved changes.

Every `interval_s` seconds a dirty document is written to
`<data dir>/recovery/<session>.pe.json` with a small `<session>.meta.json`
naming the original file. Saving or closing cleanly deletes both; after a
crash the next start finds them and offers to recover.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from PySide6.QtCore import QObject, QTimer

from app.document.document import WorkflowDocument
from app.paths import recovery_dir
from engine import fileformat
from engine.model import new_id

log = logging.getLogger(__name__)
DEFAULT_INTERVAL_S = 30.0


@dataclass(frozen=True)
class Recovery:
    file: Path  # the autosaved workflow
    meta: Path
    original: str | None  # the file the user was editing (None: never saved)
    saved_at: str
    name: str


class Autosaver(QObject):
    def __init__(self, interval_s: float = DEFAULT_INTERVAL_S, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document: WorkflowDocument | None = None
        self.session = new_id()
        self.timer = QTimer(self)
        self.timer.setInterval(round(interval_s * 1000))
        self.timer.timeout.connect(self.autosave)
        self.timer.start()

    @property
    def file(self) -> Path:
        return recovery_dir() / f"{self.session}.pe.json"

    @property
    def meta(self) -> Path:
        return recovery_dir() / f"{self.session}.meta.json"

    def set_document(self, document: WorkflowDocument) -> None:
        self.discard()
        self.document = document
        document.dirty_changed.connect(self._dirty_changed)

    def _dirty_changed(self, dirty: bool) -> None:
        if not dirty:
            self.discard()

    def autosave(self) -> Path | None:
        """Write the recovery file now if the document has unsaved changes."""
        doc = self.document
        if doc is None or not doc.is_dirty:
            return None
        try:
            fileformat.save(doc.workflow, self.file)
            meta = {
                "original": str(doc.path) if doc.path else None,
                "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017
                "name": doc.display_name,
                "pid": os.getpid(),
            }
            tmp = self.meta.with_suffix(".tmp")
            tmp.write_text(json.dumps(meta), encoding="utf-8")
            os.replace(tmp, self.meta)
        except OSError as exc:  # a full disk must not break editing
            log.warning("autosave to %s failed: %s", self.file, exc)
            return None
        log.debug("autosaved %s", self.file)
        return self.file

    def discard(self) -> None:
        for p in (self.file, self.meta):
            p.unlink(missing_ok=True)


def _alive(pid: object) -> bool:
    """True if `pid` is a running process other than us (POSIX only: on Windows
    os.kill would terminate it, so there we assume it is gone)."""
    if not isinstance(pid, int) or pid == os.getpid() or os.name != "posix":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pending_recoveries() -> list[Recovery]:
    """Recovery files left by sessions that are gone, newest first."""
    out = []
    for meta in recovery_dir().glob("*.meta.json"):
        file = meta.with_name(meta.name.replace(".meta.json", ".pe.json"))
        if not file.exists():
            meta.unlink(missing_ok=True)
            continue
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        if _alive(data.get("pid")):
            continue  # another window is still editing it
        out.append(Recovery(file, meta, data.get("original"), str(data.get("saved_at", "")), str(data.get("name", file.stem))))
    out.sort(key=lambda r: r.saved_at, reverse=True)
    return out


def discard_recovery(rec: Recovery) -> None:
    rec.file.unlink(missing_ok=True)
    rec.meta.unlink(missing_ok=True)
