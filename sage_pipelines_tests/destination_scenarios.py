"""The scenario suite every destination passes, and the oracle it is judged against.

A destination's test module plugs in by subclassing `DestinationScenarios` and providing two
fixtures: `destination` (a ready `Destination`) and `namespace` (a schema / database / namespace
of its own, removed afterwards). Each scenario runs a sequence of uploads through
`destination.write` and compares what `destination.read` returns with what the strategy's
definition (`expected_table`, written independently of any destination) predicts.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from dataclasses import replace
from decimal import Decimal, localcontext
from typing import Any, Iterable, Iterator

import pyarrow as pa
import pytest

from sage_pipelines.destinations.base import (
    LOADED_AT_COLUMN,
    UPLOAD_ID_COLUMN,
    Destination,
    SchemaChange,
    Strategy,
    TableSpec,
)
from sage_pipelines.errors import DataError, SageError, SchemaChangeError
from sage_pipelines.types import Column, ColumnType, Kind, arrow_schema

Row = dict[str, Any]

COLUMNS: tuple[Column, ...] = (
    Column("id", ColumnType(Kind.INTEGER)),
    Column("semana", ColumnType(Kind.INTEGER)),
    Column("codigo", ColumnType(Kind.TEXT)),
    Column("monto", ColumnType(Kind.DECIMAL, 38, 10)),
    Column("fecha", ColumnType(Kind.DATE)),
    Column("activo", ColumnType(Kind.BOOLEAN)),
    Column("nota", ColumnType(Kind.TEXT)),
)

# Values that break naive loaders: each must come back exactly.
TRICKY_TEXT = [
    "000123",  # a code, not a number
    "",  # empty string is not NULL
    None,
    "Año, ñandú; «comillas» \"dobles\" 'simples'",
    "línea 1\nlínea 2\r\nlínea 3",
    "tab\there|pipe,comma;semicolon",
    "back\\slash \\N \\\\ end\\",
    "emoji 😀 and CJK 漢字",
    "  padded  ",
    "NULL",
]
TRICKY_DECIMALS = [
    Decimal("12345678901234567890.1234567891"),  # 20 integer digits, 10 fractional
    Decimal("-0.0000000001"),
    Decimal("0"),
    None,
    Decimal("99999999999999999999999999.9999999999"),
]


# Text keys and delete_by values compared exactly (trailing spaces, case, accents).
TEXT_KEY: tuple[Column, ...] = (
    Column("codigo", ColumnType(Kind.TEXT)),
    Column("semana", ColumnType(Kind.TEXT)),
    Column("monto", ColumnType(Kind.DECIMAL, 12, 2)),
)

# Values at the edges of each type's range.
EDGE_COLUMNS: tuple[Column, ...] = (
    Column("id", ColumnType(Kind.INTEGER)),
    Column("ts", ColumnType(Kind.TIMESTAMP)),
    Column("d", ColumnType(Kind.DATE)),
    Column("p38", ColumnType(Kind.DECIMAL, 38, 0)),
    Column("p5s5", ColumnType(Kind.DECIMAL, 5, 5)),
    Column("txt", ColumnType(Kind.TEXT)),
)


def with_type(columns: tuple[Column, ...], name: str, type_: ColumnType, nullable: bool = True) -> tuple[Column, ...]:
    """`columns` with column `name` retyped."""
    return tuple(Column(c.name, type_, nullable) if c.name == name else c for c in columns)


def without(columns: tuple[Column, ...], *names: str) -> tuple[Column, ...]:
    return tuple(c for c in columns if c.name not in names)


def only(rows: list[Row], columns: tuple[Column, ...]) -> list[Row]:
    """The rows reduced to `columns` (what an upload of those columns carries)."""
    names = [c.name for c in columns]
    return [{n: r.get(n) for n in names} for r in rows]


def row(id: int, semana: int = 1, codigo: str | None = "c", monto: Decimal | None = Decimal("1.50"),
        fecha: dt.date | None = dt.date(2024, 1, 1), activo: bool | None = True,
        nota: str | None = None) -> Row:
    return {"id": id, "semana": semana, "codigo": codigo, "monto": monto, "fecha": fecha,
            "activo": activo, "nota": nota}


def reader_of(rows: list[Row], columns: tuple[Column, ...] = COLUMNS,
              batch_rows: int = 3, fail_after_batches: int | None = None) -> pa.RecordBatchReader:
    """Rows as a lazy reader of small batches; optionally raising `DataError` mid-stream the way
    the casilla readers do when a value does not convert."""
    schema = arrow_schema(columns)

    def gen() -> Iterator[pa.RecordBatch]:
        for i in range(0, max(len(rows), 1), batch_rows):
            if fail_after_batches is not None and i // batch_rows >= fail_after_batches:
                raise DataError("upload.csv", i + 2, "monto", "12,5x", "not a decimal")
            chunk = rows[i:i + batch_rows]
            yield pa.RecordBatch.from_pylist(chunk, schema=schema)
        if fail_after_batches is not None and fail_after_batches * batch_rows >= len(rows):
            raise DataError("upload.csv", len(rows) + 2, "monto", "12,5x", "not a decimal")

    return pa.RecordBatchReader.from_batches(schema, gen())


class Oracle:
    """The strategies' definitions applied to plain Python rows: what a table must hold.

    Written from the README's strategy semantics, independently of any destination. Uploads may
    carry different columns (`spec.columns`): a column an upload lacks is NULL on the rows it
    inserts and, for upsert, keeps its old value on the rows it updates.
    """

    def __init__(self) -> None:
        self.rows: list[Row] = []

    def write(self, spec: TableSpec, upload_id: str, rows: list[Row]) -> tuple[int, int, int]:
        """Apply one write; (inserted, updated, deleted) as its `WriteResult` must report them."""
        names = [c.name for c in spec.columns]
        incoming = [{**{n: r.get(n) for n in names}, UPLOAD_ID_COLUMN: upload_id} for r in rows]
        before = len(self.rows)
        if spec.strategy is Strategy.UPSERT:
            key = lambda r: tuple(r.get(k) for k in spec.primary_key)  # noqa: E731
            last = {key(r): r for r in incoming}  # last row in file order wins
            old = {key(r): r for r in self.rows}
            self.rows = [r for r in self.rows if key(r) not in last] + [{**old.get(k, {}), **r}
                                                                        for k, r in last.items()]
            updated = sum(k in old for k in last)
            return len(last) - updated, updated, 0
        if spec.strategy is Strategy.DELETE_INSERT:
            by = spec.effective_delete_by
            present = {tuple(r.get(k) for k in by) for r in incoming}
            self.rows = [r for r in self.rows if tuple(r.get(k) for k in by) not in present]
        elif spec.strategy is Strategy.APPEND:
            self.rows = [r for r in self.rows if r[UPLOAD_ID_COLUMN] != upload_id]
        else:
            self.rows = []
        deleted = before - len(self.rows)
        self.rows += incoming
        return len(incoming), 0, deleted

    def table(self, spec: TableSpec) -> list[Row]:
        """The rows as `stored_rows(destination, spec)` returns them: `spec`'s columns, sorted."""
        names = [c.name for c in spec.columns] + [UPLOAD_ID_COLUMN]
        return normalized({n: r.get(n) for n in names} for r in self.rows)


