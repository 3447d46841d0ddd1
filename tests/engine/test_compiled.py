"""The compiled-workflow cache: a warm load gives what the checked load gives, and
anything that could change a file's verdict sends it through the checks again.

In-process tests look at `compiled.load` (warm or cold); CLI tests run real
subprocesses against a cache folder of their own and compare with the cache turned off.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine import compiled, fileformat
from engine.errors import WorkflowInvalid
from engine.nodes import registry
from engine.nodes.base import NodeConfig, NodeSpec
from engine.store.store import workflow_document
from tests.engine.runtime.helpers import workflow
from tests.perf.bench_cli import chain_file

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(compiled.CACHE_ENV, str(folder))
    return folder


def _entries(folder: Path) -> list[Path]:
    return sorted((folder / "compiled").glob("*.json")) if (folder / "compiled").exists() else []


def _chain(tmp_path: Path, n: int = 5) -> Path:
    return chain_file(tmp_path, n)


def _with_unreachable(tmp_path: Path) -> Path:
    wf = workflow(
        [{"id": "start", "type": "manual_trigger"}, {"id": "a", "type": "set", "config": {"values": {"x": "{{ 1 + 1 }}"}}},
         {"id": "lost", "type": "no_op"}],
        [("start", "out", "a")],
    )  # fmt: skip
    path = tmp_path / "unreachable.pe.json"
    fileformat.save(wf, path)
    return path


# --------------------------------------------------------------------------- in process


def test_a_second_load_is_warm_and_gives_the_same_workflow(tmp_path: Path, cache: Path) -> None:
    path = _chain(tmp_path)
    cold = compiled.load(str(path))
    warm = compiled.load(str(path))
    assert (cold.warm, warm.warm) == (False, True)
    assert warm.workflow == cold.workflow == fileformat.load(path)
    assert warm.content_hash == cold.content_hash == workflow_document(cold.workflow)[1]
    assert cold.document == workflow_document(cold.workflow)[0] and warm.document is None
    assert len(_entries(cache)) == 1


def test_an_entry_holds_hashes_only(tmp_path: Path, cache: Path) -> None:
    path = _chain(tmp_path)
    compiled.load(str(path))
    (entry,) = _entries(cache)
    data = json.loads(entry.read_text())
    assert set(data) == {"format", "key", "content_hash"}
    assert entry.name == f"{data['key']}.json"
    assert "n1" not in entry.read_text() and "vars" not in entry.read_text()


def test_an_edited_byte_is_checked_again(tmp_path: Path, cache: Path) -> None:
    path = _chain(tmp_path)
    compiled.load(str(path))
    path.write_bytes(path.read_bytes().replace(b'"to": "n2"', b'"to": "n9"', 1))
    with pytest.raises(WorkflowInvalid) as warm_error:
        compiled.load(str(path))
    with pytest.raises(WorkflowInvalid) as unkept:
        compiled.load(str(path), use_cache=False)
    assert str(warm_error.value) == str(unkept.value)
    assert [p.to_json() for p in warm_error.value.problems] == [p.to_json() for p in unkept.value.problems]
    assert len(_entries(cache)) == 1  # the invalid bytes got none


def test_an_invalid_file_never_gets_an_entry(tmp_path: Path, cache: Path) -> None:
    path = tmp_path / "bad.pe.json"
    path.write_text(json.dumps({"format": "processengine/1", "id": "w", "nodes": [{"id": "a", "type": "set", "name": "a"}]}))
    for _ in range(2):
        with pytest.raises(WorkflowInvalid):
            compiled.load(str(path))
    assert _entries(cache) == []


def test_another_engine_fingerprint_misses(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _chain(tmp_path)
    compiled.load(str(path))
    monkeypatch.setattr(compiled, "engine_fingerprint", lambda: "an edited engine")
    assert compiled.load(str(path)).warm is False
    assert compiled.load(str(path)).warm is True
    assert len(_entries(cache)) == 2


def test_the_engine_fingerprint_follows_its_files(tmp_path: Path) -> None:
    """An edit of the same size is seen (times), and so is a new file."""
    (tmp_path / "a.py").write_text("x = 1\n")
    before = compiled._files_of(tmp_path)
    stat = os.stat(tmp_path / "a.py")
    (tmp_path / "a.py").write_text("x = 2\n")
    os.utime(tmp_path / "a.py", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    edited = compiled._files_of(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.py").write_text("")
    assert len({tuple(before), tuple(edited), tuple(compiled._files_of(tmp_path))}) == 3
    assert compiled.engine_fingerprint() == compiled.engine_fingerprint()


class _PluginConfig(NodeConfig):
    pass


class _PluginSpec(NodeSpec):
    type = "test_compiled_plugin"
    config_model = _PluginConfig


def test_a_registered_node_type_misses(tmp_path: Path, cache: Path) -> None:
    path = _chain(tmp_path)
    compiled.load(str(path))
    before = registry.fingerprint()
    registry.register(_PluginSpec())
    try:
        assert registry.fingerprint() != before
        assert compiled.load(str(path)).warm is False
    finally:
        registry._REGISTRY.pop(_PluginSpec.type, None)
    assert registry.fingerprint() == before
    assert compiled.load(str(path)).warm is True


def test_the_registry_fingerprint_does_not_depend_on_what_is_imported() -> None:
    before = registry.fingerprint()
    registry.all_specs()  # imports every built-in node type
    assert registry.fingerprint() == before


@pytest.mark.parametrize(
    "content",
    [b"", b"garbage{", b"[]", b'{"format": "processengine-compiled/1", "key": "another", "content_hash": "' + b"0" * 64 + b'"}',
     b'{"format": "processengine-compiled/0", "key": "KEY", "content_hash": "' + b"0" * 64 + b'"}',
     b'{"format": "processengine-compiled/1", "key": "KEY", "content_hash": 7}'],
    ids=["empty", "corrupt", "not-an-object", "foreign-key", "other-format", "bad-hash"],
)  # fmt: skip
def test_an_unusable_entry_is_ignored_and_replaced(tmp_path: Path, cache: Path, content: bytes) -> None:
    path = _chain(tmp_path)
    compiled.load(str(path))
    (entry,) = _entries(cache)
    entry.write_bytes(content.replace(b"KEY", entry.stem.encode()))
    again = compiled.load(str(path))
    assert again.warm is False and again.workflow == fileformat.load(path)
    assert compiled.load(str(path)).warm is True


def test_an_entry_whose_verdict_does_not_hold_costs_the_checks(tmp_path: Path, cache: Path) -> None:
    """An entry for bytes that do not load as known valid (put there by hand) is not trusted."""
    path = tmp_path / "bad.pe.json"
    path.write_text('{"format": "processengine/1", "id": "w", "nodes": [7]}')
    key = compiled.key_of(path.read_bytes())
    entry = compiled.entry_path(cache, key)
    entry.parent.mkdir(parents=True)
    entry.write_text(json.dumps({"format": compiled.ENTRY_FORMAT, "key": key, "content_hash": "0" * 64}))
    with pytest.raises(WorkflowInvalid) as exc:
        compiled.load(str(path))
    with pytest.raises(WorkflowInvalid) as unkept:
        compiled.load(str(path), use_cache=False)
    assert str(exc.value) == str(unkept.value)


def test_a_forged_entry_for_a_file_with_duplicate_ids_costs_the_checks(tmp_path: Path, cache: Path) -> None:
    """A warm load finds the nodes' index shorter than the list (its only duplicate check):
    the file is checked and reported as without the cache, never run with one node hidden."""
    path = tmp_path / "twice.pe.json"
    nodes = [{"id": "start", "type": "manual_trigger", "name": "start", "position": [0, 0], "config": {}},
             {"id": "a", "type": "no_op", "name": "a", "position": [0, 0], "config": {}},
             {"id": "a", "type": "no_op", "name": "b", "position": [0, 0], "config": {}}]  # fmt: skip
    path.write_text(json.dumps({"format": "processengine/1", "id": "w", "nodes": nodes, "connections": []}))
    key = compiled.key_of(path.read_bytes())
    entry = compiled.entry_path(cache, key)
    entry.parent.mkdir(parents=True)
    entry.write_text(json.dumps({"format": compiled.ENTRY_FORMAT, "key": key, "content_hash": "0" * 64}))
    with pytest.raises(WorkflowInvalid, match="duplicate node id"):
        fileformat.loads(path.read_bytes(), check_configs=False, known_valid=True)
    with pytest.raises(WorkflowInvalid) as exc:
        compiled.load(str(path))
    with pytest.raises(WorkflowInvalid) as unkept:
        compiled.load(str(path), use_cache=False)
    assert str(exc.value) == str(unkept.value) and "duplicate node id" in str(exc.value)


def test_an_unwritable_cache_folder_is_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(compiled.CACHE_ENV, str(blocker / "cache"))
    path = _chain(tmp_path)
    first, second = compiled.load(str(path)), compiled.load(str(path))
    assert (first.warm, second.warm) == (False, False)
    assert second.workflow == fileformat.load(path)
    assert list(tmp_path.glob("**/*.tmp")) == []


def test_an_empty_variable_turns_the_cache_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(compiled.CACHE_ENV, "")
    monkeypatch.chdir(tmp_path)
    path = _chain(tmp_path)
    assert compiled.cache_dir() is None
    assert [compiled.load(str(path)).warm for _ in range(2)] == [False, False]
    assert compiled.load(str(path)).content_hash is None  # left to the store, as without a cache


def test_the_least_recently_used_entries_go_first(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiled, "MAX_ENTRIES", 3)
    paths = [_chain(tmp_path, n) for n in range(1, 5)]
    entries = [compiled.entry_path(cache, compiled.key_of(p.read_bytes())) for p in paths]
    past = entries[0].stat().st_mtime_ns if entries[0].exists() else 0
    for i, path in enumerate(paths[:3]):
        compiled.load(str(path))
        os.utime(entries[i], ns=(past, past + i))  # an order whatever the clock's resolution
    assert compiled.load(str(paths[0])).warm is True  # used: now the newest
    compiled.load(str(paths[3]))
    assert [e.exists() for e in entries] == [True, False, True, True]
    assert compiled.load(str(paths[1])).warm is False


def test_validate_still_finds_the_warnings_of_a_kept_file(tmp_path: Path, cache: Path) -> None:
    path = _with_unreachable(tmp_path)
    compiled.load(str(path))
    assert compiled.load(str(path)).warnings is None  # warm: not looked for
    checked = compiled.load(str(path), warnings=True)
    assert [p.to_json() for p in checked.warnings or []] == [
        {"node_id": "lost", "field": None, "message": "unreachable: no path from a trigger (the run skips it)", "severity": "warning"}
    ]


# --------------------------------------------------------------------------- the CLI


def _pe(*args: str, cache: Path | str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PROCESSENGINE_DB": str(db), compiled.CACHE_ENV: str(cache)}
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)


def _stable(doc: dict[str, Any]) -> dict[str, Any]:
    """A run's `--json` without what differs between two runs (ids, times)."""
    out = {k: v for k, v in doc.items() if k not in ("execution_id", "timing")}
    out["attempts"] = {
        node: [{k: v for k, v in a.items() if k not in ("started_at", "duration_ms")} for a in tries]
        for node, tries in doc["attempts"].items()
    }
    return out


