"""The shared demo builders (tests/demo.py) give the shipped files and one demo document."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.paths import EXAMPLES
from engine import fileformat
from tests.demo import (
    demo_document,
    demo_workflow,
    example,
    example_names,
    example_path,
    write_demo,
)


def test_the_examples_are_the_shipped_files() -> None:
    names = example_names()
    assert "hello" in names and "retry_fallback" in names and "branch_and_loop" in names
    assert example_path("hello") == EXAMPLES / "hello.pe.json"
    assert [example(name).name for name in names] == [fileformat.load(EXAMPLES / f"{name}.pe.json").name for name in names]


def test_an_unknown_example_is_named_with_the_ones_there_are() -> None:
    with pytest.raises(FileNotFoundError, match=r"no shipped example 'nope' .*hello"):
        example_path("nope")


def test_the_demo_as_a_file_reads_back_as_the_model(tmp_path: Path) -> None:
    path = write_demo(tmp_path / "demo.pe.json")
    assert fileformat.load(path) == demo_workflow()
    doc = demo_document()
    doc["name"] = "changed"
    assert demo_workflow().name == "Fetch and notify"  # a copy: the shared document is untouched
