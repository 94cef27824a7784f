"""Produce an iterator's items in a thread, a bounded number ahead of the consumer.

One piece for both sides of a write: the casilla reader (parse + convert ahead of the
destination) and the SQL bulk loads (encode the next chunk while the database loads this one).

Parsing and converting a CSV (pyarrow, Arrow compute) and loading the batches into a database
(COPY, DuckDB's scan) both spend their time in C that releases the GIL, so on two cores they
overlap: the reader prepares the next batches while the destination writes the current one.
The queue holds at most `depth` items, so memory stays bounded however large the file.

Everything the producer raises reaches the consumer after the items produced before it, as
if the iterator had run in the consumer's thread. When the consumer stops early (an error of
its own, a closed reader), the producer is told to stop, closed in its own thread (its files
are closed) and joined before the consumer goes on.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

_DONE = object()
_POLL_SECONDS = 0.1  # how often a producer blocked on a full queue checks whether to stop


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """`items`, produced in a background thread at most `depth` ahead (lazy: starts on first use)."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    break
            else:
                offer(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            offer(_Failure(exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="sage-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        worker.join()
