"""Propose table configurations from a sample of an upload (`sage analyze`).

SAGE types are coarse (a `decimal` has no precision, a `fecha` may carry times, `texto` has no
length), so a data engineer writing a materialization wants to know what the data actually
holds: the digits a decimal needs, whether dates carry a time, how long the texts are, and which
columns (or pairs) could be a primary key. This reads the first `sample_rows` rows of a file as
raw text (through the same reader, so the same encoding, header and delimiter rules apply),
measures each column with Arrow compute and proposes types. A proposal is a starting point, not
a guarantee: later uploads may hold longer or wider values (`schema_change: evolve` widens).
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sage_pipelines.casilla.convert import (DATE_RE, DATETIME_RE, DECIMAL_RE, FALSE_WORDS, INTEGER_RE,
                                            MIDNIGHT_RE, TRUE_WORDS)
from sage_pipelines.casilla.encoding import detect_encoding
from sage_pipelines.casilla.model import Catalog, Field, FileFormat
from sage_pipelines.casilla.readers import UploadMember, read_member
from sage_pipelines.errors import ConfigError
from sage_pipelines.types import (DEFAULT_DECIMAL_PRECISION, Column, ColumnType, Kind,
                                  SAGE_TYPES)

VARCHAR_STEPS = (16, 32, 64, 128, 255, 512, 1024, 2048, 4000)
SPARE_INTEGER_DIGITS = 2  # room for amounts a little larger than the sample's
MAX_PAIR_COLUMNS = 40  # pairs are searched among at most this many columns (the most distinct first)
_PLAIN_INTEGER_RE = r"^[+-]?(0|[1-9][0-9]*)$"  # leading zeros mean a code: keep it text


def _sample(member: UploadMember, sample_rows: int) -> pa.Table:
    """The first `sample_rows` rows, every column as raw text (NULL = empty cell)."""
    text_columns = tuple(Column(f.name, ColumnType(Kind.TEXT)) for f in member.catalog.fields)
    batches, seen = [], 0
    reader = read_member(member, text_columns, batch_rows=min(sample_rows, 65_536))
    try:
        for batch in reader:
            batches.append(batch.slice(0, sample_rows - seen))
            seen += batches[-1].num_rows
            if seen >= sample_rows:
                break
    finally:
        reader.close()
    return pa.Table.from_batches(batches, schema=reader.schema)


def _member_for_path(path: Path) -> UploadMember:
    """A stand-alone CSV or Excel file without a SAGE YAML: a header row, a sniffed delimiter."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
            try:
                header = next(book.worksheets[0].iter_rows(max_row=1, values_only=True), ())
            finally:
                book.close()
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on a damaged workbook
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            raise ConfigError(f"{path}: not a readable Excel workbook ({reason})") from None
        names = [str(h).strip() for h in header if h is not None]
        fmt = FileFormat(type="EXCEL", header=True)
    else:
        encoding = detect_encoding(lambda: open(path, "rb"))
        with open(path, "rb") as fh:
            head = fh.read(64 * 1024)[encoding.skip:].decode(encoding.codec, errors="replace")
        try:
            delimiter = csv.Sniffer().sniff(head.split("\n", 20)[0] if head else ",", ",;|\t").delimiter
        except csv.Error:
            delimiter = ","
        names = [n.strip() for n in next(csv.reader([head.split("\n", 1)[0]], delimiter=delimiter), [])]
        fmt = FileFormat(type="CSV", delimiter=delimiter, header=True)
    if not names or len({n.casefold() for n in names}) != len(names) or not all(names):
        raise ConfigError(f"{path}: needs a header row of distinct, non-empty column names to be analyzed")
    catalog = Catalog(key=path.stem, name=path.stem, filename=path.name, file_format=fmt,
                      fields=tuple(Field(n, "texto") for n in names))
    return UploadMember(catalog, path.name, path.stat().st_size, path)


def _all_match(values: pa.Array, pattern: str) -> bool:
    return values.null_count == len(values) or bool(pc.all(pc.match_substring_regex(values, pattern)).as_py())


def _varchar(max_length: int) -> ColumnType:
    """The first common length holding twice the longest value seen (room for later uploads)."""
    for step in VARCHAR_STEPS:
        if 2 * max_length <= step:
            return ColumnType(Kind.TEXT, length=step)
    return ColumnType(Kind.TEXT)


def _decimal_type(values: pa.Array) -> ColumnType:
    """decimal(p,s): s = most fractional digits seen, p = most integer digits seen + spare + s."""
    parts = pc.extract_regex(values, r"^[+-]?0*(?P<whole>[0-9]*)(?:\.(?P<fraction>[0-9]*))?$")
    digits = int(pc.max(pc.utf8_length(pc.struct_field(parts, "whole"))).as_py() or 0)
    scale = min(int(pc.max(pc.utf8_length(pc.struct_field(parts, "fraction"))).as_py() or 0),
                DEFAULT_DECIMAL_PRECISION - 1)
    precision = min(DEFAULT_DECIMAL_PRECISION, max(digits + SPARE_INTEGER_DIGITS, 10 - scale) + scale)
    return ColumnType(Kind.DECIMAL, precision, scale)


