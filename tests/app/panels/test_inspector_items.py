"""Per-item fields (filter condition, sort key, ...) preview with `item` = the first item."""

from __future__ import annotations

from tests.demo import EXAMPLES


def test_filter_condition_previews_on_the_first_input_item(window):
    assert window.open_path(EXAMPLES / "orders_report.pe.json")
    window.inspector.samples["paid"] = [{"id": "A-1", "status": "paid"}, {"id": "A-2", "status": "refunded"}]
    window.scene.select_nodes(["paid"])
    field = window.inspector.node_form.rows["condition"].editor.field
    assert field.preview.error is None and field.preview.text() == "= true"


def test_items_expression_picks_the_list_and_other_nodes_have_no_item(window):
    assert window.open_path(EXAMPLES / "low_stock_sql.pe.json")
    window.inspector.samples["urgent"] = {"rows": [{"sku": "S-400", "qty": 0}], "row_count": 1}
    window.scene.select_nodes(["urgent"])
    names = window.inspector.sample_names()
    assert (names["item"], names["index"]) == ({"sku": "S-400", "qty": 0}, 0)
    window.scene.select_nodes(["query"])
    assert "item" not in window.inspector.sample_names()
