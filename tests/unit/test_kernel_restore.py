"""The one rule for undoing a recorded change (merge undo, import revert)."""

from crm.kernel import restore


def test_only_fields_still_holding_what_the_change_wrote_go_back():
    before = {"title": None, "city": "Oslo", "notes": "x"}
    written = {"title": "CEO", "city": "Bergen"}
    current = {"title": "Chief", "city": "Bergen", "notes": "edited"}
    result = restore.undo(before, written, current)
    assert result.values == {"city": "Oslo"}
    assert result.kept == ["title"]


def test_a_field_already_back_is_neither_restored_nor_kept():
    result = restore.undo({"title": None}, {"title": "CEO"}, {"title": None})
    assert result.values == {} and result.kept == []


def test_written_and_added():
    assert restore.written({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}) == {"b": 3, "c": 4}
    assert restore.written({"a": 1}, {}) == {"a": None}
    assert restore.added([1, 2], [2, 5, 3]) == [3, 5]
