"""Re-materializing a range of a casilla's uploads, oldest first, one upload at a time.

`sage backfill CASILLA [--from ID] [--to ID]` takes the casilla's uploads in the order they were
added (the store's creation time, then id: the order `sage materialize` without `--upload`
follows), and for each one queues its runs and waits for them before the next (`follow`), so a
table never sees two of them at once and ends as if the uploads had arrived in that order again.
It stops at the first upload that fails, naming it, so the range can be resumed with `--from`.

From the Dagster UI, a backfill of `materialize_<casilla>` over a range of its upload partitions
does the same: the instance's run queue limits `dagster/backfill` to one run per backfill
(servers/instance.py), and the queue launches runs in the order the backfill created them, which
is the partitions' order: the order the uploads landed.
"""

from __future__ import annotations

from sage_pipelines.errors import ConfigError
from sage_pipelines.orchestration.follow import Echo, materialize_told
from sage_pipelines.orchestration.run import RunOutcome
from sage_pipelines.services.uploads import list_uploads
from sage_pipelines.settings import SageHome
from sage_pipelines.store.db import session_scope


def uploads_in_order(home: SageHome, casilla: str, first: str | None = None, last: str | None = None) -> list[str]:
    """The casilla's upload ids in the order they were added, from `first` to `last` (both included)."""
    with session_scope(home) as session:
        ids = [u.id for u in sorted(list_uploads(session, casilla), key=lambda u: (u.creado_en, u.id))]
    if not ids:
        raise ConfigError(f"casilla {casilla!r} has no uploads (add one with `sage uploads add`)")
    for bound, flag in ((first, "--from"), (last, "--to")):
        if bound is not None and bound not in ids:
            raise ConfigError(f"casilla {casilla!r} has no upload {bound!r} ({flag})")
    start = ids.index(first) if first is not None else 0
    end = ids.index(last) + 1 if last is not None else len(ids)
    if start >= end:
        raise ConfigError(f"casilla {casilla!r}: upload {first!r} (--from) was added after {last!r} (--to)")
    return ids[start:end]


def backfill(casilla: str, first: str | None = None, last: str | None = None, home: SageHome | None = None,
             echo: Echo = print, log: Echo | None = None, in_process: bool = False) -> list[RunOutcome]:
    """Materialize each upload of the range in turn (through the run queue, or in this process);
    returns the outcomes up to and including the first failure."""
    home = home or SageHome.from_env()
    ids = uploads_in_order(home, casilla, first, last)
    outcomes = []
    for number, upload_id in enumerate(ids, 1):
        echo(f"upload {upload_id} ({number} of {len(ids)})")
        outcome = materialize_told(casilla, upload_id, home=home, echo=echo, log=log, in_process=in_process)
        outcomes.append(outcome)
        if not outcome.success:
            break
    return outcomes
