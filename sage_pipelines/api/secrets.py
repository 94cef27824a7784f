"""`/secrets`: credentials for databases, lakes and brokers. The password is write-only: it is
never in a response, an error, a log or the audit. A viewer or operator sees a secret's name and
type only; its host, port, user, database and options need `secrets.read` (admins)."""

from __future__ import annotations


from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from sage_pipelines.api.deps import home_of, permit, store
from sage_pipelines.api.schemas import UtcTime, described
from sage_pipelines.materialization.names import LABEL_RE
from sage_pipelines.services.auth import Principal
from sage_pipelines.services.secrets import (SECRET_TYPES, add_secret, drop_old_keys, get_secret, list_secrets,
                                             remove_secret, rotate_key, show_secret)
from sage_pipelines.store.models import DbSecret

router = APIRouter(prefix="/secrets", tags=["secrets"])
_TYPES = ", ".join(SECRET_TYPES)


class SecretFields(BaseModel):
    type: str = Field(description=f"one of {_TYPES}", max_length=30, **described(enum=SECRET_TYPES))
    host: str | None = Field(None, max_length=255)
    port: int | None = None
    user: str | None = Field(None, max_length=255, description="user name (S3: the access key id, stored encrypted)")
    database: str | None = Field(None, max_length=255, description="database name (DuckDB: the database file)")
    password: str | None = Field(None, description="write-only: stored encrypted, never returned "
                                                  "(S3: the secret access key)", json_schema_extra={"writeOnly": True})
    options: dict[str, str] = Field(default_factory=dict, description="driver options, e.g. sslmode (never a secret)")


class SecretIn(SecretFields):
    name: str = Field(max_length=200, **described(LABEL_RE))


class SecretChange(SecretFields):
    """A replacement of every field; an absent password keeps the stored one."""


class SecretOut(BaseModel):
    name: str
    type: str
    host: str | None = None
    port: int | None = None
    user: str | None = None
    database: str | None = None
    options: dict[str, str] | None = None
    password_set: bool | None = Field(None, description="whether a password (S3: access keys) is stored")
    created: UtcTime | None = None
    updated: UtcTime | None = None


class Rotation(BaseModel):
    reencrypted: int
    old_keys_removed: int | None = None


def secret_view(secret: DbSecret, principal: Principal) -> SecretOut:
    """Everything an admin may see; name and type for everyone else."""
    if not principal.can("secrets.read"):
        return SecretOut(name=secret.nombre, type=secret.tipo)
    return SecretOut(name=secret.nombre, type=secret.tipo, host=secret.servidor, port=secret.puerto,
                     user=secret.usuario, database=secret.basedatos, options=dict(secret.opciones or {}),
                     password_set=secret.credenciales is not None, created=secret.creado_en,
                     updated=secret.actualizado_en)


@router.get("", response_model=list[SecretOut], response_model_exclude_none=True, summary="List secrets")
def list_all(request: Request, principal: Principal = Depends(permit("read"))) -> list[SecretOut]:
    with store(request) as session:
        return [secret_view(s, principal) for s in list_secrets(session)]


@router.post("", response_model=SecretOut, response_model_exclude_none=True, status_code=201,
             summary="Add a secret")
def create(body: SecretIn, request: Request, principal: Principal = Depends(permit("secrets.write"))) -> SecretOut:
    with store(request) as session:
        row = add_secret(session, body.name, body.type, host=body.host, port=body.port, user=body.user,
                         database=body.database, password=body.password, options=body.options,
                         home=home_of(request))
        return secret_view(row, principal)


@router.post("/rotate-key", response_model=Rotation, response_model_exclude_none=True,
             summary="Re-encrypt every secret under a new key")
def rotate(request: Request, drop_old: bool = False, _: Principal = Depends(permit("secrets.write"))) -> Rotation:
    home = home_of(request)
    with store(request) as session:
        count = rotate_key(home, session)
    if not drop_old:
        return Rotation(reencrypted=count)
    with store(request) as session:  # only once the re-encryption has committed
        return Rotation(reencrypted=count, old_keys_removed=drop_old_keys(home, session))


@router.get("/{name}", response_model=SecretOut, response_model_exclude_none=True, summary="Show a secret")
def show(name: str, request: Request, principal: Principal = Depends(permit("read"))) -> SecretOut:
    with store(request) as session:
        show_secret(session, name)  # audited: who looked
        return secret_view(get_secret(session, name), principal)


@router.put("/{name}", response_model=SecretOut, response_model_exclude_none=True, summary="Change a secret")
def change(name: str, body: SecretChange, request: Request,
           principal: Principal = Depends(permit("secrets.write"))) -> SecretOut:
    with store(request) as session:
        get_secret(session, name)  # 404 for an unknown name: PUT changes, POST adds
        row = add_secret(session, name, body.type, host=body.host, port=body.port, user=body.user,
                         database=body.database, password=body.password, options=body.options,
                         home=home_of(request), replace=True, keep_password=True)
        return secret_view(row, principal)


@router.delete("/{name}", status_code=204, response_class=Response, summary="Remove a secret no one uses")
def remove(name: str, request: Request, _: Principal = Depends(permit("secrets.write"))) -> Response:
    with store(request) as session:
        remove_secret(session, name)
    return Response(status_code=204)