def _versions(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT w.content_hash, w.document, w.workflow_id, w.name FROM executions e JOIN workflows w ON w.id = e.workflow_version ORDER BY e.created_at"
        ).fetchall()


def test_a_warm_run_gives_what_a_cold_run_gives(tmp_path: Path) -> None:
    path, cache = _chain(tmp_path, 30), tmp_path / "cache"
    cold = _pe("run", str(path), "--json", cache=cache, db=tmp_path / "a.db")
    assert _entries(cache), cold.stderr
    warm_same_db = _pe("run", str(path), "--json", cache=cache, db=tmp_path / "a.db")
    warm_new_db = _pe("run", str(path), "--json", cache=cache, db=tmp_path / "b.db")
    off = _pe("run", str(path), "--json", cache="", db=tmp_path / "c.db")
    runs = [cold, warm_same_db, warm_new_db, off]
    assert [r.returncode for r in runs] == [0] * 4, [r.stderr for r in runs]
    docs = [_stable(json.loads(r.stdout)) for r in runs]
    assert docs[0]["outputs"]["n29"] == {"i": 30, "k": 1}
    assert docs[1:] == [docs[0]] * 3
    plain = [_pe("run", str(path), cache=c, db=tmp_path / "d.db").stdout.splitlines() for c in (cache, "")]
    assert [[line for line in p[1:] if "execution" not in line] for p in plain] == [plain[1][1:-1]] * 2