def expected_table(spec: TableSpec, uploads: Iterable[tuple[str, list[Row]]]) -> list[Row]:
    """The rows a table written by `uploads` (all with `spec`) must hold, in write order."""
    oracle = Oracle()
    for upload_id, rows in uploads:
        oracle.write(spec, upload_id, rows)
    names = [c.name for c in spec.columns] + [UPLOAD_ID_COLUMN]
    return [{n: r.get(n) for n in names} for r in oracle.rows]


def _sort_text(v: Any) -> str:
    """One spelling per value: equal decimals of different scales (1.5, 1.5000000000) sort alike."""
    if isinstance(v, Decimal):
        with localcontext() as exact:
            exact.prec = 100
            return format((v + 0).normalize(), "f")
    return str(v)


def _sort_key(r: Row) -> tuple:
    return tuple((v is None, _sort_text(v)) for v in r.values())


def normalized(rows: Iterable[Row]) -> list[Row]:
    return sorted(rows, key=_sort_key)


def stored_rows(destination: Destination, spec: TableSpec) -> list[Row]:
    """The table's rows with declared types, without `_sage_loaded_at` (a clock value)."""
    table = destination.read(spec)
    names = [c.name for c in spec.columns] + [UPLOAD_ID_COLUMN]
    target = pa.schema([pa.field(n, arrow_schema(spec.columns).field(n).type
                                 if n != UPLOAD_ID_COLUMN else pa.string()) for n in names])
    return normalized(table.select(names).cast(target).to_pylist())


