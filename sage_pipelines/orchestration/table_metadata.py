"""A table's configuration as readable Dagster metadata (markdown), next to the JSON the IO
manager reads: the UI shows the whole spec instead of a clipped JSON blob."""

from __future__ import annotations

from sage_pipelines.destinations.base import SAGE_COLUMNS, TableSpec


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def spec_markdown(spec: TableSpec) -> str:
    """The table's settings, then one line per column with its type and role."""
    lines = [
        f"**{_cell(spec.qualified_name)}**, strategy `{spec.strategy.value}`, schema changes `{spec.schema_change.value}`",
        "",
        "| column | type | role |",
        "|---|---|---|",
    ]
    delete_by = set(spec.delete_by) if spec.strategy.value == "delete_insert" else set()
    partitions = set(spec.partitioning.columns) if spec.partitioning else set()
    for c in spec.columns + SAGE_COLUMNS:
        roles = [r for r, on in (("primary key", c.name in spec.primary_key), ("delete_by", c.name in delete_by),
                                 ("partition", c.name in partitions), ("added by sage", c in SAGE_COLUMNS)) if on]
        lines.append(f"| {_cell(c.name)} | {_cell(str(c.type))} | {', '.join(roles)} |")
    if spec.partitioning:
        lines += ["", f"In lakes, partitioned by `{spec.partitioning.transform}` of {', '.join(spec.partitioning.columns)}."]
    return "\n".join(lines)
