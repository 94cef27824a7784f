"""Property-based tests: random sequences of uploads into one table, on real destinations, and
after every write the table equals what the oracle (`destination_scenarios.Oracle`) predicts.

Each example draws a table (strategy, primary key, delete_by, schema_change) and one to four
writes: new uploads, each carrying the key columns plus a random subset of the others in a
random order (so columns are added as they first appear, and an upsert lacking a column must
keep its old values), or a re-run of an earlier upload. Values cover every logical type with the
awkward ones (leading zeros, '' next to NULL, 38-digit decimals, dates and timestamps at the
ends of their range, unicode, quotes, newlines, tabs, backslashes, keys equal but for case or a
trailing space, duplicate keys within an upload). Non-key columns may be declared with a
narrower or wider type than the table has (decimal(20,4) / decimal(38,10), integer / decimal,
date / timestamp): the write must widen the column (evolve) or cast into it. The write's counts
(inserted, updated, deleted, rows) must be the oracle's too. Under `freeze`, an upload bringing
a new column or a wider type must be refused and leave the table as it was.

`make test` runs a bounded, reproducible budget (profile `sage-default`) on DuckDB, PostgreSQL
and Delta; `pytest -m hypothesis_long` runs every destination with a larger random budget
(profile `sage-long`; SAGE_HYPOTHESIS_EXAMPLES sets it). Text never holds NUL: PostgreSQL and
SQL Server cannot store it (refused with a clear error), and text keys stay under MySQL's 255.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sage_pipelines.destinations.base import SchemaChange, Strategy, TableSpec
from sage_pipelines.errors import SchemaChangeError
from sage_pipelines.types import Column, ColumnType, Kind
from sage_pipelines_tests.destination_kinds import KINDS, make_destination
from sage_pipelines_tests.destination_scenarios import Oracle, Row, normalized, reader_of, stored_rows

_COMMON = dict(deadline=None, database=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("sage-default", max_examples=50, derandomize=True, **_COMMON)
settings.register_profile("sage-long", max_examples=int(os.environ.get("SAGE_HYPOTHESIS_EXAMPLES", "150")),
                          print_blob=True, **_COMMON)
DEFAULT_KINDS = ("duckdb", "postgresql", "delta")

COLUMNS: tuple[Column, ...] = (
    Column("id", ColumnType(Kind.INTEGER)),
    Column("k", ColumnType(Kind.TEXT)),
    Column("txt", ColumnType(Kind.TEXT)),
    Column("num", ColumnType(Kind.DECIMAL, 38, 10)),
    Column("big", ColumnType(Kind.DECIMAL, 38, 0)),
    Column("n", ColumnType(Kind.INTEGER)),
    Column("d", ColumnType(Kind.DATE)),
    Column("ts", ColumnType(Kind.TIMESTAMP)),
    Column("b", ColumnType(Kind.BOOLEAN)),
)
BY_NAME = {c.name: c for c in COLUMNS}
# Types an upload may declare instead (not for key columns): each pair widens one way, so a
# write either widens the table's column (evolve; freeze refuses) or is cast into it.
ALTERNATIVES = {"num": ColumnType(Kind.DECIMAL, 20, 4), "n": ColumnType(Kind.DECIMAL, 38, 10),
                "d": ColumnType(Kind.TIMESTAMP)}
PRIMARY_KEYS = (("id",), ("k",), ("id", "k"), ("d", "k"))
DELETE_BY = ((), ("n",), ("k",), ("b",))  # (): the primary key

AWKWARD_TEXT = ("", " ", "0", "007", "000123", "a", "A", "a ", " a", "á", "a\u0301", "NULL", "\\N", "\\",
                "\\\\", "'", '"', "''", "\t", "\n", "\r", "\r\n", "x,y;z|w", "%s", "?", "--", "😀", "漢字",
                "line 1\nline 2", "tab\there", "back\\slash")
_CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
_MAX_38 = 10 ** 38 - 1
_FAR = (dt.date(1, 1, 1), dt.date(9999, 12, 31))


def _values(kind: Kind, key: bool) -> st.SearchStrategy[Any]:
    """Values of one column; key (and delete_by) columns draw from small pools so that keys
    repeat within and across uploads, and are never NULL (refusing NULL keys is a scenario)."""
    if kind is Kind.INTEGER:
        if key:
            return st.one_of(st.integers(-2, 6), st.sampled_from((-2 ** 63, 2 ** 63 - 1)))
        return st.integers(-2 ** 63, 2 ** 63 - 1)
    if kind is Kind.TEXT:
        if key:
            return st.one_of(st.sampled_from(AWKWARD_TEXT), st.text(_CHARS, max_size=4))
        return st.one_of(st.sampled_from(AWKWARD_TEXT), st.text(_CHARS, max_size=24))
    if kind is Kind.DATE:
        if key:
            return st.sampled_from((_FAR[0], dt.date(1970, 1, 1), dt.date(2024, 2, 29), _FAR[1]))
        return st.dates(*_FAR)
    if kind is Kind.TIMESTAMP:
        return st.datetimes(dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999_999))
    if kind is Kind.BOOLEAN:
        return st.booleans()
    raise AssertionError(kind)


def _decimals(precision: int, scale: int) -> st.SearchStrategy[Decimal]:
    """Every digit the type holds (38 digits with 10 after the point, or 38 whole), its extremes."""
    most = 10 ** precision - 1
    units = st.one_of(st.integers(-10 ** 12, 10 ** 12), st.integers(-most, most),
                      st.sampled_from((-most, most, 0, 1, -1)))
    return units.map(lambda u: Decimal(f"{u}E-{scale}"))  # exact: no context rounding


def _column_values(column: Column, key: bool) -> st.SearchStrategy[Any]:
    if column.type.kind is Kind.DECIMAL:
        values = _decimals(column.type.precision or 38, column.type.scale or 0)
    else:
        values = _values(column.type.kind, key)
    return values if key else st.one_of(st.none(), values)


@dataclass(frozen=True)
class Step:
    upload_id: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]

    def __repr__(self) -> str:
        return f"Step({self.upload_id!r}, {[c.name for c in self.columns]}, rows={list(self.rows)!r})"


@dataclass(frozen=True)
class Case:
    strategy: Strategy
    primary_key: tuple[str, ...]
    delete_by: tuple[str, ...]
    policy: SchemaChange
    steps: tuple[Step, ...]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    strategy = draw(st.sampled_from(list(Strategy)))
    keyed = strategy in (Strategy.UPSERT, Strategy.DELETE_INSERT)
    primary_key = draw(st.sampled_from(PRIMARY_KEYS if keyed else PRIMARY_KEYS + ((),)))
    delete_by = draw(st.sampled_from(DELETE_BY)) if strategy is Strategy.DELETE_INSERT else ()
    keys = tuple(dict.fromkeys(primary_key + delete_by))
    others = [c.name for c in COLUMNS if c.name not in keys]
    policy = draw(st.sampled_from(list(SchemaChange)))
    steps: list[Step] = []
    for i in range(draw(st.integers(1, 4))):
        if steps and draw(st.integers(0, 3)) == 0:
            steps.append(draw(st.sampled_from(steps)))  # a re-run of an earlier upload
            continue
        chosen = draw(st.lists(st.sampled_from(others), unique=True, min_size=0 if keys else 1,
                               max_size=len(others)))
        retyped = {n for n in chosen if n in ALTERNATIVES and draw(st.booleans())}
        columns = tuple(Column(n, ALTERNATIVES[n]) if n in retyped else BY_NAME[n]
                        for n in draw(st.permutations(list(keys) + chosen)))
        row = st.fixed_dictionaries({c.name: _column_values(c, c.name in keys) for c in columns})
        rows = draw(st.lists(row, max_size=8))
        steps.append(Step(f"u{i}", columns, tuple(rows)))
    return Case(strategy, primary_key, delete_by, policy, tuple(steps))


def _outcome(table: dict[str, ColumnType], step: Step, policy: SchemaChange) -> dict[str, ColumnType] | None:
    """The table's column types after `step` under the README's schema-change rules, or None
    when the write must be refused (freeze, and the upload brings a column or a wider type)."""
    after = dict(table)
    for c in step.columns:
        have = table.get(c.name)
        if have is None or (have != c.type and have.can_widen_to(c.type)):
            if table and policy is SchemaChange.FREEZE:
                return None
            after[c.name] = c.type
        else:
            assert have == c.type or c.type.can_widen_to(have), "the alternatives always widen one way"
    return after


def _in_type(value: Any, type_: ColumnType) -> Any:
    """A value written before its column was widened, as the wider column holds it."""
    if type_.kind is Kind.TIMESTAMP and isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time())
    return value


def check_case(destination: Any, namespace: str, case: Case) -> None:
    """Write the case's steps into a new table; after each, the table (with its columns' current
    types) and the write's counts must be the oracle's."""
    name = f"p_{uuid.uuid4().hex[:10]}"
    oracle = Oracle()
    types: dict[str, ColumnType] = {}
    event(f"{case.strategy.value}, {len(case.steps)} write(s)")  # shown by --hypothesis-show-statistics
    for number, step in enumerate(case.steps, 1):
        spec = TableSpec(name=name, columns=step.columns, strategy=case.strategy, schema=namespace,
                         primary_key=case.primary_key, delete_by=case.delete_by, schema_change=case.policy)
        after = _outcome(types, step, case.policy)
        if after is None:
            event("refused under freeze")
            with pytest.raises(SchemaChangeError, match="freeze"):
                destination.write(reader_of(list(step.rows), spec.columns), spec, step.upload_id)
        else:
            if any(types.get(n) not in (None, t) for n, t in after.items()):
                event("a column widened")
            result = destination.write(reader_of(list(step.rows), spec.columns), spec, step.upload_id)
            inserted, updated, deleted = oracle.write(spec, step.upload_id, list(step.rows))
            types = after
            assert (result.inserted, result.updated, result.deleted, result.rows) == \
                (inserted, updated, deleted, inserted + updated), f"counts of step {number}"
        table = replace(spec, columns=tuple(Column(c.name, types[c.name]) for c in COLUMNS if c.name in types))
        expected = normalized({n: _in_type(v, types[n]) if n in types else v for n, v in r.items()}
                              for r in oracle.table(table))
        assert stored_rows(destination, table) == expected, f"after step {number}"
    event(f"table holds {min(len(oracle.rows), 10)}{'+' if len(oracle.rows) >= 10 else ''} row(s)")


def run_profile(profile: str, target: tuple[Any, str], figures: Callable[[str], None]) -> None:
    """Check `cases()` on `target` under a hypothesis profile; report the examples and seconds."""
    tried = 0

    @settings(settings.get_profile(profile))
    @given(case=cases())
    def run(case: Case) -> None:
        nonlocal tried
        tried += 1
        check_case(*target, case)

    started = time.perf_counter()
    run()
    figures(f"{tried} examples held in {time.perf_counter() - started:.1f} s")


@pytest.fixture
def target(request: pytest.FixtureRequest, tmp_path) -> tuple[Any, str]:
    return make_destination(request.param, request, tmp_path)


@pytest.mark.parametrize("target", DEFAULT_KINDS, indirect=True)
def test_random_upload_sequences_leave_the_table_the_oracle_predicts(target, figures):
    run_profile("sage-default", target, figures)


@pytest.mark.hypothesis_long
@pytest.mark.timeout(7200)
@pytest.mark.parametrize("target", KINDS, indirect=True)
def test_random_upload_sequences_on_every_destination_with_a_larger_budget(target, figures):
    run_profile("sage-long", target, figures)
