"""Type inference and `sage analyze`: proposals follow what the sample really holds, and apply as printed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from sage_pipelines.casilla.inference import infer_columns, proposed_overrides
from sage_pipelines.casilla.parser import parse_sage_yaml
from sage_pipelines.casilla.readers import upload_members
from sage_pipelines.cli import main
from sage_pipelines.destinations.base import Strategy
from sage_pipelines.services.analysis import NoSample, propose, propose_declared
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope
from sage_pipelines.types import SAGE_TYPES, parse_type
from sage_pipelines_tests.conftest import run_sage

CASILLA_YAML = """
sage_yaml: {name: pedidos}
catalogs:
  pedidos:
    name: Pedidos
    filename: pedidos.csv
    file_format: {type: CSV, delimiter: "|", header: true}
    fields:
      - {name: tienda, type: texto}
      - {name: numero, type: entero}
      - {name: codigo, type: texto, unique: true}
      - {name: monto, type: decimal}
      - {name: fecha, type: fecha}
      - {name: creado, type: fecha}
      - {name: pagado, type: booleano}
"""

PEDIDOS = (
    "tienda|numero|codigo|monto|fecha|creado|pagado\n"
    "T1|1|000101|1234567.891|2024-01-01|2024-01-01 10:15:00|si\n"
    "T1|2|000102|-0.5|2024-01-02|2024-01-02 00:00:00|no\n"
    "T2|1|000103||2024-01-02|2024-01-03 08:00:00|\n"
    "T2|2|000104|12|2024-01-03 00:00:00|2024-01-04 23:59:59|true\n"
)


@pytest.fixture
def pedidos(tmp_path: Path):
    sage = parse_sage_yaml(CASILLA_YAML)
    path = tmp_path / "pedidos.csv"
    path.write_text(PEDIDOS, encoding="utf-8")
    return sage, path


def test_types_are_proposed_from_the_sample(pedidos) -> None:
    sage, path = pedidos
    [member] = upload_members(sage, path)
    result = infer_columns(member)
    types = {name: info["type"] for name, info in result["columns"].items()}
    assert types == {"tienda": "varchar(16)", "numero": "integer", "codigo": "varchar(16)",
                     "monto": "decimal(12,3)", "fecha": "date", "creado": "timestamp", "pagado": "boolean"}
    assert result["rows_sampled"] == 4
    assert result["columns"]["monto"]["nulls"] == 1
    for t in types.values():
        parse_type(t)  # every proposal is a type the materialization YAML accepts


def test_key_candidates_are_unique_non_null_columns_then_pairs(pedidos) -> None:
    sage, path = pedidos
    [member] = upload_members(sage, path)
    keys = infer_columns(member)["key_candidates"]
    assert keys[0] == ["codigo"]  # declared unique comes first
    assert ["tienda", "numero"] in keys or ["numero", "tienda"] in keys
    assert not any("monto" in k or "pagado" in k for k in keys)


def test_overrides_list_only_what_differs_from_sage_defaults(pedidos) -> None:
    sage, path = pedidos
    [member] = upload_members(sage, path)
    overrides = proposed_overrides(infer_columns(member))
    assert overrides["monto"] == "decimal(12,3)" and overrides["creado"] == "timestamp"
    assert "numero" not in overrides and "fecha" not in overrides and "pagado" not in overrides


def test_sample_rows_limits_the_read(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("id;code\n" + "".join(f"{i};{i:06d}\n" for i in range(5000)), encoding="utf-8")
    result = infer_columns(path, sample_rows=1000)
    assert result["rows_sampled"] == 1000
    assert result["columns"]["id"]["type"] == "integer"
    assert result["columns"]["code"]["type"] == "varchar(16)"  # leading zeros: a code, not a number
    assert result["key_candidates"][:2] == [["id"], ["code"]]


def test_bare_file_guesses_every_type(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b,c,d,e\n1.25,2024-01-01,si,x,2024-01-01 10:00:00\n-3,2024-02-01,no,y,2024-01-02\n",
                    encoding="utf-8")
    types = {k: v["type"] for k, v in infer_columns(path)["columns"].items()}
    assert types == {"a": "decimal(10,2)", "b": "date", "c": "boolean", "d": "varchar(16)", "e": "timestamp"}


def test_sage_analyze_prints_a_materialization_with_inferred_types_and_key(sage_home: Path, pedidos, tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    _sage, path = pedidos
    yaml_file = tmp_path / "pedidos.yaml"
    yaml_file.write_text(CASILLA_YAML, encoding="utf-8")
    assert main(["init"]) == 0
    assert main(["casillas", "add", "pedidos", "--yaml", str(yaml_file)]) == 0
    capsys.readouterr()
    assert main(["analyze", "pedidos", "--sample", str(path)]) == 0
    out = capsys.readouterr().out
    assert "key candidates: [codigo]" in out
    doc = yaml.safe_load(out)["materialization"]
    assert (doc["name"], doc["casilla"], doc["destinations"]) == ("pedidos", "pedidos",
                                                                  {"warehouse": {"connection": "warehouse"}})
    block = doc["tables"]["pedidos"]
    assert block["strategy"] == "upsert" and block["primary_key"] == ["codigo"]
    assert block["columns"]["monto"] == {"type": "decimal(12,3)"}
    assert "numero" not in block["columns"]  # an entero that holds integers keeps its SAGE type
    assert block["schema_change"] == "evolve" and block["destinations"] == ["warehouse"]


def test_sage_analyze_without_uploads_says_what_to_do(sage_home: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    yaml_file = tmp_path / "pedidos.yaml"
    yaml_file.write_text(CASILLA_YAML, encoding="utf-8")
    assert main(["init"]) == 0
    assert main(["casillas", "add", "pedidos", "--yaml", str(yaml_file)]) == 0
    assert main(["analyze", "pedidos"]) == 1
    assert "--sample" in capsys.readouterr().err
    assert main(["analyze", "nadie"]) == 1
    assert "unknown casilla 'nadie'" in capsys.readouterr().err


def test_bare_latin1_file_keeps_its_header_names(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes("año;región\n2024;Perú\n".encode("latin-1"))
    result = infer_columns(path)
    assert list(result["columns"]) == ["año", "región"]
    assert result["columns"]["año"]["type"] == "integer"


def test_sage_analyze_defaults_to_the_newest_upload(sage_home: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    yaml_file = tmp_path / "pedidos.yaml"
    yaml_file.write_text(CASILLA_YAML, encoding="utf-8")
    assert main(["init"]) == 0
    assert main(["casillas", "add", "pedidos", "--yaml", str(yaml_file)]) == 0
    for upload_id, body in (("20240101T000000-a", PEDIDOS.replace("000101", "000102")), ("20240201T000000-b", PEDIDOS)):
        folder = sage_home / "landing" / "pedidos" / upload_id
        folder.mkdir(parents=True)
        (folder / "pedidos.csv").write_text(body, encoding="utf-8")
    capsys.readouterr()
    assert main(["analyze", "pedidos"]) == 0
    out = capsys.readouterr().out
    assert "20240201T000000-b" in out
    assert yaml.safe_load(out)["materialization"]["tables"]["pedidos"]["primary_key"] == ["codigo"]


TWO_CATALOGS_YAML = CASILLA_YAML + """
  tiendas:
    name: Tiendas
    filename: tiendas.csv
    file_format: {type: CSV, delimiter: "|", header: true}
    fields:
      - {name: tienda, type: texto}