def test_a_second_cli_run_loads_without_the_checks(tmp_path: Path) -> None:
    """The fingerprints agree between processes: the second run's load is warm."""
    path, cache = _chain(tmp_path, 3), tmp_path / "cache"
    said = [_pe("run", str(path), "--log-level", "DEBUG", cache=cache, db=tmp_path / "a.db").stderr for _ in range(2)]
    assert ["found valid before" in text for text in said] == [False, True], said


def test_a_warm_run_saves_the_same_workflow_version(tmp_path: Path) -> None:
    """The kept content hash finds the version saved before; in a new database the
    version is encoded and saved as it always was: the same row either way."""
    path, cache = _chain(tmp_path, 12), tmp_path / "cache"
    expected = (*workflow_document(fileformat.load(path))[::-1], "wf-test", "test")
    for db in ("a.db", "a.db", "b.db"):
        assert _pe("run", str(path), cache=cache, db=tmp_path / db).returncode == 0
    assert _versions(tmp_path / "a.db") == [expected, expected]
    assert _versions(tmp_path / "b.db") == [expected]
    with sqlite3.connect(tmp_path / "a.db") as conn:
        assert conn.execute("SELECT count(*) FROM workflows").fetchone() == (1,)


def test_an_edited_file_reports_its_problems_as_without_the_cache(tmp_path: Path) -> None:
    path, cache = _chain(tmp_path, 4), tmp_path / "cache"
    assert _pe("run", str(path), cache=cache, db=tmp_path / "a.db").returncode == 0
    path.write_bytes(path.read_bytes().replace(b"{{ 2 + 1 }}", b"{{ 2 + }}").replace(b'"to": "n3"', b'"to": "n7"'))
    for extra in ([], ["--json"]):
        warm = _pe("run", str(path), *extra, cache=cache, db=tmp_path / "a.db")
        off = _pe("run", str(path), *extra, cache="", db=tmp_path / "a.db")
        assert (warm.returncode, warm.stdout, warm.stderr) == (off.returncode, off.stdout, off.stderr) == (2, off.stdout, off.stderr)
    assert "n7" in off.stdout and "config.values.i" in off.stdout  # the --json problems


def test_validate_prints_the_warnings_of_a_kept_file(tmp_path: Path) -> None:
    path, cache = _with_unreachable(tmp_path), tmp_path / "cache"
    assert _pe("run", str(path), cache=cache, db=tmp_path / "a.db").returncode == 0
    for extra in ([], ["--json"]):
        kept = _pe("validate", str(path), *extra, cache=cache, db=tmp_path / "a.db")
        off = _pe("validate", str(path), *extra, cache="", db=tmp_path / "a.db")
        assert (kept.returncode, kept.stdout, kept.stderr) == (off.returncode, off.stdout, off.stderr)
    assert "unreachable" in off.stdout


def test_a_run_works_when_the_cache_cannot_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    path = _chain(tmp_path, 3)
    out = _pe("run", str(path), "--json", cache=blocker / "cache", db=tmp_path / "a.db")
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert json.loads(out.stdout)["status"] == "completed"
