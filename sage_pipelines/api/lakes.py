"""`/lakes`: a warehouse URI (`file://`, `s3://`), an optional Iceberg catalog URI, an s3 secret."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from sage_pipelines.api.deps import permit, store
from sage_pipelines.api.schemas import described
from sage_pipelines.materialization.names import LABEL_RE
from sage_pipelines.security import redact_url
from sage_pipelines.services.auth import Principal
from sage_pipelines.services.lakes import add_lake, default_catalog_uri, get_lake, list_lakes, remove_lake
from sage_pipelines.store.models import Lake

router = APIRouter(prefix="/lakes", tags=["lakes"])


class LakeFields(BaseModel):
    warehouse: str = Field(max_length=2000, description="file:///path or s3://bucket/prefix")
    catalog_uri: str | None = Field(None, max_length=2000,
                                    description="Iceberg SQL catalog (default for file:// lakes: "
                                                "sqlite:///<lake>/catalog.db)")
    secret: str | None = Field(None, max_length=200, description="an s3 secret with the access keys (s3:// lakes)")
    options: dict[str, str] = Field(default_factory=dict, description="storage or catalog options")


class LakeIn(LakeFields):
    name: str = Field(max_length=200, **described(LABEL_RE))


class LakeOut(BaseModel):
    name: str
    warehouse: str
    catalog_uri: str | None = Field(None, description="the catalog in use (the default one when none was given)")
    secret: str | None = None
    options: dict[str, str]


def lake_view(lake: Lake) -> LakeOut:
    catalog = lake.catalog_uri or default_catalog_uri(lake.warehouse)
    return LakeOut(name=lake.nombre, warehouse=lake.warehouse, catalog_uri=redact_url(catalog) if catalog else None,
                   secret=lake.secret.nombre if lake.secret else None, options=dict(lake.opciones or {}))


@router.get("", response_model=list[LakeOut], summary="List lakes")
def list_all(request: Request, _: Principal = Depends(permit("read"))) -> list[LakeOut]:
    with store(request) as session:
        return [lake_view(lake) for lake in list_lakes(session)]


@router.post("", response_model=LakeOut, status_code=201, summary="Add a lake")
def create(body: LakeIn, request: Request, _: Principal = Depends(permit("lakes.write"))) -> LakeOut:
    with store(request) as session:
        return lake_view(add_lake(session, body.name, body.warehouse, catalog_uri=body.catalog_uri,
                                  secret=body.secret, options=body.options))


@router.get("/{name}", response_model=LakeOut, summary="Show a lake")
def show(name: str, request: Request, _: Principal = Depends(permit("read"))) -> LakeOut:
    with store(request) as session:
        return lake_view(get_lake(session, name))


@router.put("/{name}", response_model=LakeOut, summary="Change a lake")
def change(name: str, body: LakeFields, request: Request, _: Principal = Depends(permit("lakes.write"))) -> LakeOut:
    with store(request) as session:
        get_lake(session, name)
        return lake_view(add_lake(session, name, body.warehouse, catalog_uri=body.catalog_uri, secret=body.secret,
                                  options=body.options, replace=True))


@router.delete("/{name}", status_code=204, response_class=Response,
               summary="Forget a lake no materialization writes to (its files stay)")
def remove(name: str, request: Request, _: Principal = Depends(permit("lakes.write"))) -> Response:
    with store(request) as session:
        remove_lake(session, name)
    return Response(status_code=204)
