"""A config validated through its schema validator's `validate_python` (the plan's shortcut)
gives what the model's `model_validate` gives: the same model, or the same error."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from engine.nodes.registry import all_specs
from engine.runtime.plan import validator

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)


def _outcome(validate: Any, raw: Any) -> tuple[str, Any]:
    try:
        return "model", validate(raw)
    except ValidationError as exc:
        return "error", exc.errors(include_url=False, include_context=False)


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_every_node_types_config_validates_as_model_validate_does(data: st.DataObject) -> None:
    for spec in all_specs():
        model = spec.config_model
        fields = list(model.model_fields)
        keys = st.sampled_from(fields) if fields else st.text(max_size=4)
        raw = data.draw(st.dictionaries(keys | st.text(max_size=4), json_values, max_size=4), label=spec.type)
        assert _outcome(validator(model), raw) == _outcome(model.model_validate, raw), spec.type


def test_a_model_with_its_own_model_validate_keeps_it() -> None:
    class Own(BaseModel):
        x: int = 0

        @classmethod
        def model_validate(cls, obj: Any, **kw: Any) -> Any:  # type: ignore[override]
            return super().model_validate({"x": obj["x"] + 1})

    assert validator(Own)({"x": 1}) == Own(x=2)
