"""The Hudi timeline (layout version 1, JSON instants directly in `.hoodie/`).

A write is the sequence `<t>.<action>.requested` -> `<t>.inflight` (`<t>.replacecommit.inflight`)
-> data files -> the completed `<t>.<action>`, written under a temporary name in `.hoodie/.aux`
and renamed into place: readers use completed instants only, so a write becomes visible at once
or not at all. The requested instant is written before any data file because readers treat a
file older than the earliest instant on the timeline as committed. Instant times are UTC
`yyyyMMddHHmmssSSS`, strictly increasing over every instant already on the timeline.

Writers of one table are not always kept apart by a lock (object stores; `hudi.lock: none`), so
the rename is optimistic: right before it, the timeline is listed again, and a completed instant
this write did not see when it read the timeline (another writer committed meanwhile, on data
this write planned without) makes `complete` raise `ConcurrentCommit` instead; the write then
removes everything of its own.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

import pyarrow.fs as pafs

from sage_pipelines.destinations.hudi.table import AUX, HOODIE, TableLocation

COMPLETED_ACTIONS = ("commit", "replacecommit", "deltacommit")
_INSTANT_RE = re.compile(r"^(\d{17})\.([a-z]+)(?:\.(requested|inflight))?$")
_FORMAT = "%Y%m%d%H%M%S"


@dataclass(frozen=True, order=True)
class Instant:
    timestamp: str
    action: str
    state: str  # requested | inflight | completed

    @property
    def file_name(self) -> str:
        if self.state == "completed":
            return f"{self.timestamp}.{self.action}"
        if self.state == "inflight" and self.action == "commit":
            return f"{self.timestamp}.inflight"
        return f"{self.timestamp}.{self.action}.{self.state}"


def _parse(name: str) -> Instant | None:
    m = _INSTANT_RE.match(name)
    if not m:
        return None
    ts, action, state = m.group(1), m.group(2), m.group(3)
    if action == "inflight" and state is None:  # `<t>.inflight` is the commit's inflight file
        return Instant(ts, "commit", "inflight")
    return Instant(ts, action, state or "completed")


class ConcurrentCommit(Exception):
    """Another writer completed `instant` after this write read the timeline."""

    def __init__(self, instant: Instant):
        super().__init__(f"instant {instant.timestamp} ({instant.action}) was committed meanwhile")
        self.instant = instant


class Timeline:
    """The instants of one table, read once per write (under the writer lock, if any)."""

    def __init__(self, location: TableLocation):
        self.location = location
        self.instants = self._read()
        self.seen = frozenset(self.completed)

    def _read(self) -> list[Instant]:
        return sorted(i for i in map(_parse, self.location.list_names(HOODIE)) if i is not None)

    def unseen_completed(self) -> list[Instant]:
        """Completed instants on the timeline now that were not there when this write read it."""
        return [i for i in self._read()
                if i.state == "completed" and i.action in COMPLETED_ACTIONS and i not in self.seen]

    @property
    def completed(self) -> list[Instant]:
        return [i for i in self.instants if i.state == "completed" and i.action in COMPLETED_ACTIONS]

    def latest_metadata(self) -> dict[str, Any] | None:
        """The commit metadata of the latest completed instant, or None for an empty timeline."""
        done = self.completed
        if not done:
            return None
        return json.loads(self.location.read_bytes(f"{HOODIE}/{done[-1].file_name}"))

    def new_instant_time(self, now: dt.datetime | None = None) -> str:
        now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).replace(tzinfo=None)
        if self.instants:
            last = self.instants[-1].timestamp
            after_last = (dt.datetime.strptime(last[:14], _FORMAT)
                          + dt.timedelta(milliseconds=int(last[14:]) + 1))
            now = max(now, after_last)
        return now.strftime(_FORMAT) + f"{now.microsecond // 1000:03d}"

    def begin(self, timestamp: str, action: str) -> None:
        """Write the requested and inflight instants (empty files, as Hudi does for plain writes)."""
        for state in ("requested", "inflight"):
            instant = Instant(timestamp, action, state)
            self.location.write_bytes(f"{HOODIE}/{instant.file_name}", b"")
            self.instants.append(instant)

    def complete(self, timestamp: str, action: str, metadata: dict[str, Any]) -> None:
        """Publish the write: the completed instant appears whole, by rename, unless another
        writer completed an instant since this write read the timeline (`ConcurrentCommit`)."""
        final = Instant(timestamp, action, "completed")
        temp = f"{AUX}/{final.file_name}.{timestamp}.tmp"
        try:
            self.location.fs.create_dir(self.location.path(AUX), recursive=True)
            self.location.write_bytes(temp, json.dumps(metadata, indent=2).encode("utf-8"))
            unseen = self.unseen_completed()
            if unseen:
                raise ConcurrentCommit(unseen[-1])
            self.location.fs.move(self.location.path(temp), self.location.path(HOODIE, final.file_name))
        except BaseException:
            self.location.delete(temp)
            raise
        self.instants.append(final)

    def pending(self) -> list[Instant]:
        """Requested / inflight instants that never completed (a failed or running write)."""
        done = {i.timestamp for i in self.instants if i.state == "completed"}
        return [i for i in self.instants if i.state != "completed" and i.timestamp not in done]

    def roll_back_dead_writes(self) -> list[str]:
        """Remove what writers that died mid-write (killed, host lost) left: their data files
        (`*_<instant>.parquet`), their commit metadata in `.aux`, then their pending instants.
        Only for a caller holding the table's host lock: then no live writer has a pending
        instant, since every writer holds that lock from before `begin` until it completes or
        undoes its instant. Readers never saw any of it (they read completed instants only), so
        this changes no read; it frees the space and leaves the timeline as Hudi's own eager
        rollback of failed writes would. Returns the instants rolled back."""
        stale = self.pending()
        if not stale:
            return []
        stamps = {i.timestamp for i in stale}
        infos = self.location.fs.get_file_info(pafs.FileSelector(self.location.base, recursive=True))
        for info in infos:
            if info.type != pafs.FileType.File:
                continue
            name = info.base_name
            if name.endswith(".parquet") and name[:-len(".parquet")].rsplit("_", 1)[-1] in stamps:
                self.location.fs.delete_file(info.path)
            elif name.endswith(".tmp") and name.split(".")[0] in stamps and f"/{AUX}/" in info.path:
                self.location.fs.delete_file(info.path)
        for instant in sorted(stale, key=lambda i: ("requested", "inflight").index(i.state), reverse=True):
            self.location.delete(f"{HOODIE}/{instant.file_name}")
        self.instants = [i for i in self.instants if i not in stale]
        return sorted(stamps)

    def abandon(self, timestamp: str, action: str) -> None:
        """Remove the pending instants of a failed write (its data files are already gone)."""
        for state in ("inflight", "requested"):
            self.location.delete(f"{HOODIE}/{Instant(timestamp, action, state).file_name}")
