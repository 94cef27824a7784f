"""The threads that overlap reading the upload with the bulk load: `staging.prefetched` (COPY,
DuckDB) and `mysql.pipe.PipeFeeder` (LOAD DATA from a named pipe). No database needed: what
they must guarantee is order, the reader's error unchanged, and no thread left behind."""

from __future__ import annotations

import threading
from typing import Iterator

import pytest

from sage_pipelines.destinations.mysql.pipe import PipeFeeder
from sage_pipelines.destinations.sql.staging import prefetched
from sage_pipelines.errors import DataError


def chunks(n: int, fail_at: int | None = None, seen: list[int] | None = None) -> Iterator[bytes]:
    for i in range(n):
        if i == fail_at:
            raise DataError("upload.csv", i + 2, "monto", "12,5x", "not a decimal")
        if seen is not None:
            seen.append(i)
        yield f"{i}\n".encode()


def live_threads(prefix: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


def test_prefetched_yields_every_item_in_order():
    assert list(prefetched(chunks(50), depth=2)) == [f"{i}\n".encode() for i in range(50)]


def test_prefetched_raises_the_readers_error_unchanged_after_the_items_before_it():
    got = []
    with pytest.raises(DataError, match="line 5") as raised:
        for item in prefetched(chunks(10, fail_at=3)):
            got.append(item)
    assert got == [b"0\n", b"1\n", b"2\n"]
    assert raised.value.line == 5


def test_a_consumer_that_stops_early_stops_the_producer_and_leaves_no_thread():
    seen: list[int] = []
    items = prefetched(chunks(1_000, seen=seen), depth=2)
    assert next(items) == b"0\n"
    items.close()
    assert not live_threads("sage-staging-prefetch")
    assert len(seen) < 10  # it ran at most `depth` (+ the item in hand) ahead, not to the end


def read_pipe(path: str, limit: int | None = None) -> bytes:
    with open(path, "rb") as f:
        return f.read(limit) if limit is not None else f.read()


def test_the_pipe_carries_every_chunk_to_its_reader():
    with PipeFeeder(chunks(2_000)) as feeder:
        data = read_pipe(feeder.path)
        feeder.check()
    assert data == b"".join(f"{i}\n".encode() for i in range(2_000))


def test_the_pipe_has_no_name_a_killed_writer_could_leave_behind():
    with PipeFeeder(chunks(3)) as feeder:
        assert feeder.path.startswith("/proc/self/fd/")  # an anonymous pipe, opened through /proc
        assert read_pipe(feeder.path) == b"0\n1\n2\n"
        feeder.check()


def test_a_reader_error_ends_the_pipe_and_is_raised_by_check():
    with PipeFeeder(chunks(100, fail_at=40)) as feeder:
        data = read_pipe(feeder.path)
        with pytest.raises(DataError, match="line 42"):
            feeder.check()
    assert data == b"".join(f"{i}\n".encode() for i in range(40))


def test_a_load_that_never_reads_the_pipe_does_not_hang_the_write():
    big = (b"x" * 65_536 for _ in range(200))  # far more than the pipe holds
    with PipeFeeder(big):
        pass  # the statement failed before the server asked for the file
    assert not live_threads("sage-load-pipe")


def test_a_load_that_stops_reading_midway_does_not_hang_the_write():
    big = (b"x" * 65_536 for _ in range(200))  # far more than the pipe holds
    with PipeFeeder(big) as feeder:
        assert read_pipe(feeder.path, 1_000) == b"x" * 1_000  # then closes: the load failed
    assert not live_threads("sage-load-pipe")
