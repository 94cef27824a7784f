"""Open the Iceberg catalog a lake names.

`LakeSettings.catalog_uri` chooses it: none -> a SQLite catalog at `<warehouse>/catalog.db`
(file warehouses only); `sqlite:///...` or `postgresql[+psycopg]://...` -> pyiceberg's SQL
catalog; `http(s)://...` -> a REST catalog. Storage credentials become FileIO properties.
The catalog URI may carry a password, so it never appears in a message.
"""

from __future__ import annotations

import time

from pyiceberg.catalog import Catalog, load_catalog
from sqlalchemy.exc import DBAPIError

from sage_pipelines.destinations.base import LakeSettings
from sage_pipelines.destinations.lake.storage import iceberg_properties, local_path, scheme, warehouse_uri
from sage_pipelines.errors import ConfigError

DEFAULT_CATALOG_FILE = "catalog.db"
CREATE_ATTEMPTS = 5


def catalog_uri(settings: LakeSettings) -> str:
    """The catalog's URI, defaulting to a SQLite file beside a local warehouse."""
    if settings.catalog_uri:
        uri = settings.catalog_uri
        if uri.startswith("postgresql://"):  # SQLAlchemy's default driver is psycopg2; we ship psycopg 3
            uri = "postgresql+psycopg://" + uri[len("postgresql://"):]
        return uri
    if scheme(settings.warehouse) != "file":
        raise ConfigError(f"lake {settings.name!r}: an s3:// warehouse needs a catalog URI "
                          "(--catalog-uri postgresql://... or https://... for a REST catalog)")
    root = local_path(settings.warehouse).resolve()
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / DEFAULT_CATALOG_FILE}"


def open_catalog(settings: LakeSettings) -> Catalog:
    uri = catalog_uri(settings)
    properties = {"warehouse": warehouse_uri(settings.warehouse), **iceberg_properties(settings)}
    if uri.startswith(("http://", "https://")):
        return load_catalog(settings.name, type="rest", uri=uri, **properties)
    if uri.startswith(("sqlite", "postgresql")):
        return _sql_catalog(settings.name, uri, properties)
    raise ConfigError(f"lake {settings.name!r}: unsupported Iceberg catalog URI scheme "
                      f"{uri.split(':', 1)[0]!r} (expected sqlite, postgresql, http or https)")


def _sql_catalog(name: str, uri: str, properties: dict[str, str]) -> Catalog:
    """pyiceberg's SQL catalog, whose first opening creates its tables. Two processes opening a
    new catalog at once (the lake's first two writes) both find the tables absent and both
    create them; the later CREATE fails ("table ... already exists"). That one opens it again,
    now finding the tables. (Found by the concurrent-writers test.)"""
    from pyiceberg.catalog.sql import SqlCatalog

    for attempt in range(CREATE_ATTEMPTS):
        try:
            return SqlCatalog(name, uri=uri, **properties)
        except DBAPIError as exc:
            text = str(exc.orig).lower()
            if attempt == CREATE_ATTEMPTS - 1 or not ("already exists" in text or "duplicate" in text):
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")
