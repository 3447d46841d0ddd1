"""List settings read back the same whether QSettings stored one entry or many."""

from __future__ import annotations

from app import settings


def test_string_list_reads_each_shape_a_list_setting_comes_back_in():
    assert settings.string_list(None) == []
    assert settings.string_list("") == []
    assert settings.string_list([]) == []
    assert settings.string_list("/a.pe.json") == ["/a.pe.json"]  # an INI file's one-element list
    assert settings.string_list(["/a", "/b"]) == ["/a", "/b"]
    assert settings.string_list(("/a", 2)) == ["/a", "2"]


def test_recent_files_survive_a_round_trip_through_the_ini_file(tmp_path):
    one = tmp_path / "one.pe.json"
    assert settings.add_recent(one) == [str(one.resolve())]
    assert settings.recent_files() == [str(one.resolve())]
    two = tmp_path / "two.pe.json"
    settings.add_recent(two)
    assert settings.recent_files() == [str(two.resolve()), str(one.resolve())]
