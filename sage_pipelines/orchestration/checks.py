"""The asset checks of a table, from what its casilla and its materialization promise.

- `primary_key_not_null` / `primary_key_unique`: the materialization's primary key has a value in
  every row of the destination table and no two rows share it (an `append` table with a key
  keeps whatever the uploads bring, so this is where a duplicate shows);
- `required_not_null`: the SAGE YAML's `required` fields have a value in every row;
- `unique_<field>`: a SAGE YAML `unique` field holds no value twice;
- `rows_reconcile`: the rows the upload held = the rows the strategy says it took (written, plus
  for upsert the earlier rows of a key that a later one replaced).

The IO manager runs them right after its write (`run_checks`, against the destination, through
`Destination.violations`) and keeps the results in the history row; the asset then reports them
to Dagster (`check_results`). All are blocking: a failed one fails the step, so nothing
downstream runs on a table that broke its promises.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Sequence

from dagster import (AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey, MetadataValue,
                     PartitionsDefinition, PreviewWarning)

from sage_pipelines.casilla.model import Catalog
from sage_pipelines.destinations.base import Destination, TableSpec, WriteResult
from sage_pipelines.destinations.checks import KeyCheck, Rule, Violations
from sage_pipelines.materialization.names import dagster_name
from sage_pipelines.services.history import RECONCILE

CHECKS_KEY = "sage/checks"  # definition metadata: the table's checks, for the IO manager


@dataclass(frozen=True)
class TableCheck:
    name: str
    description: str
    rule: Rule | None = None  # None: the reconciliation of counts
    columns: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                "rule": self.rule.value if self.rule else None, "columns": list(self.columns)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "TableCheck":
        return cls(d["name"], d["description"], Rule(d["rule"]) if d["rule"] else None, tuple(d["columns"]))


def table_checks(spec: TableSpec, catalog: Catalog) -> list[TableCheck]:
    """The checks one table gets, in the order they are shown."""
    columns = {c.name for c in spec.columns}
    key = spec.primary_key
    checks = []
    if key:
        shown = ", ".join(key)
        checks += [TableCheck("primary_key_not_null", f"no NULL in the primary key ({shown})", Rule.NOT_NULL, key),
                   TableCheck("primary_key_unique", f"no two rows share the primary key ({shown})", Rule.UNIQUE, key)]
    required = tuple(f.name for f in catalog.fields if f.required and f.name in columns and f.name not in key)
    if required:
        checks.append(TableCheck("required_not_null", f"no NULL in the required fields ({', '.join(required)})",
                                 Rule.NOT_NULL, required))
    for f in catalog.fields:
        if f.unique and f.name in columns and (f.name,) != tuple(key):
            checks.append(TableCheck(f"unique_{dagster_name(f.name)}", f"no value of the unique field {f.name} twice",
                                     Rule.UNIQUE, (f.name,)))
    checks.append(TableCheck(RECONCILE, "the rows in the upload = the rows the strategy says it wrote "
                                        "(upsert: plus the earlier rows of a key a later row replaced)"))
    return checks


def check_specs(key: AssetKey, checks: Sequence[TableCheck],
                partitions_def: PartitionsDefinition | None = None) -> list[AssetCheckSpec]:
    """Partitioned like the table (by upload), so the UI shows each upload's outcome. Dagster 1.13
    marks partitioned checks as preview (a warning at every definitions load): checked by
    test_lineage_ui on the pinned version, so the warning is not repeated to every user."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PreviewWarning)
        return [AssetCheckSpec(c.name, asset=key, description=c.description, blocking=True,
                               partitions_def=partitions_def) for c in checks]


def run_checks(destination: Destination, spec: TableSpec, checks: Sequence[TableCheck], rows_in_upload: int,
               result: WriteResult) -> list[dict[str, Any]]:
    """Each check's outcome as the history row keeps it: name, passed, count, samples (the
    first few offending values) and, for the reconciliation, the two figures."""
    keyed = [c for c in checks if c.rule is not None]
    try:
        found = destination.violations(spec, [KeyCheck(c.rule, c.columns) for c in keyed])  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - a check that cannot run fails, saying why
        found = [Violations(-1, [{"error": " ".join(str(exc).split())[:300]}]) for _ in keyed]
    outcomes = [{"name": c.name, "passed": v.count == 0, "count": v.count, "samples": v.samples}
                for c, v in zip(keyed, found)]
    if any(c.name == RECONCILE for c in checks):
        written = result.written
        outcomes.append({"name": RECONCILE, "passed": written == rows_in_upload,
                         "count": abs(written - rows_in_upload), "samples": [],
                         "rows_in_upload": rows_in_upload, "written": written})
    return outcomes


def check_results(outcomes: Sequence[dict[str, Any]]) -> list[AssetCheckResult]:
    """The stored outcomes as Dagster check results, the offending values as metadata."""
    results = []
    for o in outcomes:
        metadata: dict[str, Any] = {"offending": MetadataValue.int(o["count"])}
        if o["samples"]:
            metadata["first_offending_values"] = MetadataValue.json(o["samples"])
        for figure in ("rows_in_upload", "written"):
            if figure in o:
                metadata[figure] = MetadataValue.int(o[figure])
        results.append(AssetCheckResult(check_name=o["name"], passed=bool(o["passed"]),
                                        severity=AssetCheckSeverity.ERROR, metadata=metadata))
    return results


def not_run_results(checks: Sequence[TableCheck], reason: str) -> list[AssetCheckResult]:
    """An upload without this table's file leaves the table as it was: nothing to check. Dagster
    needs a result per check of the step all the same; each says why it did not run."""
    return [AssetCheckResult(check_name=c.name, passed=True, severity=AssetCheckSeverity.ERROR,
                             description=f"not run: {reason}", metadata={"not_run": MetadataValue.text(reason)})
            for c in checks]


def failed_checks_line(error: Any, casilla: str) -> str | None:
    """A step failed by its blocking checks, in one line naming them (None for any other failure).
    Dagster's message lists `<asset>: <check>,<check>` after its first line."""
    if getattr(error, "cls_name", None) != "DagsterAssetCheckFailedError":
        return None
    names = [n for line in (error.message or "").strip().splitlines()[1:]
             for n in line.rpartition(": ")[2].split(",") if n]
    return (f"the table was written, but its blocking check(s) {', '.join(names)} failed "
            f"(the offending values: `sage history {casilla}` or the asset's Checks tab)")
