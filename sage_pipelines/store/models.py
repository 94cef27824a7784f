"""The metadata store's tables, with the plan's own table and column names.

`db_secrets.credenciales` holds only ciphertext; everything else a user may see is plaintext.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from sage_pipelines.store.states import ConnectionStatus, ServerStatus


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Casilla(Base):
    __tablename__ = "casillas"
    id: Mapped[int] = mapped_column(primary_key=True)
    nombre: Mapped[str] = mapped_column(String(200), unique=True)
    descripcion: Mapped[str] = mapped_column(Text, default="")
    yaml_contenido: Mapped[str] = mapped_column(Text)
    creado_en: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actualizado_en: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DbSecret(Base):
    __tablename__ = "db_secrets"
    id: Mapped[int] = mapped_column(primary_key=True)
    nombre: Mapped[str] = mapped_column(String(200), unique=True)
    tipo: Mapped[str] = mapped_column(String(30))  # postgresql|mysql|sqlserver|duckdb|s3|broker
    servidor: Mapped[Optional[str]] = mapped_column(String(255))  # host
    puerto: Mapped[Optional[int]] = mapped_column(Integer)
    usuario: Mapped[Optional[str]] = mapped_column(String(255))
    basedatos: Mapped[Optional[str]] = mapped_column(String(255))
    credenciales: Mapped[Optional[bytes]] = mapped_column(LargeBinary)  # Fernet ciphertext only
    opciones: Mapped[dict[str, Any]] = mapped_column(default=dict)  # non-secret driver options
    creado_en: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actualizado_en: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DatabaseConnection(Base):
    __tablename__ = "database_connections"
    id: Mapped[int] = mapped_column(primary_key=True)
    nombre: Mapped[str] = mapped_column(String(200), unique=True)
    secret_id: Mapped[int] = mapped_column(ForeignKey("db_secrets.id"))
    base_datos: Mapped[Optional[str]] = mapped_column(String(255))
    esquema: Mapped[Optional[str]] = mapped_column(String(255))
    estado_conexion: Mapped[str] = mapped_column(String(30), default=ConnectionStatus.UNTESTED)
    ultimo_test: Mapped[Optional[dt.datetime]] = mapped_column()
    latencia_ms: Mapped[Optional[float]] = mapped_column()
    mensaje_error: Mapped[Optional[str]] = mapped_column(Text)
    creado_en: Mapped[dt.datetime] = mapped_column(default=utcnow)
    secret: Mapped[DbSecret] = relationship()


class Lake(Base):
    """A data lake ("cloud" in the plan): a warehouse URI plus, for Iceberg, a catalog."""

    __tablename__ = "lakes"
    id: Mapped[int] = mapped_column(primary_key=True)
    nombre: Mapped[str] = mapped_column(String(200), unique=True)
    warehouse: Mapped[str] = mapped_column(Text)
    catalog_uri: Mapped[Optional[str]] = mapped_column(Text)
    secret_id: Mapped[Optional[int]] = mapped_column(ForeignKey("db_secrets.id"))
    opciones: Mapped[dict[str, Any]] = mapped_column(default=dict)
    creado_en: Mapped[dt.datetime] = mapped_column(default=utcnow)
    secret: Mapped[Optional[DbSecret]] = relationship()


class MaterializationServer(Base):
    __tablename__ = "materialization_servers"
    id: Mapped[int] = mapped_column(primary_key=True)
    nombre: Mapped[str] = mapped_column(String(200), unique=True)
    tipo: Mapped[str] = mapped_column(String(30))  # local|remote|container
    endpoint: Mapped[Optional[str]] = mapped_column(Text)  # broker URL without its password
    secret_id: Mapped[Optional[int]] = mapped_column(ForeignKey("db_secrets.id"))
    capacidad: Mapped[int] = mapped_column(Integer, default=1)
    prioridad: Mapped[int] = mapped_column(Integer, default=0)
    estado: Mapped[str] = mapped_column(String(30), default=ServerStatus.UNKNOWN)
    ultimo_heartbeat: Mapped[Optional[dt.datetime]] = mapped_column()
    metricas: Mapped[dict[str, Any]] = mapped_column(default=dict)
    creado_en: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Materialization(Base):
    __tablename__ = "materializations"
    id: Mapped[int] = mapped_column(primary_key=True)
    nombre: Mapped[str] = mapped_column(String(200), unique=True)
    casilla_id: Mapped[int] = mapped_column(ForeignKey("casillas.id"))
    descripcion: Mapped[str] = mapped_column(Text, default="")
    servidor: Mapped[str] = mapped_column(String(200), default="auto")  # auto | server name
    schedule: Mapped[Optional[str]] = mapped_column(String(100))
    activo: Mapped[bool] = mapped_column(default=True)
    creado_en: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actualizado_en: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    casilla: Mapped[Casilla] = relationship()
    tables: Mapped[list["MaterializationTable"]] = relationship(
        back_populates="materialization", cascade="all, delete-orphan", order_by="MaterializationTable.id")
    destinations: Mapped[list["MaterializationDestination"]] = relationship(
        back_populates="materialization", cascade="all, delete-orphan",
        order_by="MaterializationDestination.id")


class MaterializationDestination(Base):
    __tablename__ = "materialization_destinations"
    __table_args__ = (UniqueConstraint("materialization_id", "nombre"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    materialization_id: Mapped[int] = mapped_column(ForeignKey("materializations.id"))
    nombre: Mapped[str] = mapped_column(String(200))  # the alias used in the YAML
    tipo: Mapped[str] = mapped_column(String(30))  # connection | lake
    connection_id: Mapped[Optional[int]] = mapped_column(ForeignKey("database_connections.id"))
    lake_id: Mapped[Optional[int]] = mapped_column(ForeignKey("lakes.id"))
    formato: Mapped[Optional[str]] = mapped_column(String(30))  # iceberg|hudi|delta for lakes
    materialization: Mapped[Materialization] = relationship(back_populates="destinations")
    connection: Mapped[Optional[DatabaseConnection]] = relationship()
    lake: Mapped[Optional[Lake]] = relationship()


class MaterializationTable(Base):
    __tablename__ = "materialization_tables"
    __table_args__ = (UniqueConstraint("materialization_id", "catalogo"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    materialization_id: Mapped[int] = mapped_column(ForeignKey("materializations.id"))
    catalogo: Mapped[str] = mapped_column(String(200))  # catalog key in the SAGE YAML
    tabla: Mapped[str] = mapped_column(String(400))  # target, `schema.name` or `name`
    primary_key: Mapped[list[Any]] = mapped_column(default=list)
    estrategia: Mapped[str] = mapped_column(String(30))
    delete_by: Mapped[list[Any]] = mapped_column(default=list)
    particionamiento: Mapped[Optional[dict[str, Any]]] = mapped_column()
    schema_change: Mapped[str] = mapped_column(String(30), default="evolve")
    columnas: Mapped[dict[str, Any]] = mapped_column(default=dict)  # type overrides
    destinos: Mapped[list[Any]] = mapped_column(default=list)  # destination aliases
    materialization: Mapped[Materialization] = relationship(back_populates="tables")


class Upload(Base):
    __tablename__ = "uploads"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sortable by time
    casilla_id: Mapped[int] = mapped_column(ForeignKey("casillas.id"))
    ruta: Mapped[str] = mapped_column(Text)  # $SAGE_HOME/landing/<casilla>/<id>/
    origen: Mapped[str] = mapped_column(String(30), default="cli")  # cli | landing | execution
    tamano_bytes: Mapped[int] = mapped_column(BigInteger, default=0)  # uploads may exceed 2 GB
    archivos: Mapped[list[Any]] = mapped_column(default=list)
    creado_en: Mapped[dt.datetime] = mapped_column(default=utcnow)
    casilla: Mapped[Casilla] = relationship()


class MaterializationHistory(Base):
    __tablename__ = "materialization_history"
    id: Mapped[int] = mapped_column(primary_key=True)
    materialization_id: Mapped[Optional[int]] = mapped_column(ForeignKey("materializations.id"))
    tabla_id: Mapped[Optional[int]] = mapped_column(ForeignKey("materialization_tables.id"))
    destino_id: Mapped[Optional[int]] = mapped_column(ForeignKey("materialization_destinations.id"))
    casilla: Mapped[str] = mapped_column(String(200))
    tabla: Mapped[str] = mapped_column(String(400))
    destino: Mapped[str] = mapped_column(String(200))
    upload_id: Mapped[str] = mapped_column(String(64))
    estado: Mapped[str] = mapped_column(String(30))  # HistoryStatus
    estrategia: Mapped[str] = mapped_column(String(30))
    servidor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("materialization_servers.id"))
    servidor: Mapped[Optional[str]] = mapped_column(String(200))  # the server's name (outlives the server)
    razon_servidor: Mapped[Optional[str]] = mapped_column(Text)
    filas: Mapped[int] = mapped_column(BigInteger, default=0)
    insertadas: Mapped[int] = mapped_column(BigInteger, default=0)
    actualizadas: Mapped[int] = mapped_column(BigInteger, default=0)
    eliminadas: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    segundos: Mapped[float] = mapped_column(default=0.0)
    error: Mapped[Optional[str]] = mapped_column(Text)
    # the asset checks run after the write: [{name, passed, count, samples}], None when none ran
    comprobaciones: Mapped[Optional[list[Any]]] = mapped_column()
    filas_tabla: Mapped[Optional[int]] = mapped_column(BigInteger)  # the table's rows after the write
    dagster_run_id: Mapped[Optional[str]] = mapped_column(String(64))
    iniciado_en: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finalizado_en: Mapped[Optional[dt.datetime]] = mapped_column()


class AuditLog(Base):
    """One row per change (and per refused or audited read): who, from where, what, before/after."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    momento: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200), default="cli", index=True)  # user name or cli:<os user>
    accion: Mapped[str] = mapped_column(String(100))
    objeto: Mapped[str] = mapped_column(String(400), index=True)
    detalle: Mapped[dict[str, Any]] = mapped_column(default=dict)  # never secrets
    origen: Mapped[Optional[str]] = mapped_column(String(30))  # cli | api | web | system
    cliente: Mapped[Optional[str]] = mapped_column(String(200))  # the client's address (api, web)
    antes: Mapped[Optional[dict[str, Any]]] = mapped_column()  # changed fields before; secrets as ***
    despues: Mapped[Optional[dict[str, Any]]] = mapped_column()  # changed fields after; secrets as ***


class User(Base):
    """Someone who may use the API and the pages, with one role (admin | operator | viewer)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    nombre: Mapped[str] = mapped_column(String(200), unique=True)
    rol: Mapped[str] = mapped_column(String(30))
    activo: Mapped[bool] = mapped_column(default=True)
    creado_en: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Token(Base):
    """A user's API token: only a salted hash of its secret part is stored (the token is shown once)."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    sal: Mapped[bytes] = mapped_column(LargeBinary)
    hash: Mapped[bytes] = mapped_column(LargeBinary)
    descripcion: Mapped[str] = mapped_column(String(200), default="")
    creado_en: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expira_en: Mapped[Optional[dt.datetime]] = mapped_column()
    revocado_en: Mapped[Optional[dt.datetime]] = mapped_column()
    ultimo_uso: Mapped[Optional[dt.datetime]] = mapped_column()
    user: Mapped[User] = relationship()
