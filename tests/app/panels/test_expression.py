"""Expression helpers: where completion applies, what it offers, how previews read."""

from __future__ import annotations

from app.panels.inspector.expression import (
    ExpressionField,
    completion_words,
    expression_context,
    preview_text,
)


def test_expression_context():
    assert expression_context("{{ inp", 6)
    assert not expression_context("{{ a }} b", 9)
    assert not expression_context("plain", 3)


def test_completion_words():
    words = completion_words({"base_url": 1, "bad key": 2}, ["Get items"], {"body": 1})
    assert "vars.base_url" in words and "vars.bad key" not in words
    assert 'nodes["Get items"]' in words and "input.body" in words and "len" in words


def test_preview_text():
    assert preview_text("x") == '"x"'
    assert preview_text({"a": [1]}) == '{"a": [1]}'
    assert preview_text("y" * 1000).endswith("…")


def test_field_preview_uses_the_names(qtbot):
    field = ExpressionField(lambda: {"input": {"n": 2}, "vars": {}, "nodes": {}, "execution": {}})
    qtbot.addWidget(field)
    field.edit.setPlainText("{{ input.n * 21 }}")
    assert field.preview.text() == "= 42" and field.preview.error is None
    field.edit.setPlainText("{{ input.n.x }}")
    assert field.preview.error
    field.edit.setPlainText("no braces")
    assert field.preview.isHidden()
