"""Uploads: a file, a folder or a ZIP package lands immutably under landing/<casilla>/<id>/."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from sage_pipelines.casilla.readers import upload_members
from sage_pipelines.cli import main
from sage_pipelines.services.home import init_home
from sage_pipelines.errors import ConfigError
from sage_pipelines.settings import SageHome
from sage_pipelines.services.casillas import load_casilla, register_casilla
from sage_pipelines.store.db import session_scope
from sage_pipelines.store.models import AuditLog, Upload
from sage_pipelines.services.uploads import add_upload, list_uploads, new_upload_id, register_landed_upload

CLIENTES = "codigo_cliente,nombre,limite_credito,credito_usado\nCLI-001,Ana Núñez,1500.50,0\n"
VENTAS = "codigo_venta,fecha,codigo_cliente,codigo_producto,cantidad,precio_unitario,total\n" \
         "V-001,2024-01-05,CLI-001,PROD-001,2,10.25,20.50\n"


@pytest.fixture
def home(sage_home: Path, samples: Path) -> SageHome:
    """A store with casilla `ventas` (three catalogs) and casilla `demo` (one CSV catalog)."""
    home = init_home()
    demo = ("sage_yaml: {name: demo}\ncatalogs:\n  ventas:\n    name: Ventas\n    filename: ventas.csv\n"
            "    file_format: {type: CSV, delimiter: ',', header: true}\n    fields:\n"
            "      - {name: anio, type: entero}\n      - {name: cliente, type: texto}\n")
    with session_scope(home) as session:
        register_casilla(session, "ventas", (samples / "sistema_ventas_excel_csv_zip.yaml").read_text(), "s.yaml")
        register_casilla(session, "demo", demo, "demo.yaml")
    return home


@pytest.fixture
def files(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "carpeta").mkdir(parents=True)
    (src / "carpeta" / "clientes.csv").write_text(CLIENTES, encoding="utf-8")
    (src / "carpeta" / "ventas.csv").write_text(VENTAS, encoding="utf-8")
    (src / "carpeta" / ".DS_Store").write_bytes(b"\0")
    with zipfile.ZipFile(src / "paquete.zip", "w") as z:
        z.writestr("clientes.csv", CLIENTES)
        z.writestr("ventas.csv", VENTAS)
    (src / "ventas_demo.csv").write_text("anio,cliente\n2024,METRO\n", encoding="utf-8")
    (src / "otro.csv").write_text("x\n", encoding="utf-8")
    return src


def add(home: SageHome, casilla: str, path: Path, upload_id: str | None = None) -> Upload:
    with session_scope(home) as session:
        return add_upload(session, home, casilla, path, upload_id)


def landed_catalogs(home: SageHome, casilla: str, upload: Upload) -> list[str]:
    with session_scope(home) as session:
        _, sage = load_casilla(session, casilla)
    return sorted(m.catalog.key for m in upload_members(sage, home.upload_dir(casilla, upload.id)))


def test_a_single_file_lands_in_its_own_folder(home, files):
    upload = add(home, "ventas", files / "carpeta" / "ventas.csv")
    folder = home.upload_dir("ventas", upload.id)
    assert upload.ruta == str(folder)
    assert (folder / "ventas.csv").read_text(encoding="utf-8") == VENTAS
    assert (upload.archivos, upload.tamano_bytes, upload.origen) == (["ventas.csv"], len(VENTAS.encode()), "cli")


def test_a_lone_file_of_a_one_catalog_casilla_is_stored_under_the_catalog_filename(home, files):
    upload = add(home, "demo", files / "ventas_demo.csv")
    assert sorted(p.name for p in home.upload_dir("demo", upload.id).iterdir()) == ["ventas.csv"]
    assert landed_catalogs(home, "demo", upload) == ["ventas"]


def test_a_folder_lands_with_only_its_catalog_files(home, files):
    upload = add(home, "ventas", files / "carpeta")
    folder = home.upload_dir("ventas", upload.id)
    assert sorted(p.name for p in folder.iterdir()) == ["clientes.csv", "ventas.csv"]
    assert sorted(upload.archivos) == ["clientes.csv", "ventas.csv"]
    assert upload.tamano_bytes == len(CLIENTES.encode()) + len(VENTAS.encode())
    assert landed_catalogs(home, "ventas", upload) == ["clientes", "ventas"]


def test_a_zip_package_lands_as_the_package(home, files):
    upload = add(home, "ventas", files / "paquete.zip")
    folder = home.upload_dir("ventas", upload.id)
    assert [p.name for p in folder.iterdir()] == ["paquete.zip"]
    assert (folder / "paquete.zip").read_bytes() == (files / "paquete.zip").read_bytes()
    assert sorted(upload.archivos) == ["clientes.csv", "ventas.csv"]
    assert upload.tamano_bytes == (files / "paquete.zip").stat().st_size
    assert landed_catalogs(home, "ventas", upload) == ["clientes", "ventas"]


def test_generated_ids_sort_by_time(home, files):
    ids = [add(home, "ventas", files / "carpeta" / "ventas.csv").id for _ in range(5)]
    assert ids == sorted(ids) and len(set(ids)) == 5
    with session_scope(home) as session:
        assert [u.id for u in list_uploads(session, "ventas")] == ids


def test_generated_id_is_a_utc_timestamp_with_a_random_suffix():
    import datetime as dt
    upload_id = new_upload_id(dt.datetime(2030, 11, 29, 6, 15, 2, 123456, tzinfo=dt.timezone.utc))
    assert upload_id.startswith("20301129T061502.123456Z-") and len(upload_id) == 30


def test_an_existing_id_is_refused_and_the_upload_is_unchanged(home, files):
    add(home, "ventas", files / "carpeta" / "ventas.csv", "semana-48")
    with pytest.raises(ConfigError, match="upload 'semana-48' already exists in casilla 'ventas': "
                                          "uploads are immutable"):
        add(home, "ventas", files / "carpeta" / "clientes.csv", "semana-48")
    folder = home.upload_dir("ventas", "semana-48")
    assert [p.name for p in folder.iterdir()] == ["ventas.csv"]
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]


def test_an_id_is_unique_across_casillas(home, files):
    add(home, "ventas", files / "carpeta" / "ventas.csv", "u1")
    with pytest.raises(ConfigError, match="upload 'u1' already exists in casilla 'ventas'"):
        add(home, "demo", files / "ventas_demo.csv", "u1")


@pytest.mark.parametrize("bad", ["../escape", "a/b", ".hidden", "-x", "", "a" * 65, "semana 48", "..", "ü"])
def test_an_id_that_could_escape_or_break_paths_is_refused(home, files, bad):
    with pytest.raises(ConfigError, match="--id: invalid upload id"):
        add(home, "ventas", files / "carpeta" / "ventas.csv", bad)
    assert list((home.landing).rglob("*.csv")) == []


def test_a_member_no_catalog_names_is_refused_before_anything_is_copied(home, files):
    with pytest.raises(ConfigError, match=r"otro.csv: no catalog of casilla .* has this filename"):
        add(home, "ventas", files / "otro.csv")
    assert not (home.landing / "ventas").exists() or list((home.landing / "ventas").iterdir()) == []
    with session_scope(home) as session:
        assert session.scalars(select(Upload)).all() == []


def test_an_unknown_casilla_is_named(home, files):
    with pytest.raises(ConfigError, match="unknown casilla 'nada'"):
        add(home, "nada", files / "otro.csv")


def test_a_folder_dropped_into_landing_is_registered_once(home, files):
    folder = home.upload_dir("ventas", "20301129T000000Z-abcdef")
    folder.mkdir(parents=True)
    (folder / "clientes.csv").write_text(CLIENTES, encoding="utf-8")
    with session_scope(home) as session:
        first = register_landed_upload(session, home, "ventas", folder.name, "landing")
        again = register_landed_upload(session, home, "ventas", folder.name, "landing")
        assert again is first
        assert (first.origen, first.archivos, first.tamano_bytes) == ("landing", ["clientes.csv"],
                                                                      len(CLIENTES.encode()))


def test_add_writes_an_audit_row(home, files):
    upload = add(home, "ventas", files / "paquete.zip")
    with session_scope(home) as session:
        row = session.scalars(select(AuditLog).where(AuditLog.accion == "upload.add")).one()
        assert row.objeto == f"ventas/{upload.id}"


def test_cli_add_prints_only_the_upload_id(home, files, capsys):
    assert main(["uploads", "add", "ventas", str(files / "paquete.zip"), "--id", "pkg-1"]) == 0
    assert capsys.readouterr().out == "pkg-1\n"
    assert main(["uploads", "add", "ventas", str(files / "paquete.zip"), "--id", "pkg-1"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "uploads are immutable" in captured.err
    assert main(["uploads", "list", "ventas"]) == 0
    assert "pkg-1" in capsys.readouterr().out


def test_a_sage_execution_data_file_lands_under_its_uuid(home, tmp_path):
    execution = tmp_path / "executions" / "0b9c4a52-6a4e-4d2b-9a57-3f1f0f6f1c11"
    execution.mkdir(parents=True)
    (execution / "data.csv").write_text("anio,cliente\n2024,METRO\n", encoding="utf-8")
    with session_scope(home) as session:
        upload = add_upload(session, home, "demo", execution / "data.csv", upload_id=execution.name,
                            origen="execution")
        assert (upload.id, upload.origen, upload.archivos) == (execution.name, "execution", ["ventas.csv"])
