"""Uploads: immutable, time-sortable copies of a casilla's files under `landing/<casilla>/<id>/`.

An upload is one file, a folder of files or a ZIP package whose members are named by the
catalogs' `filename`. It is checked against the casilla before anything is copied, copied into
a hidden temporary folder beside its final place and then renamed, so a reader (the landing
sensor) never sees half an upload, and an existing id is never overwritten.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import threading
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from sage_pipelines.casilla.model import SageYaml
from sage_pipelines.casilla.readers import UploadMember, upload_members
from sage_pipelines.errors import ConfigError, ConflictError
from sage_pipelines.materialization.casillas import get_casilla, load_casilla
from sage_pipelines.materialization.names import check_upload_id
from sage_pipelines.services.audit import audit
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope
from sage_pipelines.store.models import Casilla, Upload

_TEMP_PREFIX = ".incoming-"
_clock_lock = threading.Lock()
_last_stamp = dt.datetime.min


def new_upload_id(now: dt.datetime | None = None) -> str:
    """`20261129T061502.123456Z-3f9a1c`: UTC time to the microsecond, then a random suffix.

    Ids from one process strictly increase even within one microsecond; the suffix keeps ids
    from different processes unique.
    """
    global _last_stamp
    now = (now or dt.datetime.now(dt.timezone.utc)).replace(tzinfo=None)
    with _clock_lock:
        if now <= _last_stamp:
            now = _last_stamp + dt.timedelta(microseconds=1)
        _last_stamp = now
    return f"{now:%Y%m%dT%H%M%S.%f}Z-{secrets.token_hex(3)}"


def add_upload(session: Session, home: SageHome, casilla: str, path: str | Path,
               upload_id: str | None = None, origen: str = "cli", *, move: bool = False) -> Upload:
    """Check `path` against the casilla, copy it to landing atomically and record it.

    `origen` says where it came from: `cli`, `api`, or `execution` for a SAGE installation's
    validated execution (`executions/<uuid>/data.<ext>`, whose uuid makes a good `upload_id`).
    `move` moves a lone file instead of copying it (a file received by the API, already saved
    under SAGE_HOME: a second copy of a large upload would only cost time and disk).
    """
    row, sage = load_casilla(session, casilla)
    upload_id = new_upload_id() if upload_id is None else check_upload_id(upload_id, "--id")
    final = home.upload_dir(casilla, upload_id)
    _refuse_existing(session, upload_id, final)
    source = Path(path)
    members = upload_members(sage, source)  # refuses unknown members before anything is copied
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = final.parent / f"{_TEMP_PREFIX}{upload_id}-{secrets.token_hex(4)}"
    temp.mkdir()
    try:
        _copy(sage, source, members, temp, move)
        try:
            os.rename(temp, final)  # fails if `final` appeared meanwhile and holds files
        except OSError:
            raise ConflictError(f"upload {upload_id!r} already exists in casilla {casilla!r}: "
                                "uploads are immutable, choose another --id", field="id") from None
    finally:
        if temp.exists():
            shutil.rmtree(temp)
    try:
        upload = _record(session, row, sage, upload_id, final, origen)
    except BaseException:
        shutil.rmtree(final, ignore_errors=True)
        raise
    audit(session, "upload.add", f"upload:{casilla}/{upload_id}", after={
        "casilla": casilla, "files": upload.archivos, "bytes": upload.tamano_bytes}, source=str(source))
    return upload


def register_landed_upload(session: Session, home: SageHome, casilla: str, upload_id: str,
                           origen: str = "landing") -> Upload:
    """Record an upload that appeared directly in `landing/<casilla>/<id>/` (idempotent)."""
    check_upload_id(upload_id)
    row, sage = load_casilla(session, casilla)
    existing = session.get(Upload, upload_id)
    if existing is not None:
        if existing.casilla_id != row.id:
            raise ConfigError(f"upload {upload_id!r} already belongs to casilla {existing.casilla.nombre!r}")
        return existing
    folder = home.upload_dir(casilla, upload_id)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such upload folder")
    upload = _record(session, row, sage, upload_id, folder, origen)
    audit(session, "upload.add", f"upload:{casilla}/{upload_id}", after={
        "casilla": casilla, "files": upload.archivos, "bytes": upload.tamano_bytes}, source=origen)
    return upload


def list_uploads(session: Session, casilla: str) -> list[Upload]:
    """A casilla's uploads, oldest first (ids sort by time)."""
    row = get_casilla(session, casilla)
    return list(session.scalars(select(Upload).where(Upload.casilla_id == row.id).order_by(Upload.id)))


def _refuse_existing(session: Session, upload_id: str, final: Path) -> None:
    other = session.get(Upload, upload_id)
    if other is not None or final.exists():
        owner = other.casilla.nombre if other is not None else final.parent.name
        raise ConflictError(f"upload {upload_id!r} already exists in casilla {owner!r}: "
                            "uploads are immutable, choose another --id", field="id")


def _copy(sage: SageYaml, source: Path, members: list[UploadMember], into: Path, move: bool = False) -> None:
    """Copy only the upload's catalog files (and ZIP packages), keeping their relative paths.

    A lone file accepted for a one-catalog casilla under another name is stored under the
    catalog's `filename`, so the landed folder maps to the same catalogs as the source did.
    """
    if source.is_file():
        lone = members[0]
        keep = lone.member is not None or sage.catalog_by_filename(source.name) is not None
        target = into / (source.name if keep else lone.catalog.filename)
        if move:
            shutil.move(source, target)  # a rename on the same file system
        else:
            shutil.copyfile(source, target)
        return
    for file in sorted({m.path for m in members}):
        target = into / file.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, target)


def _record(session: Session, casilla: Casilla, sage: SageYaml, upload_id: str, folder: Path,
            origen: str) -> Upload:
    members = upload_members(sage, folder)
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    upload = Upload(id=upload_id, casilla_id=casilla.id, ruta=str(folder), origen=origen, tamano_bytes=size,
                    archivos=[m.name for m in members])
    session.add(upload)
    session.flush()
    return upload


def landed_uploads(home: SageHome, casilla: str) -> list[str]:
    """The upload ids whose folders are in `landing/<casilla>/` (complete ones: temporary folders
    start with a dot), in id order."""
    root = home.landing / casilla
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def latest_upload(home: SageHome, casilla: str) -> str:
    """The upload added last: by the store's creation time (ids given with --id need not sort by
    time); a folder dropped into landing that has no row yet counts from its folder's mtime."""
    ids = landed_uploads(home, casilla)
    if not ids:
        raise ConfigError(f"casilla {casilla!r} has no uploads (add one with `sage uploads add`)")
    with session_scope(home) as session:
        created = dict(session.execute(select(Upload.id, Upload.creado_en).where(Upload.id.in_(ids))).all())

    def added(upload_id: str) -> dt.datetime:
        if upload_id in created:
            return created[upload_id]
        mtime = home.upload_dir(casilla, upload_id).stat().st_mtime
        return dt.datetime.fromtimestamp(mtime, dt.timezone.utc).replace(tzinfo=None)

    return max(ids, key=lambda i: (added(i), i))
