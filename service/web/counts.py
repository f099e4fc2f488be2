"""Sources' line counters as the API and the dashboard show them: stored counts plus the lines still
waiting in the spool, each line counted once while the processor moves it from one to the other.

The processor commits a batch (its lines counted in `source`, its key in `applied_batch`) and only
then acknowledges it in the spool. Reading the spool first, the counters second and the applied
keys last means a batch is never counted twice; at worst, for a moment, a batch committed between
the two reads is counted in neither, and it is processed by then.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlmodel import Session, col, select

from service.db import utcnow
from service.incidents.queries import list_sources, source_json
from service.models import AppliedBatch, Source
from service.sources import get_source
from service.spool.store import Spool
from service.spool.tally import Tally


def source_counters(
    session: Session, spool: Spool, name: str | None = None, *, tally: Tally | None = None
) -> dict[str, Any]:
    """Return the JSON of every source (or of the one named), by name, with waiting lines
    (`lines_waiting`: accepted, still in the spool; counted in `lines_received` too).

    With `tally`, each also says how many of its lines intake kept without their own time
    (`times_ignored`, and by reason in `times_ignored_reasons`).
    """
    pending = spool.pending_batches()
    if name is None:
        stored = list_sources(session)
    else:
        pending = [batch for batch in pending if batch[1] == name]
        one = get_source(session, name)
        stored = [one] if one is not None else []
    keys = [key for key, _, _ in pending]
    applied = set(
        session.exec(select(AppliedBatch.key).where(col(AppliedBatch.key).in_(keys))).all()
        if keys
        else ()
    )
    waiting: Counter[str] = Counter()
    for key, source, lines in pending:
        if key not in applied:
            waiting[source] += lines
    found = {
        source.name: {
            **source_json(source, waiting[source.name]),
            "lines_waiting": waiting[source.name],
        }
        for source in stored
    }
    for source_name, lines in waiting.items():
        if source_name not in found:
            placeholder = Source(name=source_name, created_at=utcnow())
            found[source_name] = {
                **source_json(placeholder, lines),
                "lines_waiting": lines,
                "created_at": None,
            }
    if tally is not None:
        counts = tally.counts(name)
        for source_name, view in found.items():
            reasons = counts.get(source_name, {})
            view["times_ignored"] = sum(reasons.values())
            view["times_ignored_reasons"] = reasons
    return dict(sorted(found.items()))
