"""Where a lake's files live: table locations, pyarrow filesystems and each library's options.

A lake is a warehouse URI (`file:///...` or `s3://bucket/prefix`) plus options and secret
credentials (`LakeSettings`). Settings use one neutral vocabulary, translated here for each
library so no destination spells storage keys itself:

| neutral key         | pyarrow S3FileSystem | pyiceberg FileIO      | deltalake storage option |
|---------------------|----------------------|-----------------------|--------------------------|
| access_key_id       | access_key           | s3.access-key-id      | AWS_ACCESS_KEY_ID        |
| secret_access_key   | secret_key           | s3.secret-access-key  | AWS_SECRET_ACCESS_KEY    |
| session_token       | session_token        | s3.session-token      | AWS_SESSION_TOKEN        |
| region              | region               | s3.region             | AWS_REGION               |
| endpoint            | endpoint_override    | s3.endpoint           | AWS_ENDPOINT_URL         |

A key already in a library's own spelling (`s3.*` for pyiceberg, upper-case for deltalake) is
passed through to that library unchanged; the known keys are also recognised in the
other libraries' spellings (`s3.access-key-id`, `aws_access_key_id`, `AWS_ENDPOINT_URL`, ...). Credentials are read at use time from the
`credentials` callable and never stored on the destination, logged or put in metadata.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping
from urllib.parse import unquote, urlparse

import pyarrow.fs as pafs

from sage_pipelines.destinations.base import LakeSettings
from sage_pipelines.destinations.lake.capabilities import FOLDER_NAMES
from sage_pipelines.errors import ConfigError
from sage_pipelines.name_rules import name_problem

_PYARROW = {"access_key_id": "access_key", "secret_access_key": "secret_key",
            "session_token": "session_token", "region": "region", "endpoint": "endpoint_override"}
_ICEBERG = {"access_key_id": "s3.access-key-id", "secret_access_key": "s3.secret-access-key",
            "session_token": "s3.session-token", "region": "s3.region", "endpoint": "s3.endpoint"}
_DELTA = {"access_key_id": "AWS_ACCESS_KEY_ID", "secret_access_key": "AWS_SECRET_ACCESS_KEY",
          "session_token": "AWS_SESSION_TOKEN", "region": "AWS_REGION", "endpoint": "AWS_ENDPOINT_URL"}


def scheme(warehouse: str) -> str:
    parsed = urlparse(warehouse)
    if parsed.scheme in ("", "file"):
        return "file"
    if parsed.scheme in ("s3", "s3a"):
        return "s3"
    raise ConfigError(f"lake warehouse {warehouse!r}: unsupported scheme {parsed.scheme!r} "
                      "(expected file:// or s3://)")


def local_path(warehouse: str) -> Path:
    """The directory of a `file://` (or plain path) warehouse."""
    parsed = urlparse(warehouse)
    return Path(unquote(parsed.path) if parsed.scheme == "file" else warehouse)


def warehouse_uri(warehouse: str) -> str:
    """The warehouse as a URI with a scheme and no trailing slash."""
    if scheme(warehouse) == "file":
        return local_path(warehouse).resolve().as_uri()
    return warehouse.rstrip("/")


def folder_name_problem(part: str) -> str | None:
    """Why `part` cannot be the folder of a Delta or Hudi table or namespace, or None."""
    return name_problem(part) or FOLDER_NAMES.problem(part)


def table_uri(warehouse: str, namespace: str, table: str) -> str:
    """`<warehouse>/<namespace>/<table>` (Delta and Hudi table roots)."""
    for part in (namespace, table):
        problem = folder_name_problem(part)
        if problem:
            raise ConfigError(f"lake table {namespace}.{table}: {part!r} is not a valid name: {problem}")
    return f"{warehouse_uri(warehouse)}/{namespace}/{table}"


# Every spelling a setting may arrive in (neutral, pyiceberg, deltalake / object_store) -> neutral.
_ALIASES: dict[str, str] = {}
for _table in (_ICEBERG, _DELTA):
    for _neutral, _native in _table.items():
        _ALIASES[_native] = _ALIASES[_native.lower()] = _neutral
_ALIASES.update({"aws_endpoint": "endpoint", "AWS_ENDPOINT": "endpoint"})


def _options(settings: LakeSettings) -> dict[str, str]:
    """Options then credentials, with known storage keys in their neutral spelling."""
    merged: dict[str, str] = {}
    for source in (settings.options, settings.credentials() or {}):
        for key, value in source.items():
            merged[_ALIASES.get(key, key)] = value
    return merged


def _translate(options: Mapping[str, str], names: Mapping[str, str],
               native: Callable[[str], bool]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in options.items():
        if key in names:
            out[names[key]] = value
        elif native(key):
            out[key] = value
    return out


def iceberg_properties(settings: LakeSettings) -> dict[str, str]:
    """pyiceberg FileIO properties (`s3.*`) for the lake's storage."""
    return _translate(_options(settings), _ICEBERG, lambda k: k.startswith(("s3.", "py-io-impl")))


def delta_storage_options(settings: LakeSettings) -> dict[str, str] | None:
    """deltalake `storage_options` for the lake's storage (None for a local warehouse)."""
    if scheme(settings.warehouse) == "file":
        return None
    opts = _translate(_options(settings), _DELTA, lambda k: k.isupper() or k.startswith("aws_"))
    if opts.get("AWS_ENDPOINT_URL", "").startswith("http://"):
        opts.setdefault("AWS_ALLOW_HTTP", "true")
    return opts


def filesystem(settings: LakeSettings) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and the warehouse's path inside it (for listing and reading files)."""
    if scheme(settings.warehouse) == "file":
        return pafs.LocalFileSystem(), str(local_path(settings.warehouse).resolve())
    kwargs = _translate(_options(settings), _PYARROW, lambda k: False)
    endpoint = kwargs.get("endpoint_override", "")
    if endpoint.startswith(("http://", "https://")):
        kwargs["scheme"], _, kwargs["endpoint_override"] = endpoint.partition("://")
    parsed = urlparse(settings.warehouse)
    return pafs.S3FileSystem(**kwargs), f"{parsed.netloc}{parsed.path}".rstrip("/")
