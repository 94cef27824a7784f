"""The one schema-evolution planner, without a destination: every rule it applies for all of them.
(The same rules run against every real destination in `destination_scenarios.py`.)"""

from __future__ import annotations

import pytest

from sage_pipelines.destinations.base import SchemaChange
from sage_pipelines.destinations.evolution import Action, Unmodeled, plan_schema
from sage_pipelines.errors import SchemaChangeError
from sage_pipelines.types import Column, ColumnType, Kind

TEXT, INT, DATE = ColumnType(Kind.TEXT), ColumnType(Kind.INTEGER), ColumnType(Kind.DATE)
NARROW, WIDE = ColumnType(Kind.DECIMAL, 12, 2), ColumnType(Kind.DECIMAL, 38, 10)
EVOLVE, FREEZE = SchemaChange.EVOLVE, SchemaChange.FREEZE
TABLE = [Column("id", INT, nullable=False), Column("monto", NARROW), Column("nota", TEXT)]


def actions(plan) -> dict[str, Action]:
    return {c.name: c.action for c in plan.columns}


def test_a_new_table_adds_every_upload_column_as_declared():
    plan = plan_schema("t", None, TABLE, FREEZE)
    assert plan.new_table and plan.target == tuple(TABLE)
    assert set(actions(plan).values()) == {Action.ADD}


def test_the_same_columns_keep_everything_under_either_policy():
    for policy in SchemaChange:
        plan = plan_schema("t", TABLE, TABLE, policy).check()
        assert set(actions(plan).values()) == {Action.KEEP} and not plan.changes_table


def test_evolve_adds_a_new_column_nullable_after_the_table_columns():
    plan = plan_schema("t", TABLE, TABLE + [Column("region", TEXT, nullable=False)], EVOLVE).check()
    assert [c.name for c in plan.added] == ["region"]
    assert plan.target[-1] == Column("region", TEXT, nullable=True)


def test_freeze_refuses_a_new_column_naming_table_and_column():
    plan = plan_schema("ventas.fact", TABLE, TABLE + [Column("region", TEXT)], FREEZE)
    assert [c.name for c in plan.refused] == ["region"]
    with pytest.raises(SchemaChangeError, match=r"^table ventas\.fact: schema_change is freeze but the upload "
                                                r"brings a new column 'region' \(text\)$"):
        plan.check()


def test_evolve_widens_a_type_that_holds_the_old_values():
    upload = [Column("id", INT), Column("monto", WIDE), Column("nota", TEXT)]
    plan = plan_schema("t", TABLE, upload, EVOLVE).check()
    assert [(c.name, c.table_type, c.type) for c in plan.widened] == [("monto", NARROW, WIDE)]
    assert plan.target[1] == Column("monto", WIDE)


def test_freeze_refuses_a_wider_type():
    upload = [Column("id", INT), Column("monto", WIDE), Column("nota", TEXT)]
    with pytest.raises(SchemaChangeError, match="freeze but column 'monto' would widen from "
                                                r"decimal\(12,2\) to decimal\(38,10\)"):
        plan_schema("t", TABLE, upload, FREEZE).check()


@pytest.mark.parametrize("policy", list(SchemaChange))
def test_a_narrower_upload_type_is_cast_up_and_the_table_is_unchanged(policy):
    table = [Column("id", INT), Column("monto", WIDE), Column("nota", ColumnType(Kind.TEXT)),
             Column("dia", ColumnType(Kind.TIMESTAMP))]
    upload = [Column("id", INT), Column("monto", NARROW), Column("nota", ColumnType(Kind.TEXT, length=5)),
              Column("dia", DATE)]
    plan = plan_schema("t", table, upload, policy).check()
    assert [c.name for c in plan.cast] == ["monto", "nota", "dia"] and not plan.changes_table
    assert plan.target == tuple(table)


@pytest.mark.parametrize("policy", list(SchemaChange))
def test_types_that_hold_neither_the_others_values_are_refused(policy):
    with pytest.raises(SchemaChangeError, match="column 'id' is integer in the table but date in the upload"):
        plan_schema("t", TABLE, [Column("id", DATE), Column("monto", NARROW)], policy).check()


@pytest.mark.parametrize("policy", list(SchemaChange))
def test_a_missing_nullable_column_is_kept_and_reported_absent(policy):
    plan = plan_schema("t", TABLE, TABLE[:2], policy).check()
    assert actions(plan)["nota"] is Action.KEEP and plan.absent == ["nota"]


@pytest.mark.parametrize("policy", list(SchemaChange))
def test_a_missing_not_null_column_is_refused(policy):
    with pytest.raises(SchemaChangeError, match="^table t: column 'id' is NOT NULL in the table but missing "
                                                "from the upload$"):
        plan_schema("t", TABLE, TABLE[1:], policy).check()


def test_every_refusal_is_named_in_one_line():
    upload = [Column("monto", DATE), Column("extra", TEXT)]
    with pytest.raises(SchemaChangeError) as error:
        plan_schema("t", TABLE, upload, FREEZE).check()
    message = str(error.value)
    assert "\n" not in message and all(name in message for name in ("'id'", "'monto'", "'extra'"))


def test_a_fixed_column_cannot_widen_even_under_evolve():
    upload = [Column("id", WIDE), Column("monto", NARROW), Column("nota", TEXT)]
    with pytest.raises(SchemaChangeError, match="key or partition column 'id' cannot change type"):
        plan_schema("t", TABLE, upload, EVOLVE, fixed=("id",)).check()


def test_a_column_of_a_type_sage_does_not_model_is_kept_without_comparing():
    table = [Column("id", INT, nullable=False), Unmodeled("payload")]
    plan = plan_schema("t", table, [Column("id", INT), Column("payload", TEXT)], FREEZE).check()
    assert actions(plan) == {"id": Action.KEEP, "payload": Action.KEEP}
    assert plan_schema("t", [Unmodeled("payload", nullable=False)], [], EVOLVE).refused


def test_names_are_matched_the_way_the_destination_compares_them():
    plan = plan_schema("t", [Column("ID", INT)], [Column("id", INT)], FREEZE, fold=str.lower).check()
    assert actions(plan) == {"ID": Action.KEEP}