def _propose(values: pa.Array, declared: str | None) -> ColumnType:
    """The narrowest type that holds every sampled value of this column."""
    present = pc.drop_null(values)
    if declared == "texto":
        longest = int(pc.max(pc.utf8_length(present)).as_py() or 0) if len(present) else 0
        return _varchar(max(longest, 1))
    trimmed = pc.drop_null(pc.utf8_trim_whitespace(present))
    trimmed = pc.filter(trimmed, pc.not_equal(trimmed, ""))
    if len(trimmed) == 0:
        return SAGE_TYPES[declared] if declared else ColumnType(Kind.TEXT)
    lowered = pc.utf8_lower(trimmed)
    if declared == "booleano" or (declared is None and bool(pc.all(pc.is_in(
            lowered, value_set=pa.array(TRUE_WORDS + FALSE_WORDS))).as_py()) and
            not _all_match(trimmed, r"^[0-9]+$")):
        return ColumnType(Kind.BOOLEAN)
    if declared in ("entero", None) and _all_match(trimmed, _PLAIN_INTEGER_RE if declared is None else INTEGER_RE):
        return ColumnType(Kind.INTEGER)
    if declared in ("decimal", "entero", None) and _all_match(trimmed, DECIMAL_RE):
        if declared == "entero":
            return ColumnType(Kind.INTEGER)
        if declared is None and not _all_match(trimmed, r"^[+-]?(0|[1-9][0-9]*)?(\.[0-9]*)?$"):
            return _varchar(int(pc.max(pc.utf8_length(trimmed)).as_py()))
        return _decimal_type(trimmed)
    if declared in ("fecha", None) and _all_match(trimmed, DATETIME_RE):
        if _all_match(trimmed, DATE_RE) or _all_match(
                pc.if_else(pc.match_substring_regex(trimmed, DATE_RE), "2000-01-01 00:00:00", trimmed), MIDNIGHT_RE):
            return ColumnType(Kind.DATE)
        return ColumnType(Kind.TIMESTAMP)
    if declared is None:
        return _varchar(int(pc.max(pc.utf8_length(trimmed)).as_py()))
    return SAGE_TYPES[declared]


def _key_candidates(table: pa.Table, types: dict[str, str], declared_unique: set[str],
                    limit: int = 10) -> list[list[str]]:
    """Columns, then pairs of columns, that are non-null and unique in the sample.

    Amounts (decimals) and flags are left out: being unique in a sample is a coincidence for them.
    Fields the SAGE YAML declares `unique` come first.
    """
    n = table.num_rows
    if n < 2:
        return []
    complete = [name for name in table.column_names if table.column(name).null_count == 0
                and not types[name].startswith(("decimal", "boolean"))]
    complete.sort(key=lambda name: name not in declared_unique)
    distinct = {name: pc.count_distinct(table.column(name)).as_py() for name in complete}
    singles = [[name] for name in complete if distinct[name] == n]
    pool = sorted((c for c in complete if distinct[c] < n and distinct[c] > 1), key=lambda c: -distinct[c])
    pool = pool[:MAX_PAIR_COLUMNS]
    pairs = []
    for a, b in itertools.combinations(pool, 2):
        if distinct[a] * distinct[b] < n:
            continue
        if table.select([a, b]).group_by([a, b]).aggregate([]).num_rows == n:
            pairs.append([a, b])
            if len(singles) + len(pairs) >= limit:
                break
    return (singles + pairs)[:limit]


def infer_columns(member_or_path: UploadMember | str | Path, sample_rows: int = 10_000) -> dict[str, Any]:
    """Per-column type proposals and key candidates from the first `sample_rows` rows.

    Returns `{"catalog", "file", "rows_sampled", "columns": {name: {"type", "declared", "nulls",
    "max_length"}}, "key_candidates": [[col], [col, col], ...]}`; `type` is a type string that
    `types.parse_type` reads (`decimal(12,2)`, `varchar(64)`, `timestamp`, ...).
    """
    if isinstance(member_or_path, UploadMember):
        member = member_or_path
        declared: dict[str, str | None] = {f.name: f.type for f in member.catalog.fields}
    else:
        path = Path(member_or_path)
        if not path.is_file():
            raise ConfigError(f"{path}: sample file not found")
        member = _member_for_path(path)
        declared = {f.name: None for f in member.catalog.fields}
    if sample_rows < 1:
        raise ConfigError(f"sample_rows must be positive, got {sample_rows}")
    table = _sample(member, sample_rows)
    columns: dict[str, dict[str, Any]] = {}
    for name in table.column_names:
        values = table.column(name).combine_chunks()
        lengths = pc.utf8_length(values)
        columns[name] = {
            "type": str(_propose(values, declared[name])),
            "declared": declared[name],
            "nulls": values.null_count,
            "max_length": int(pc.max(lengths).as_py() or 0),
        }
    return {"catalog": member.catalog.key, "file": member.display, "rows_sampled": table.num_rows,
            "columns": columns,
            "key_candidates": _key_candidates(table, {n: c["type"] for n, c in columns.items()},
                                              {f.name for f in member.catalog.fields if f.unique})}


def proposed_overrides(inferred: dict[str, Any]) -> dict[str, str]:
    """The `columns:` overrides worth writing: types that differ from the SAGE default."""
    out = {}
    for name, info in inferred["columns"].items():
        default = SAGE_TYPES[info["declared"]] if info["declared"] else ColumnType(Kind.TEXT)
        if info["type"] != str(default):
            out[name] = info["type"]
    return out

