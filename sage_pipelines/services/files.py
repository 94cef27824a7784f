"""Files users hand in: YAML text read or decoded one way, and files received over the network
saved under SAGE_HOME before a service reads them.

`read_text` (a path given to the CLI) and `decode_text` (bytes sent to the API) refuse the same
things with the same words. `incoming` is a private folder under `$SAGE_HOME/.incoming` (the
same file system as the landing area, so an upload moves into place instead of being copied
again), removed with whatever is left in it; `save_stream` copies a stream into it a chunk at a
time, so a file is never held whole in memory.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
from pathlib import Path, PureWindowsPath
from typing import BinaryIO, Iterator

from sage_pipelines.errors import ConfigError
from sage_pipelines.settings import SageHome

CHUNK = 1 << 20


def decode_text(data: bytes, source: str) -> str:
    """UTF-8 text (a BOM tolerated), or one line saying why it is not."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def read_text(path: str) -> str:
    """A YAML file's text (UTF-8, a BOM tolerated), or one line saying why it cannot be read."""
    try:
        return decode_text(Path(path).read_bytes(), path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, expected a YAML file") from None


def safe_filename(name: str | None, field: str = "file") -> str:
    """The last part of a client's file name (`C:\\x\\ventas.csv` -> `ventas.csv`); never a path."""
    base = PureWindowsPath(Path(name or "").name).name.strip()
    if not base or base.startswith(".") or "\x00" in base or len(base) > 255:
        raise ConfigError(f"{field}: the file needs a plain name (got {name!r})", field=field)
    return base


@contextlib.contextmanager
def incoming(home: SageHome) -> Iterator[Path]:
    """A fresh private folder under `$SAGE_HOME/.incoming`, removed afterwards."""
    root = home.root / ".incoming"
    root.mkdir(parents=True, exist_ok=True)
    folder = root / secrets.token_hex(8)
    folder.mkdir(mode=0o700)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def save_stream(stream: BinaryIO, folder: Path, filename: str | None, field: str = "file") -> Path:
    """Copy `stream` into `folder/<its plain name>` a chunk at a time; returns the path."""
    target = folder / safe_filename(filename, field)
    with open(target, "wb") as out:
        shutil.copyfileobj(stream, out, CHUNK)
    return target