"""


def without_comments(text: str) -> str:
    return "".join(line + "\n" for line in text.splitlines() if not line.startswith("#"))


def test_sage_analyze_output_is_applied_unchanged_by_materializations_apply(sage_home: Path, pedidos, tmp_path: Path):
    """Printed or written, the proposal is a document `apply` takes, one table per catalog (a
    catalog the sample has no file for included), and `export` gives it back."""
    _sage, path = pedidos
    yaml_file = tmp_path / "pedidos.yaml"
    yaml_file.write_text(TWO_CATALOGS_YAML, encoding="utf-8")
    assert run_sage(sage_home, "init").returncode == 0
    assert run_sage(sage_home, "casillas", "add", "pedidos", "--yaml", str(yaml_file)).returncode == 0
    printed = run_sage(sage_home, "analyze", "pedidos", "--sample", str(path))
    assert printed.returncode == 0, printed.stderr
    proposal = tmp_path / "proposal.yaml"
    wrote = run_sage(sage_home, "analyze", "pedidos", "--sample", str(path), "--write", str(proposal))
    assert wrote.stdout == f"wrote {proposal}; review it, then `sage materializations apply {proposal}`\n"
    assert proposal.read_text(encoding="utf-8") == printed.stdout
    tables = yaml.safe_load(printed.stdout)["materialization"]["tables"]
    assert tables["tiendas"] == {"table": "tiendas", "strategy": "append", "schema_change": "evolve",
                                 "destinations": ["warehouse"]}
    applied = run_sage(sage_home, "materializations", "apply", str(proposal))
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout == "materialization pedidos applied: 2 tables, destinations warehouse\n"
    exported = run_sage(sage_home, "materializations", "export", "pedidos")
    assert exported.stdout == without_comments(printed.stdout)


def test_sage_analyze_destination_sends_the_tables_to_the_named_connection(sage_home: Path, pedidos, tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    _sage, path = pedidos
    yaml_file = tmp_path / "pedidos.yaml"
    yaml_file.write_text(CASILLA_YAML, encoding="utf-8")
    assert main(["init"]) == 0
    assert main(["casillas", "add", "pedidos", "--yaml", str(yaml_file)]) == 0
    assert main(["connections", "add", "analytics", "--secret", "warehouse", "--schema", "ventas"]) == 0
    capsys.readouterr()
    assert main(["analyze", "pedidos", "--sample", str(path), "--destination", "analytics"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["materialization"]["destinations"] == {
        "warehouse": {"connection": "analytics"}}
    assert main(["analyze", "pedidos", "--sample", str(path), "--destination", "analitycs"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("sage: error: unknown connection 'analitycs' (registered: analytics,")


def registered_pedidos(tmp_path: Path, text: str = CASILLA_YAML) -> SageHome:
    yaml_file = tmp_path / "pedidos.yaml"
    yaml_file.write_text(text, encoding="utf-8")
    assert main(["init"]) == 0
    assert main(["casillas", "add", "pedidos", "--yaml", str(yaml_file)]) == 0
    return SageHome.from_env()


def test_a_proposal_without_a_connection_holds_analyzes_tables_and_no_destination(sage_home: Path, pedidos,
                                                                                 tmp_path: Path) -> None:
    """What the console's materialization page pre-fills: `sage analyze`'s tables, before the
    user picks where they go."""
    _sage, path = pedidos
    home = registered_pedidos(tmp_path)
    with session_scope(home) as session:
        printed = propose(session, home, "pedidos", path)
        console = propose(session, home, "pedidos", path, connection=None)
    assert console.spec.destinations == {}
    assert console.spec.tables == {k: replace(t, destinations=()) for k, t in printed.spec.tables.items()}
    assert console.inferred == printed.inferred and console.source == path


def test_before_any_upload_the_proposal_comes_from_the_sage_yaml_alone(sage_home: Path, tmp_path: Path) -> None:
    home = registered_pedidos(tmp_path, CASILLA_YAML.replace("{name: codigo, type: texto, unique: true}",
                                                             "{name: codigo, type: texto, unique: true, required: true}"))
    with session_scope(home) as session:
        with pytest.raises(NoSample, match="has no uploads"):
            propose(session, home, "pedidos")
        proposal = propose_declared(session, "pedidos")
    table = proposal.spec.tables["pedidos"]
    assert (table.strategy, table.primary_key, table.columns) == (Strategy.UPSERT, ("codigo",), {})
    assert proposal.inferred["pedidos"]["columns"]["monto"]["type"] == str(SAGE_TYPES["decimal"])
    assert proposal.inferred["pedidos"]["rows_sampled"] == 0 and proposal.source is None
    assert [d.connection for d in proposal.spec.destinations.values()] == ["warehouse"]


def test_only_fields_declared_both_required_and_unique_are_key_candidates_of_the_sage_yaml(sage_home: Path,
                                                                                          tmp_path: Path) -> None:
    home = registered_pedidos(tmp_path)  # codigo is unique but not required
    with session_scope(home) as session:
        table = propose_declared(session, "pedidos", connection=None).spec.tables["pedidos"]
    assert (table.strategy, table.primary_key, table.destinations) == (Strategy.APPEND, (), ())
