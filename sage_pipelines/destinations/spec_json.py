"""TableSpec as plain JSON, so a spec travels in Dagster definition metadata and run config
(it holds names and types only, never credentials)."""

from __future__ import annotations

import json
from typing import Any

from sage_pipelines.destinations.base import Partitioning, SchemaChange, Strategy, TableSpec
from sage_pipelines.types import Column, parse_type


def spec_to_dict(spec: TableSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "schema": spec.schema,
        "strategy": spec.strategy.value,
        "primary_key": list(spec.primary_key),
        "delete_by": list(spec.delete_by),
        "schema_change": spec.schema_change.value,
        "partitioning": ({"columns": list(spec.partitioning.columns),
                          "transform": spec.partitioning.transform} if spec.partitioning else None),
        "columns": [{"name": c.name, "type": str(c.type), "nullable": c.nullable} for c in spec.columns],
    }


def spec_from_dict(data: dict[str, Any]) -> TableSpec:
    part = data.get("partitioning")
    return TableSpec(
        name=data["name"],
        schema=data.get("schema"),
        strategy=Strategy(data["strategy"]),
        primary_key=tuple(data.get("primary_key") or ()),
        delete_by=tuple(data.get("delete_by") or ()),
        schema_change=SchemaChange(data.get("schema_change", "evolve")),
        partitioning=Partitioning(tuple(part["columns"]), part.get("transform", "identity")) if part else None,
        columns=tuple(Column(c["name"], parse_type(c["type"]), c.get("nullable", True))
                      for c in data["columns"]),
    )


def spec_to_json(spec: TableSpec) -> str:
    return json.dumps(spec_to_dict(spec), sort_keys=True)


def spec_from_json(text: str) -> TableSpec:
    return spec_from_dict(json.loads(text))
