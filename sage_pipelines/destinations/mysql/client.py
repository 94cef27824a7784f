"""Opening a MySQL / MariaDB connection: the one way writes and `connections test` do it.

Every connection is what a write needs: `utf8mb4`, `local_infile` on the client, autocommit (the
write begins its own transaction), a strict `sql_mode` (a value that does not fit fails instead
of being truncated), and a server that allows `LOAD DATA LOCAL INFILE` (`@@local_infile`): a
server that refuses it fails here with `BulkPathRefused`, so `connections test` fails with the
words the first write would otherwise have met only after creating its table.
"""

from __future__ import annotations

from typing import Any

import pymysql

from sage_pipelines.destinations.base import ConnectionSettings
from sage_pipelines.destinations.mysql.settings import DEFAULT_PORT, MySQLSettings
from sage_pipelines.destinations.sql.connect import BulkPathRefused, Client, ConnectHints

CONNECT_TIMEOUT_SECONDS = 10
STRICT_MODE = "STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"
LOCAL_INFILE_OFF = ("LOAD DATA LOCAL INFILE is off on the server (local_infile = OFF); enable it "
                    "with SET GLOBAL local_infile = 1 and local_infile = 1 under [mysqld] in the "
                    "server's configuration")
# Client and server error numbers that say exactly what is wrong.
HINTS = ConnectHints(default_port=DEFAULT_PORT,
                     errno_categories={1044: "credentials", 1045: "credentials", 1049: "database",
                                       2005: "host", 2026: "TLS"})


def open_connection(settings: ConnectionSettings, timeout: float | None = None) -> Any:
    kwargs = MySQLSettings.of(settings).driver_kwargs(CONNECT_TIMEOUT_SECONDS if timeout is None else timeout)
    kwargs.update(password=settings.password() or "", charset="utf8mb4", local_infile=True, autocommit=True)
    conn = pymysql.connect(**kwargs)
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION sql_mode = %s", (STRICT_MODE,))
            cur.execute("SELECT @@GLOBAL.local_infile")
            if not cur.fetchone()[0]:
                raise BulkPathRefused(LOCAL_INFILE_OFF)
    except BaseException:
        conn.close()
        raise
    return conn



CLIENT = Client(open=open_connection, hints=HINTS)
