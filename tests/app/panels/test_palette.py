"""Palette and quick-add: every node type is offered, search filters, drag carries the type."""

from __future__ import annotations

from app.canvas.view import PALETTE_MIME
from app.panels.palette import Palette
from app.panels.quick_add import QuickAddPopup
from engine.nodes.registry import all_specs


def test_every_type_is_listed_by_category(qtbot):
    palette = Palette()
    qtbot.addWidget(palette)
    # every type but the import placeholder, which only an import makes
    assert sorted(palette.visible_types()) == sorted(s.type for s in all_specs() if s.type != "unsupported")
    assert "unsupported" not in palette.visible_types()
    headers = [palette.tree.topLevelItem(i).text(0) for i in range(palette.tree.topLevelItemCount())]
    assert headers[0] == "TRIGGERS" and "NETWORK" in headers


def test_search_filters_and_enter_adds_the_best_match(qtbot):
    palette = Palette()
    qtbot.addWidget(palette)
    added: list[str] = []
    palette.add_requested.connect(added.append)
    palette.search.setText("mail")
    assert palette.visible_types() == ["send_email"]
    palette.search.setText("http")
    assert "http_request" in palette.visible_types() and "wait" not in palette.visible_types()
    palette.search.returnPressed.emit()
    assert added == ["http_request"]
    palette.search.setText("zzz-nothing")
    assert palette.visible_types() == []
    palette.search.clear()
    item = palette.item_for("loop")
    palette.tree.itemActivated.emit(item, 0)
    assert added[-1] == "loop"


def test_drag_data_names_the_type(qtbot):
    palette = Palette()
    qtbot.addWidget(palette)
    mime = palette.tree.mimeData([palette.item_for("wait")])
    assert bytes(mime.data(PALETTE_MIME).data()) == b"wait"


def test_quick_add_filters_and_chooses(qtbot):
    popup = QuickAddPopup()
    qtbot.addWidget(popup)
    chosen: list[str] = []
    popup.chosen.connect(chosen.append)
    popup.search.setText("switch")
    popup.accept_current()
    assert chosen == ["switch"]


def test_new_categories_order_and_icons(qtbot):
    from app.icons import node_icon_path
    from app.panels.node_types import CATEGORY_ORDER
    from engine.nodes.registry import get_spec

    palette = Palette()
    qtbot.addWidget(palette)
    headers = [palette.tree.topLevelItem(i).text(0) for i in range(palette.tree.topLevelItemCount())]
    present = [c.upper() for c in CATEGORY_ORDER if c.upper() in headers]
    assert headers[: len(present)] == present
    assert {"DATA", "FILES", "DATABASE"} <= set(headers)
    assert headers.index("FILES") < headers.index("DATABASE") < headers.index("NETWORK")
    data = palette.tree.topLevelItem(headers.index("DATA"))
    titles = [data.child(i).text(0) for i in range(data.childCount())]
    assert {"Filter", "Sort", "Limit", "Remove duplicates", "Aggregate"} <= set(titles)
    for t in ("filter", "sort", "limit", "remove_duplicates", "aggregate", "no_op", "read_file", "write_file", "sql_query"):
        path = node_icon_path(get_spec(t).icon, t)
        assert path.name == f"{get_spec(t).icon}.svg" and path.name != "node.svg", t
        assert not palette.item_for(t).icon(0).isNull()


def test_search_finds_the_new_nodes_by_what_they_do(qtbot):
    palette = Palette()
    qtbot.addWidget(palette)
    palette.search.setText("csv")
    assert set(palette.visible_types()) >= {"read_file", "write_file"}
    palette.search.setText("sql")
    assert palette.visible_types() == ["sql_query"]
    palette.search.setText("duplicates")
    assert palette.visible_types() == ["remove_duplicates"]


def test_quick_add_with_no_match_has_no_current_item(qtbot):
    popup = QuickAddPopup()
    qtbot.addWidget(popup)
    chosen: list[str] = []
    popup.chosen.connect(chosen.append)
    popup.search.setText("switch")
    assert popup.list.currentItem() is not None
    popup.search.setText("no node type is called this")
    assert popup.list.currentItem() is None
    popup.accept_current()
    assert chosen == []
