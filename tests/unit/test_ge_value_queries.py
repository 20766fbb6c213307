"""The GE adapter skips the query for unexpected values when none is asked for."""

from __future__ import annotations

from lakehouse.quality import ge_adapter


def _kwargs(result_format: str, count: int) -> dict:
    return {"metric_value_kwargs": {"result_format": {"result_format": result_format,
                                                      "partial_unexpected_count": count}}}


def test_no_values_asked_means_no_query():
    calls = []
    values = ge_adapter._no_query_for_no_values(lambda **kwargs: calls.append(kwargs) or ["x"])
    assert values(**_kwargs("BASIC", 0)) == [] and calls == []
    assert values(**_kwargs("BASIC", 3)) == ["x"]
    assert values(**_kwargs("COMPLETE", 0)) == ["x"]
    assert len(calls) == 2


def test_every_spark_unexpected_values_provider_is_wrapped_once():
    from great_expectations.expectations.registry import _registered_metrics

    ge_adapter._skip_empty_value_queries()
    ge_adapter._skip_empty_value_queries()
    spark = "SparkDFExecutionEngine"
    providers = [d["providers"][spark][1] for name, d in _registered_metrics.items()
                 if name.endswith(".unexpected_values") and d.get("providers", {}).get(spark)
                 and d["providers"][spark][1] is not None]
    assert providers and all(hasattr(p, "lakehouse_wrapped") for p in providers)
    assert not any(hasattr(p.lakehouse_wrapped, "lakehouse_wrapped") for p in providers)
    assert "column_values.lakehouse_satisfy_sql.unexpected_values" in _registered_metrics
