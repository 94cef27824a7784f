"""`/casillas`: register a casilla by uploading its SAGE YAML; its catalogs, YAML and uploads;
`analyze` (type and key proposals from an uploaded sample or the newest upload); and new uploads
(a file or a ZIP package, streamed to disk, then landed by the same service as `sage uploads add`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import select

from sage_pipelines.api.deps import home_of, permit, store
from sage_pipelines.api.runs import RunOut, run_view
from sage_pipelines.api.schemas import UtcTime, YamlResponse, described
from sage_pipelines.casilla.model import Catalog, SageYaml
from sage_pipelines.errors import ConfigError
from sage_pipelines.materialization.export import spec_to_dict
from sage_pipelines.materialization.names import NAME_RE
from sage_pipelines.orchestration.submit import land_and_submit
from sage_pipelines.services.analysis import propose
from sage_pipelines.services.auth import Principal
from sage_pipelines.services.casillas import list_casillas, load_casilla, register_casilla
from sage_pipelines.services.files import decode_text, incoming, save_stream
from sage_pipelines.services.home import WAREHOUSE
from sage_pipelines.services.uploads import add_upload, list_uploads
from sage_pipelines.store.models import Casilla, Materialization, Upload

router = APIRouter(prefix="/casillas", tags=["casillas"])
MAX_YAML_BYTES = 10 << 20
YAML_TYPES = ("application/yaml", "text/yaml", "text/plain")


class FieldOut(BaseModel):
    name: str
    type: str
    required: bool
    unique: bool
    description: str


class CatalogOut(BaseModel):
    key: str
    name: str
    filename: str
    format: str
    delimiter: str | None = None
    header: bool
    fields: list[FieldOut]


class CasillaOut(BaseModel):
    name: str
    description: str
    updated: UtcTime
    catalogs: list[str]


class CasillaDetail(CasillaOut):
    catalog_details: list[CatalogOut] = Field(description="each catalog (file) of the casilla, in the YAML's order")
    materializations: list[str]


class UploadOut(BaseModel):
    id: str
    casilla: str
    created: UtcTime
    origin: str
    bytes: int
    files: list[str]


class LandedUpload(BaseModel):
    upload: UploadOut
    runs: list[RunOut] = Field(default_factory=list, description="the runs queued for it (with run=true)")


class Analysis(BaseModel):
    casilla: str
    materialization: dict[str, Any] = Field(description="the proposed materialization: the document "
                                                        "`POST /materializations` takes, as `sage analyze` proposes it")
    inferred: dict[str, dict[str, Any]] = Field(description="per catalog: file, rows_sampled, columns "
                                                            "(type, declared, nulls, max_length), key_candidates")
    yaml: str = Field(description="the proposal as `sage analyze` prints it")


def catalog_view(catalog: Catalog) -> CatalogOut:
    fmt = catalog.file_format
    return CatalogOut(key=catalog.key, name=catalog.name, filename=catalog.filename, format=fmt.type,
                      delimiter=fmt.delimiter, header=fmt.header,
                      fields=[FieldOut(name=f.name, type=f.type, required=f.required, unique=f.unique,
                                       description=f.description) for f in catalog.fields])


def casilla_view(row: Casilla, sage: SageYaml) -> CasillaOut:
    return CasillaOut(name=row.nombre, description=row.descripcion, updated=row.actualizado_en,
                      catalogs=list(sage.catalogs))


def upload_view(upload: Upload, casilla: str) -> UploadOut:
    return UploadOut(id=upload.id, casilla=casilla, created=upload.creado_en, origin=upload.origen,
                     bytes=upload.tamano_bytes, files=list(upload.archivos))


def _yaml_text(file: UploadFile) -> str:
    data = file.file.read(MAX_YAML_BYTES + 1)
    if len(data) > MAX_YAML_BYTES:
        raise ConfigError(f"yaml: larger than {MAX_YAML_BYTES >> 20} MB; a SAGE YAML is a few KB", field="yaml")
    return decode_text(data, file.filename or "yaml")


@router.get("", response_model=list[CasillaOut], summary="List casillas")
def list_all(request: Request, _: Principal = Depends(permit("read"))) -> list[CasillaOut]:
    with store(request) as session:
        return [casilla_view(row, load_casilla(session, row.nombre)[1]) for row in list_casillas(session)]


@router.post("", response_model=CasillaOut, summary="Register a casilla (or update its YAML) from its SAGE YAML")
def register(request: Request, name: str = Form(max_length=64, **described(NAME_RE)),
             yaml: UploadFile = File(description="the SAGE YAML"),
             _: Principal = Depends(permit("casillas.write"))) -> CasillaOut:
    text = _yaml_text(yaml)
    with store(request) as session:
        row = register_casilla(session, name, text, yaml.filename or "yaml")
        return casilla_view(row, load_casilla(session, name)[1])


@router.get("/{name}", response_model=CasillaDetail, summary="A casilla, its catalogs and materializations")
def show(name: str, request: Request, _: Principal = Depends(permit("read"))) -> CasillaDetail:
    with store(request) as session:
        row, sage = load_casilla(session, name)
        used_by = list(session.scalars(select(Materialization.nombre).where(Materialization.casilla_id == row.id)
                                       .order_by(Materialization.nombre)))
        return CasillaDetail(**casilla_view(row, sage).model_dump(),
                             catalog_details=[catalog_view(c) for c in sage.catalogs.values()], materializations=used_by)


@router.get("/{name}/catalogs", response_model=list[CatalogOut], summary="A casilla's catalogs (its files)")
def catalogs(name: str, request: Request, _: Principal = Depends(permit("read"))) -> list[CatalogOut]:
    with store(request) as session:
        _, sage = load_casilla(session, name)
        return [catalog_view(c) for c in sage.catalogs.values()]


@router.get("/{name}/yaml", response_class=YamlResponse, summary="The casilla's SAGE YAML as registered",
            responses={200: {"content": {"application/yaml": {"schema": {"type": "object"}}}}})
def yaml_text(name: str, request: Request, _: Principal = Depends(permit("read"))) -> YamlResponse:
    with store(request) as session:
        row, _sage = load_casilla(session, name)
        return YamlResponse(row.yaml_contenido)


@router.post("/{name}/analyze", response_model=Analysis,
             summary="A proposed materialization: types and keys from an uploaded sample (a file or ZIP), "
                     "else the newest upload")
def analyze(name: str, request: Request, sample: UploadFile | None = File(None, description="a file or ZIP to sample"),
            rows: int = Query(10_000, ge=1, le=1_000_000, description="rows sampled per file"),
            destination: str = Query(WAREHOUSE, max_length=200, description="the connection the tables go to"),
            _: Principal = Depends(permit("materializations.write"))) -> Analysis:
    home = home_of(request)
    with store(request) as session:
        load_casilla(session, name)  # an unknown casilla is a 404 before any file is saved
    with incoming(home) as folder:
        path = save_stream(sample.file, folder, sample.filename, "sample") if sample is not None else None
        with store(request) as session:
            proposal = propose(session, home, name, path, rows, destination,
                               sample_name=sample.filename if sample is not None else None)
    return Analysis(casilla=name, materialization=spec_to_dict(proposal.spec), inferred=proposal.inferred,
                    yaml=proposal.yaml())


@router.get("/{name}/uploads", response_model=list[UploadOut], summary="A casilla's uploads, oldest first")
def uploads(name: str, request: Request, _: Principal = Depends(permit("read"))) -> list[UploadOut]:
    with store(request) as session:
        return [upload_view(u, name) for u in list_uploads(session, name)]


@router.post("/{name}/uploads", response_model=LandedUpload, status_code=201,
             summary="Upload a file or a ZIP package (streamed to disk) and land it; with run=true, queue its runs")
def upload(name: str, request: Request, file: UploadFile = File(description="a catalog file or a ZIP package"),
           id: str | None = Form(None, max_length=64, description="the upload id (default: generated, sortable by time)"),
           run: bool = Form(False, description="queue its runs now (instead of waiting for the landing sensor)"),
           _: Principal = Depends(permit("uploads.write"))) -> LandedUpload:
    home = home_of(request)
    with store(request) as session:
        load_casilla(session, name)
    with incoming(home) as folder:
        path = save_stream(file.file, folder, file.filename)
        if run:
            upload_id, runs = land_and_submit(home, name, path, id, "api", move=True)
        else:
            with store(request) as session:
                upload_id, runs = add_upload(session, home, name, path, id, "api", move=True).id, []
    with store(request) as session:
        landed = session.get(Upload, upload_id)
        return LandedUpload(upload=upload_view(landed, name), runs=[run_view(r) for r in runs])