class DestinationScenarios:
    """Subclass as `TestXScenarios(DestinationScenarios)` and provide `destination`, `namespace`."""

    columns: tuple[Column, ...] = COLUMNS

    @pytest.fixture
    def make_spec(self, namespace: str):
        def make(strategy: Strategy, **kw: Any) -> TableSpec:
            kw.setdefault("primary_key", ("id",) if strategy is not Strategy.APPEND else ())
            kw.setdefault("columns", self.columns)
            return TableSpec(name=f"t_{uuid.uuid4().hex[:8]}", schema=namespace, strategy=strategy, **kw)
        return make

    def run_uploads(self, destination: Destination, spec: TableSpec,
                    uploads: list[tuple[str, list[Row]]]) -> list:
        return [destination.write(reader_of(rows, spec.columns), spec, upload_id)
                for upload_id, rows in uploads]

    # --- upsert -------------------------------------------------------------------------

    def test_upsert_updates_existing_keys_and_inserts_new_ones(self, destination, make_spec):
        spec = make_spec(Strategy.UPSERT)
        u1 = ("u1", [row(i, monto=Decimal(i)) for i in range(1, 6)])
        u2 = ("u2", [row(4, monto=Decimal("40.25")), row(5, codigo="cambió"), row(6), row(7)])
        results = self.run_uploads(destination, spec, [u1, u2])
        assert stored_rows(destination, spec) == normalized(expected_table(spec, [u1, u2]))
        assert (results[1].inserted, results[1].updated, results[1].deleted) == (2, 2, 0)

    def test_upsert_keeps_the_last_row_of_duplicate_keys_in_one_upload(self, destination, make_spec):
        spec = make_spec(Strategy.UPSERT)
        u1 = ("u1", [row(1, codigo="first"), row(2), row(1, codigo="second"), row(1, codigo="last")])
        self.run_uploads(destination, spec, [u1])
        rows = stored_rows(destination, spec)
        assert rows == normalized(expected_table(spec, [u1]))
        assert [r["codigo"] for r in rows if r["id"] == 1] == ["last"]

    def test_upsert_rerun_of_the_same_upload_gives_the_same_table(self, destination, make_spec):
        spec = make_spec(Strategy.UPSERT)
        u1 = ("u1", [row(i) for i in range(1, 8)])
        self.run_uploads(destination, spec, [u1])
        first = stored_rows(destination, spec)
        result = self.run_uploads(destination, spec, [u1])[0]
        assert stored_rows(destination, spec) == first
        assert (result.inserted, result.updated) == (0, 7)

    def test_upsert_with_a_composite_key(self, destination, make_spec):
        spec = make_spec(Strategy.UPSERT, primary_key=("id", "semana"))
        u1 = ("u1", [row(1, semana=1), row(1, semana=2), row(2, semana=1)])
        u2 = ("u2", [row(1, semana=2, codigo="x"), row(2, semana=2)])
        self.run_uploads(destination, spec, [u1, u2])
        assert stored_rows(destination, spec) == normalized(expected_table(spec, [u1, u2]))

    # --- delete_insert ------------------------------------------------------------------

    def test_delete_insert_replaces_the_rows_of_the_weeks_in_the_upload(self, destination, make_spec):
        spec = make_spec(Strategy.DELETE_INSERT, delete_by=("semana",))
        u1 = ("u1", [row(i, semana=1 + i % 2) for i in range(1, 9)])
        u2 = ("u2", [row(100, semana=2), row(101, semana=3)])
        u3 = ("u3", [row(200, semana=3), row(201, semana=3), row(202, semana=3)])
        results = self.run_uploads(destination, spec, [u1, u2, u3])
        assert stored_rows(destination, spec) == normalized(expected_table(spec, [u1, u2, u3]))
        assert (results[1].deleted, results[1].inserted) == (4, 2)

    def test_delete_insert_rerun_gives_the_same_table(self, destination, make_spec):
        spec = make_spec(Strategy.DELETE_INSERT, delete_by=("semana",))
        u1 = ("u1", [row(i, semana=i % 3) for i in range(1, 10)])
        self.run_uploads(destination, spec, [u1, u1])
        assert stored_rows(destination, spec) == normalized(expected_table(spec, [u1]))

    def test_delete_insert_defaults_to_the_primary_key(self, destination, make_spec):
        spec = make_spec(Strategy.DELETE_INSERT)
        u1 = ("u1", [row(1), row(2), row(3)])
        u2 = ("u2", [row(2, codigo="nuevo"), row(4)])
        self.run_uploads(destination, spec, [u1, u2])
        assert stored_rows(destination, spec) == normalized(expected_table(spec, [u1, u2]))

    # --- append -------------------------------------------------------------------------

    def test_append_adds_every_upload_once_even_when_rerun(self, destination, make_spec):
        spec = make_spec(Strategy.APPEND)
        u1 = ("u1", [row(1), row(1), row(2)])  # no key: duplicates inside an upload are data
        u2 = ("u2", [row(3), row(4)])
        results = self.run_uploads(destination, spec, [u1, u2, u1])
        assert stored_rows(destination, spec) == normalized(expected_table(spec, [u1, u2, u1]))
        assert (results[2].deleted, results[2].inserted) == (3, 3)

    # --- truncate_insert ----------------------------------------------------------------

    def test_truncate_insert_leaves_exactly_the_last_upload(self, destination, make_spec):
        spec = make_spec(Strategy.TRUNCATE_INSERT)
        u1 = ("u1", [row(i) for i in range(1, 10)])
        u2 = ("u2", [row(i, codigo="v2") for i in range(5, 8)])
        results = self.run_uploads(destination, spec, [u1, u2])
        assert stored_rows(destination, spec) == normalized(expected_table(spec, [u1, u2]))
        assert (results[1].deleted, results[1].inserted) == (9, 3)

    def test_truncate_insert_of_an_empty_upload_empties_the_table(self, destination, make_spec):
        spec = make_spec(Strategy.TRUNCATE_INSERT)
        self.run_uploads(destination, spec, [("u1", [row(1), row(2)]), ("u2", [])])
        assert stored_rows(destination, spec) == []

    # --- exact values -------------------------------------------------------------------

    def test_every_value_comes_back_exactly(self, destination, make_spec):
        spec = make_spec(Strategy.UPSERT)
        rows = []
        for i, text in enumerate(TRICKY_TEXT):
            rows.append(row(i, codigo=text, nota=text,
                            monto=TRICKY_DECIMALS[i % len(TRICKY_DECIMALS)],
                            fecha=[dt.date(1900, 1, 1), dt.date(2099, 12, 31), None,
                                   dt.date(2024, 2, 29)][i % 4],
                            activo=[True, False, None][i % 3]))
        self.run_uploads(destination, spec, [("u1", rows)])
        assert stored_rows(destination, spec) == normalized(expected_table(spec, [("u1", rows)]))

    def test_read_returns_the_declared_types_and_the_sage_columns(self, destination, make_spec):
        spec = make_spec(Strategy.APPEND)
        self.run_uploads(destination, spec, [("u1", [row(1)])])
        table = destination.read(spec)
        for column in spec.columns:
            assert table.schema.field(column.name).type == column.type.to_arrow(), column.name
        assert table.column(UPLOAD_ID_COLUMN).to_pylist() == ["u1"]
        loaded = table.column(LOADED_AT_COLUMN).to_pylist()[0]
        assert isinstance(loaded, dt.datetime)

    # --- edge cases ---------------------------------------------------------------------

    def test_upsert_keeps_text_keys_that_differ_by_trailing_space_or_case_apart(self, destination, make_spec):
        spec = make_spec(Strategy.UPSERT, columns=TEXT_KEY, primary_key=("codigo",))
        u1 = ("u1", [{"codigo": c, "semana": "w1", "monto": Decimal(i)}
                     for i, c in enumerate(["a", "a ", "A", " a", "á"])])
        u2 = ("u2", [{"codigo": "a ", "semana": "w2", "monto": Decimal("9.99")}])
        results = self.run_uploads(destination, spec, [u1, u2])
        assert stored_rows(destination, spec) == normalized(expected_table(spec, [u1, u2]))
        assert (results[0].inserted, results[1].inserted, results[1].updated) == (5, 0, 1)

    def test_delete_insert_by_a_text_column_replaces_only_exactly_equal_values(self, destination, make_spec):
        spec = make_spec(Strategy.DELETE_INSERT, columns=TEXT_KEY, primary_key=(), delete_by=("semana",))
        u1 = ("u1", [{"codigo": "x", "semana": "w1", "monto": Decimal(1)},
                     {"codigo": "y", "semana": "w1 ", "monto": Decimal(2)}])
        u2 = ("u2", [{"codigo": "z", "semana": "w1", "monto": Decimal(3)}])
        results = self.run_uploads(destination, spec, [u1, u2])
        assert stored_rows(destination, spec) == normalized(expected_table(spec, [u1, u2]))
        assert results[1].deleted == 1

    def test_delete_insert_by_two_columns(self, destination, make_spec):
        spec = make_spec(Strategy.DELETE_INSERT, columns=TEXT_KEY, primary_key=(), delete_by=("semana", "codigo"))
        u1 = ("u1", [{"codigo": c, "semana": w, "monto": Decimal(i)}
                     for i, (c, w) in enumerate([("a", "w1"), ("a", "w2"), ("b", "w1"), ("b", "w2")])])
        u2 = ("u2", [{"codigo": "a", "semana": "w1", "monto": Decimal(10)},
                     {"codigo": "b", "semana": "w2", "monto": Decimal(11)},
                     {"codigo": "b", "semana": "w2", "monto": Decimal(12)}])
        results = self.run_uploads(destination, spec, [u1, u2])
        assert stored_rows(destination, spec) == normalized(expected_table(spec, [u1, u2]))
        assert (results[1].deleted, results[1].inserted) == (2, 3)

    def test_edge_values_round_trip(self, destination, make_spec):
        spec = make_spec(Strategy.UPSERT, columns=EDGE_COLUMNS)
        rows = [
            {"id": 1, "ts": dt.datetime(1969, 12, 31, 23, 59, 59, 999999), "d": dt.date(1, 1, 1),
             "p38": Decimal("9" * 38), "p5s5": Decimal("0.99999"), "txt": "x" * 100_000},
            {"id": 2, "ts": dt.datetime(1900, 1, 1, 0, 0, 0, 1), "d": dt.date(1969, 7, 20),
             "p38": Decimal("-" + "9" * 38), "p5s5": Decimal("-0.00001"), "txt": "cr\ronly\r"},
            {"id": 3, "ts": dt.datetime(9999, 12, 31, 23, 59, 59, 999999), "d": dt.date(9999, 12, 31),
             "p38": Decimal(0), "p5s5": Decimal("0.00000"), "txt": "e\u0301 vs \u00e9 \\. \\"},
            {"id": 4, "ts": None, "d": None, "p38": None, "p5s5": None, "txt": "\\N"},
            {"id": 5, "ts": dt.datetime(2024, 2, 29, 12, 0), "d": dt.date(2024, 2, 29),
             "p38": Decimal(1), "p5s5": Decimal("0.5"), "txt": ""},
        ]
        self.run_uploads(destination, spec, [("u1", rows)])
        assert stored_rows(destination, spec) == normalized(expected_table(spec, [("u1", rows)]))

    def test_text_with_unicode_line_separators_round_trips_also_as_keys(self, destination, make_spec):
        """Regression (found by hypothesis on Delta): U+0085 and U+2028 in a column's min / max
        broke reading the commit's log entry, which was split with `str.splitlines`."""
        spec = make_spec(Strategy.UPSERT, columns=TEXT_KEY, primary_key=("codigo",))
        odd = ["\x85", "a\u2028b", "\u2029", "\x0b\x0c", "\x1c\x1d\x1e", "\x85z"]
        u1 = ("u1", [{"codigo": t, "semana": t, "monto": Decimal(i)} for i, t in enumerate(odd)])
        u2 = ("u2", [{"codigo": "\x85", "semana": "\u2028", "monto": Decimal(9)}])
        self.run_uploads(destination, spec, [u1, u2])
        assert stored_rows(destination, spec) == normalized(expected_table(spec, [u1, u2]))

    @pytest.mark.parametrize("strategy", list(Strategy))
    def test_an_empty_upload(self, destination, make_spec, strategy):
        keys = {Strategy.UPSERT: {"primary_key": ("codigo",)},
                Strategy.DELETE_INSERT: {"primary_key": (), "delete_by": ("semana",)}}
        spec = make_spec(strategy, columns=TEXT_KEY, **keys.get(strategy, {"primary_key": ()}))
        u1 = ("u1", [{"codigo": "x", "semana": "w1", "monto": Decimal(1)}])
        results = self.run_uploads(destination, spec, [u1, ("u2", [])])
        assert stored_rows(destination, spec) == normalized(expected_table(spec, [u1, ("u2", [])]))
        r = results[1]
        want_deleted = 1 if strategy is Strategy.TRUNCATE_INSERT else 0
        assert (r.inserted, r.updated, r.deleted, r.rows) == (0, 0, want_deleted, 0)

    # --- an upload lacking some of the table's columns -------------------------------------

    @pytest.mark.parametrize("strategy", list(Strategy))
    @pytest.mark.parametrize("policy", list(SchemaChange))
    def test_a_column_the_upload_lacks_is_kept_on_updated_rows_and_null_on_inserted_ones(
            self, destination, make_spec, strategy, policy):
        spec = make_spec(strategy, schema_change=policy,
                         delete_by=("semana",) if strategy is Strategy.DELETE_INSERT else ())
        narrow = replace(spec, columns=without(spec.columns, "codigo", "monto"))
        oracle = Oracle()
        u1 = [row(i, semana=i % 2, codigo=f"old{i}", monto=Decimal(i)) for i in range(1, 5)]
        u2 = only([row(3, semana=1, nota="n3"), row(9, semana=1, nota="n9")], narrow.columns)
        for s, upload_id, rows in ((spec, "u1", u1), (narrow, "u2", u2)):
            destination.write(reader_of(rows, s.columns), s, upload_id)
            oracle.write(s, upload_id, rows)
        assert stored_rows(destination, spec) == oracle.table(spec)
        if strategy is Strategy.UPSERT:
            got = {r["id"]: (r["codigo"], r["monto"]) for r in stored_rows(destination, spec)}
            assert got[3] == ("old3", Decimal(3)) and got[9] == (None, None)

    @pytest.mark.parametrize("policy", list(SchemaChange))
    def test_an_upload_lacking_a_not_null_column_is_refused_and_writes_nothing(
            self, destination, make_spec, policy):
        spec = make_spec(Strategy.UPSERT, schema_change=policy,
                         columns=with_type(self.columns, "codigo", ColumnType(Kind.TEXT), nullable=False))
        self.run_uploads(destination, spec, [("u1", [row(1), row(2)])])
        before, names = stored_rows(destination, spec), destination.read(spec).column_names
        narrow = replace(spec, columns=without(spec.columns, "codigo"))
        with pytest.raises(SchemaChangeError, match=r"'codigo' is NOT NULL in the table but missing"):
            self.run_uploads(destination, narrow, [("u2", only([row(1, nota="x"), row(3)], narrow.columns))])
        assert stored_rows(destination, spec) == before
        assert destination.read(spec).column_names == names

    # --- schema change ------------------------------------------------------------------

    def test_evolve_adds_a_new_column_and_keeps_old_rows(self, destination, make_spec):
        spec = make_spec(Strategy.UPSERT)
        self.run_uploads(destination, spec, [("u1", [row(1), row(2)])])
        extra = Column("region", ColumnType(Kind.TEXT))
        wider = replace(spec, columns=spec.columns + (extra,))
        self.run_uploads(destination, wider, [("u2", [{**row(2), "region": "Cusco"}, {**row(3), "region": None}])])
        rows = {r["id"]: r for r in stored_rows(destination, wider)}
        assert rows[1]["region"] is None and rows[2]["region"] == "Cusco" and rows[3]["codigo"] == "c"

    @pytest.mark.parametrize("strategy", [Strategy.UPSERT, Strategy.DELETE_INSERT, Strategy.APPEND])
    def test_a_write_that_adds_a_column_keeps_the_rows_it_does_not_replace(self, destination, make_spec, strategy):
        """Regression (found by hypothesis on Delta): a delete_insert or append merge that added
        a column was refused by delta-rs ('rows failed validation check') whenever the table kept
        rows it did not replace, because the merge source had loosened the NOT NULL `_sage_*`."""
        spec = make_spec(strategy, delete_by=("semana",) if strategy is Strategy.DELETE_INSERT else ())
        wider = replace(spec, columns=spec.columns + (Column("region", ColumnType(Kind.TEXT)),))
        oracle = Oracle()
        for s, upload_id, rows in ((spec, "u1", [row(1, semana=1), row(2, semana=2)]),
                                   (spec, "u2", [row(3, semana=2)]),
                                   (wider, "u2", [{**row(4, semana=1), "region": "Lima"}])):
            destination.write(reader_of(rows, s.columns), s, upload_id)
            oracle.write(s, upload_id, rows)
        assert stored_rows(destination, wider) == oracle.table(wider)

    @pytest.mark.parametrize("column, narrow, wide, old, new", [
        ("monto", ColumnType(Kind.DECIMAL, 12, 2), ColumnType(Kind.DECIMAL, 38, 10),
         Decimal("12.34"), Decimal("1234567890123.0000000001")),
        ("semana", ColumnType(Kind.INTEGER), ColumnType(Kind.DECIMAL, 38, 10), 7, Decimal("7.5")),
        ("nota", ColumnType(Kind.TEXT, length=10), ColumnType(Kind.TEXT), "short", "x" * 300),
        ("fecha", ColumnType(Kind.DATE), ColumnType(Kind.TIMESTAMP),
         dt.date(2024, 2, 29), dt.datetime(2024, 3, 1, 23, 59, 59, 999999)),
    ], ids=["decimal", "integer-to-decimal", "varchar-to-text", "date-to-timestamp"])
    def test_evolve_widens_a_column_and_keeps_its_old_values(self, destination, make_spec, column, narrow,
                                                             wide, old, new):
        spec = make_spec(Strategy.UPSERT, columns=with_type(self.columns, column, narrow))
        self.run_uploads(destination, spec, [("u1", [{**row(1), column: old}])])
        widened = replace(spec, columns=with_type(self.columns, column, wide))
        self.run_uploads(destination, widened, [("u2", [{**row(2), column: new}])])
        got = {r["id"]: r[column] for r in stored_rows(destination, widened)}
        assert got == {1: pa.scalar(old, narrow.to_arrow()).cast(wide.to_arrow()).as_py(), 2: new}

    def test_evolve_widens_a_column_of_a_table_with_a_delete_by_index(self, destination, make_spec):
        """Regression (found by hypothesis on DuckDB): a delete_insert table has an index on its
        delete_by columns, and DuckDB refused to change any column's type while it existed."""
        narrow = with_type(self.columns, "monto", ColumnType(Kind.DECIMAL, 12, 2))
        spec = make_spec(Strategy.DELETE_INSERT, columns=narrow, delete_by=("semana",))
        u1 = ("u1", [row(1, semana=1, monto=Decimal("12.34")), row(2, semana=2)])
        self.run_uploads(destination, spec, [u1])
        wide = replace(spec, columns=self.columns)
        u2 = ("u2", [row(3, semana=2, monto=Decimal("1234567890123.0000000001"))])
        self.run_uploads(destination, wide, [u2])
        assert stored_rows(destination, wide) == normalized(expected_table(wide, [u1, u2]))
        self.run_uploads(destination, wide, [("u3", [row(4, semana=1)])])  # the index still serves
        assert {r["id"] for r in stored_rows(destination, wide)} == {3, 4}

    @pytest.mark.parametrize("policy", list(SchemaChange))
    def test_a_narrower_upload_type_is_cast_into_the_wider_column(self, destination, make_spec, policy):
        spec = make_spec(Strategy.UPSERT, schema_change=policy)
        self.run_uploads(destination, spec, [("u1", [row(1, monto=Decimal("1.0000000001"))])])
        narrow = replace(spec, columns=with_type(self.columns, "monto", ColumnType(Kind.DECIMAL, 12, 2)))
        self.run_uploads(destination, narrow, [("u2", [row(2, monto=Decimal("9999999999.99"))])])
        got = {r["id"]: r["monto"] for r in stored_rows(destination, spec)}
        assert got == {1: Decimal("1.0000000001"), 2: Decimal("9999999999.99")}
        assert destination.read(spec).schema.field("monto").type == pa.decimal128(38, 10)

    def test_freeze_refuses_a_new_column_and_writes_nothing(self, destination, make_spec):
        spec = make_spec(Strategy.UPSERT, schema_change=SchemaChange.FREEZE)
        self.run_uploads(destination, spec, [("u1", [row(1)])])
        before, names = stored_rows(destination, spec), destination.read(spec).column_names
        extra = Column("region", ColumnType(Kind.TEXT))
        wider = replace(spec, columns=spec.columns + (extra,))
        with pytest.raises(SchemaChangeError, match="freeze.*'region'"):
            self.run_uploads(destination, wider, [("u2", [{**row(2), "region": "x"}])])
        assert stored_rows(destination, spec) == before
        assert destination.read(spec).column_names == names

    def test_freeze_refuses_a_wider_type_and_writes_nothing(self, destination, make_spec):
        narrow = with_type(self.columns, "monto", ColumnType(Kind.DECIMAL, 12, 2))
        spec = make_spec(Strategy.UPSERT, columns=narrow, schema_change=SchemaChange.FREEZE)
        self.run_uploads(destination, spec, [("u1", [row(1, monto=Decimal("12.34"))])])
        before = stored_rows(destination, spec)
        wide = replace(spec, columns=self.columns)
        with pytest.raises(SchemaChangeError, match="freeze.*'monto'"):
            self.run_uploads(destination, wide, [("u2", [row(2, monto=Decimal("0.0000000001"))])])
        assert stored_rows(destination, spec) == before
        assert destination.read(spec).schema.field("monto").type == pa.decimal128(12, 2)

    @pytest.mark.parametrize("policy", list(SchemaChange))
    def test_incompatible_types_are_refused_and_write_nothing(self, destination, make_spec, policy):
        spec = make_spec(Strategy.UPSERT, schema_change=policy)
        self.run_uploads(destination, spec, [("u1", [row(1)])])
        before = stored_rows(destination, spec)
        dated = replace(spec, columns=with_type(self.columns, "semana", ColumnType(Kind.DATE)))
        with pytest.raises(SchemaChangeError, match="'semana' is integer in the table but date"):
            self.run_uploads(destination, dated, [("u2", [row(2, semana=dt.date(2024, 1, 1))])])
        assert stored_rows(destination, spec) == before

    # --- atomicity ----------------------------------------------------------------------

    @pytest.mark.parametrize("strategy", list(Strategy))
    def test_a_bad_value_in_the_middle_of_the_upload_leaves_the_table_as_it_was(
            self, destination, make_spec, strategy):
        spec = make_spec(strategy, delete_by=("semana",) if strategy is Strategy.DELETE_INSERT else ())
        self.run_uploads(destination, spec, [("u1", [row(i, semana=1) for i in range(1, 6)])])
        before = stored_rows(destination, spec)
        bad = reader_of([row(i, semana=1, codigo="new") for i in range(3, 12)],
                        spec.columns, batch_rows=2, fail_after_batches=2)
        with pytest.raises(DataError, match="line"):
            destination.write(bad, spec, "u2" if strategy is not Strategy.APPEND else "u1")
        assert stored_rows(destination, spec) == before

    @pytest.mark.parametrize("strategy", [Strategy.UPSERT, Strategy.DELETE_INSERT])
    def test_a_null_key_is_refused_and_leaves_the_table_as_it_was(self, destination, make_spec, strategy):
        spec = make_spec(strategy)
        self.run_uploads(destination, spec, [("u1", [row(1), row(2)])])
        before = stored_rows(destination, spec)
        rows = [row(3), {**row(4), "id": None}]
        with pytest.raises(SageError):
            self.run_uploads(destination, spec, [("u2", rows)])
        assert stored_rows(destination, spec) == before

    def test_a_failed_first_write_creates_no_rows(self, destination, make_spec):
        spec = make_spec(Strategy.APPEND)
        with pytest.raises(DataError):
            destination.write(reader_of([row(1), row(2), row(3)], batch_rows=1, fail_after_batches=2),
                              spec, "u1")
        try:
            rows = stored_rows(destination, spec)
        except SageError:
            rows = []  # the table was never created: also "as it was"
        assert rows == []

    # --- concurrency --------------------------------------------------------------------

    def test_two_concurrent_writes_to_one_table_lose_and_duplicate_nothing(self, destination, make_spec):
        spec = make_spec(Strategy.APPEND)
        self.run_uploads(destination, spec, [("u0", [row(0)])])
        uploads = [(f"u{n}", [row(n * 1000 + i) for i in range(200)]) for n in (1, 2)]
        errors: list[BaseException] = []

        def write(upload: tuple[str, list[Row]]) -> None:
            try:
                self.run_uploads(destination, spec, [upload])
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(u,)) for u in uploads]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
        assert stored_rows(destination, spec) == normalized(
            expected_table(spec, [("u0", [row(0)])] + uploads))
