"""The one comparison of a table's existing columns with the columns its spec wants."""

from lakehouse.zones.schema_diff import schema_diff


def test_schema_diff_names_added_removed_and_retyped_columns_in_order():
    diff = schema_diff({"id": "bigint", "old": "string", "amount": "decimal(18,2)"},
                       {"id": "bigint", "amount": "decimal(20,2)", "new_b": "string", "new_a": "date"})
    assert diff.added == ["new_b", "new_a"]
    assert diff.removed == ["old"]
    assert diff.retyped == {"amount": ("decimal(18,2)", "decimal(20,2)")}
    assert diff.incompatible


def test_schema_diff_of_added_columns_only_is_compatible():
    diff = schema_diff({"id": "bigint"}, {"id": "bigint", "name": "string"})
    assert diff.added == ["name"] and not diff.removed and not diff.retyped
    assert not diff.incompatible
    assert not schema_diff({"id": "bigint"}, {"id": "bigint"}).incompatible
