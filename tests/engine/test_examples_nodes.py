"""The offline examples that use the data, file and SQL nodes, run by `processengine run`
in a real subprocess on a copy of app/resources/examples (they write next to themselves)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.demo import EXAMPLES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    copy = tmp_path / "examples"
    shutil.copytree(EXAMPLES, copy)
    return copy


def run(path: Path, tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PROCESSENGINE_FILE_ROOTS"}
    env["PROCESSENGINE_DB"] = str(tmp_path / "pe.db")
    out = subprocess.run([sys.executable, "-m", "engine.cli", "run", str(path), "--json"], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def test_orders_report(examples: Path, tmp_path: Path) -> None:
    result = run(examples / "orders_report.pe.json", tmp_path)
    top = [
        {"country": "DE", "orders": 2, "revenue": 430.5, "order_ids": ["A-1001", "A-1003"]},
        {"country": "FR", "orders": 2, "revenue": 245.65, "order_ids": ["A-1005", "A-1008"]},
        {"country": "IT", "orders": 1, "revenue": 88.1, "order_ids": ["A-1007"]},
    ]
    assert result["outputs"]["top"] == top
    assert len(result["outputs"]["dedupe"]) == 8  # A-1003 was listed twice
    report = examples / "out" / "top_countries.json"
    assert json.loads(report.read_text()) == top
    assert result["outputs"]["save"] == {"path": str(report), "size": report.stat().st_size}
    assert (examples / "out" / "not_paid.csv").read_text() == (
        "id,customer,country,total,status\n"
        "A-1002,bob@example.org,FR,42.00,refunded\n"
        "A-1004,cem@example.org,TR,99.99,pending\n"
        "A-1006,dana@example.org,DE,,cancelled\n"
    )
    assert result["status"] == "completed" and result["progress"]["skipped"] == 0


def test_low_stock_sql(examples: Path, tmp_path: Path) -> None:
    result = run(examples / "low_stock_sql.pe.json", tmp_path)
    assert result["outputs"]["query"]["row_count"] == 3
    assert result["outputs"]["done"] == [
        {"group": "Lyon", "skus": ["S-400", "W-300"], "units": 9},
        {"group": "Berlin", "skus": ["B-100"], "units": 4},
    ]
