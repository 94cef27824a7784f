"""Lakes: a warehouse URI (`file://` or `s3://`), an optional Iceberg catalog URI, and for S3
the name of a secret of type `s3` whose access keys stay encrypted until a writer needs them.

`lake_settings` hands each table format its storage options under the names its library
expects (pyiceberg's `s3.*` FileIO properties; the `aws_*` object-store keys of deltalake and
hudi-rs), inside a callable that decrypts at use time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit
from urllib.request import url2pathname

from sqlalchemy import select
from sqlalchemy.orm import Session

from sage_pipelines.crypto import decrypt_secret
from sage_pipelines.destinations.base import LakeSettings
from sage_pipelines.destinations.registry import LAKE_FORMATS
from sage_pipelines.errors import ConfigError, ConflictError
from sage_pipelines.materialization.names import check_label
from sage_pipelines.services.audit import audit, remove_audited
from sage_pipelines.services.secrets import get_secret
from sage_pipelines.settings import SageHome
from sage_pipelines.store.lookup import find_named, get_named, materializations_writing_to
from sage_pipelines.store.models import Lake

WAREHOUSE_SCHEMES = ("file", "s3")
CATALOG_FILE = "catalog.db"

# Storage-option names per format: (access key id, secret access key, region, endpoint).
_S3_KEYS = {
    "iceberg": ("s3.access-key-id", "s3.secret-access-key", "s3.region", "s3.endpoint"),
    "delta": ("aws_access_key_id", "aws_secret_access_key", "aws_region", "aws_endpoint"),
    "hudi": ("aws_access_key_id", "aws_secret_access_key", "aws_region", "aws_endpoint"),
}


def file_uri_path(uri: str) -> Path:
    """The local path of a `file://` URI."""
    return Path(url2pathname(urlsplit(uri).path))


def default_catalog_uri(warehouse: str) -> str | None:
    """SQLite beside a local lake (`<lake>/catalog.db`); remote lakes name their catalog."""
    if urlsplit(warehouse).scheme == "file":
        return f"sqlite:///{file_uri_path(warehouse) / CATALOG_FILE}"
    return None


def _check_uri(lake: str, flag: str, uri: str, schemes: tuple[str, ...] | None) -> str:
    field = flag.lstrip("-").replace("-", "_")
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError:
        raise ConfigError(f"lake {lake!r}: {flag} is not a valid URI", field=field) from None
    if schemes is not None and parts.scheme not in schemes:
        raise ConfigError(f"lake {lake!r}: {flag} {uri!r} must start with "
                          f"{' or '.join(s + '://' for s in schemes)}", field=field)
    if parts.password is not None:
        raise ConfigError(f"lake {lake!r}: {flag} holds a password, which would be stored in plaintext; "
                          "keep credentials in a secret (--secret)", field=field)
    return uri


def get_lake(session: Session, name: str) -> Lake:
    return get_named(session, Lake, name, "lake", "sage lakes add NAME --warehouse URI")


def list_lakes(session: Session) -> list[Lake]:
    return list(session.scalars(select(Lake).order_by(Lake.nombre)))


def audit_fields(lake: Lake) -> dict[str, Any]:
    return {"warehouse": lake.warehouse, "catalog_uri": lake.catalog_uri,
            "secret": lake.secret.nombre if lake.secret is not None else None, "options": dict(lake.opciones or {})}


def add_lake(session: Session, name: str, warehouse: str, catalog_uri: str | None = None,
             secret: str | None = None, options: Mapping[str, Any] | None = None, *,
             replace: bool = False) -> Lake:
    """Register lake `name`. A `file://` warehouse directory is created; `s3://` takes an s3 secret."""
    check_label(name, "lake")
    _check_uri(name, "--warehouse", warehouse, WAREHOUSE_SCHEMES)
    if catalog_uri is not None:
        _check_uri(name, "--catalog-uri", catalog_uri, None)
    secret_row = get_secret(session, secret) if secret else None
    if secret_row is not None and secret_row.tipo != "s3":
        raise ConfigError(f"lake {name!r}: secret {secret!r} is of type {secret_row.tipo!r}; a lake needs an s3 secret",
                          field="secret")
    lake = find_named(session, Lake, name)
    if lake is not None and not replace:
        raise ConflictError(f"lake {name!r} already exists", field="name")
    before = None if lake is None else audit_fields(lake)
    if urlsplit(warehouse).scheme == "file":
        try:
            file_uri_path(warehouse).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"lake {name!r}: cannot create the warehouse folder {file_uri_path(warehouse)} "
                              f"({exc.strerror or type(exc).__name__})", field="warehouse") from None
    if lake is None:
        lake = Lake(nombre=name)
        session.add(lake)
    lake.warehouse, lake.catalog_uri = warehouse, catalog_uri
    lake.secret_id = secret_row.id if secret_row is not None else None
    lake.opciones = {str(k): str(v) for k, v in (options or {}).items()}
    session.flush()
    session.refresh(lake, ["secret"])
    audit(session, "lake.add" if before is None else "lake.replace", f"lake:{name}", before=before,
          after=audit_fields(lake))
    return lake


def remove_lake(session: Session, name: str) -> None:
    """Forget lake `name` (its files stay where they are), unless a materialization writes to it."""
    lake = get_lake(session, name)
    remove_audited(session, lake, "lake", name, audit_fields(lake), materializations_writing_to(session, lake_id=lake.id),
                   "apply them without it first")


def _credentials_callable(home: SageHome, lake: Lake, format: str) -> Callable[[], Mapping[str, str]]:
    """Storage options for `format`, decrypted from the lake's s3 secret when called."""
    secret = lake.secret
    if secret is None:
        return dict
    ciphertext, secret_options = secret.credenciales, dict(secret.opciones or {})
    key_id, secret_key, region, endpoint = _S3_KEYS[format]

    def credentials() -> Mapping[str, str]:
        payload = decrypt_secret(home, ciphertext) if ciphertext else {}
        out = {key_id: payload.get("access_key_id"), secret_key: payload.get("secret_access_key"),
               region: secret_options.get("region"), endpoint: secret_options.get("endpoint")}
        return {k: str(v) for k, v in out.items() if v}
    return credentials


def lake_settings(session: Session, lake_name: str, format: str, *, home: SageHome | None = None) -> LakeSettings:
    """How `format` tables reach lake `lake_name`; credentials decrypt only when called."""
    if format not in LAKE_FORMATS:
        raise ConfigError(f"lake {lake_name!r}: format must be one of {', '.join(LAKE_FORMATS)}, not {format!r}")
    home = home or SageHome.from_env()
    lake = get_lake(session, lake_name)
    return LakeSettings(
        name=lake.nombre, warehouse=lake.warehouse, format=format,
        catalog_uri=lake.catalog_uri or default_catalog_uri(lake.warehouse),
        options=dict(lake.opciones or {}), credentials=_credentials_callable(home, lake, format))
