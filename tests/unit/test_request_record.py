"""`RequestRecord.at_edge` is `dataclasses.replace` written out: it must carry every field."""

from __future__ import annotations

from dataclasses import fields, replace
from decimal import Decimal
from typing import Any

from domain.telemetry import RequestRecord


def _distinct_value(index: int, annotation: str) -> Any:
    """A value of the field's type, unlike any default and unlike every other field's."""
    kind = annotation.split(" | ")[0]
    values: dict[str, Any] = {"bool": index % 2 == 0, "int": 1000 + index, "float": 1000.5 + index,
                              "tuple[str, ...]": (f"item-{index}",), "Decimal": Decimal(index) + Decimal("0.25"),
                              "str": f"value-{index}"}
    return values[kind]


def test_at_edge_changes_the_four_edge_facts_and_keeps_every_other_field() -> None:
    values = {f.name: _distinct_value(i, str(f.type)) for i, f in enumerate(fields(RequestRecord))}
    record = RequestRecord(**values)

    completed = record.at_edge("/v1/chat/completions", "POST", 201, 12.5)

    assert completed == replace(record, route="/v1/chat/completions", method="POST", status=201, total_ms=12.5)
    assert record.route == values["route"] and record.total_ms == values["total_ms"]  # the original is untouched
