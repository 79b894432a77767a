"""Search inside the app: one engine per process, freshness hooks, rebuilds, queries.

Other features call only :func:`search`, :func:`suggest` and :func:`reindex`; they never
index anything themselves: committing a change to a contact, company, deal, task or
timeline entry is enough (the session hooks below enqueue ``jobs.search.index_changes``).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from flask import Flask, current_app
from flask_sqlalchemy.session import Session
from sqlalchemy import event, func, select

from crm.extensions import db
from crm.kernel import statistics, timeline
from crm.kernel.ids import parse_id
from crm.models import (
    Activity,
    ActivityContact,
    Company,
    Contact,
    ContactEmail,
    ContactPhone,
    Deal,
    Membership,
    Task,
    User,
    utcnow,
)
from crm.search import indexing
from crm.search.engine import DEFAULT_BUDGETS, UNBOUNDED, SearchEngine
from crm.search.query import MAX_QUERY_CHARS
from crm.search.results import SearchPage

log = logging.getLogger(__name__)

QUEUE = "search"
_SOURCE_OF = {
    Contact: "contact",
    Company: "company",
    Deal: "deal",
    Task: "task",
    Activity: "activity",
}
_INFO_KEY = "search_changes"
_engine_lock = threading.Lock()


# -- the engine ----------------------------------------------------------------------


def index_path(app: Flask | None = None) -> Path:
    app = app or current_app
    return Path(app.config["CRM_DATA_DIR"]) / "search"


def get_engine(app: Flask | None = None) -> SearchEngine:
    """The process's one engine (kept-open searcher), created and opened on first use."""
    app = app or current_app._get_current_object()
    engine = app.extensions.get("search")
    if engine is None:
        with _engine_lock:
            engine = app.extensions.get("search")
            if engine is None:
                # Tests turn the time budgets off: their results must not depend on load.
                timed = app.config.get("SEARCH_TIME_BUDGETS", True)
                engine = SearchEngine(
                    index_path(app), budgets=DEFAULT_BUDGETS if timed else UNBOUNDED
                )
                app.extensions["search_needs_rebuild"] = engine.open_or_create()
                app.extensions["search"] = engine
    return engine


# -- freshness: collect changes at flush, enqueue one job after commit ----------------


def _source_item(obj) -> tuple[int, str, int] | None:
    source = _SOURCE_OF.get(type(obj))
    if source is not None:
        return (obj.team_id, source, obj.id) if obj.id is not None else None
    if isinstance(obj, ContactEmail | ContactPhone) and obj.contact_id:
        return (obj.team_id, "contact", obj.contact_id)
    if isinstance(obj, ActivityContact) and obj.activity_id:
        try:
            activity = obj.activity  # in the session already when written through record()
        except Exception:  # noqa: BLE001 - a link whose activity is gone changes nothing
            return None
        return (activity.team_id, "activity", obj.activity_id) if activity else None
    return None


@event.listens_for(Session, "after_flush")
def _collect(session, _flush_context) -> None:
    changed = session.info.setdefault(_INFO_KEY, set())
    # session.dirty is computed afresh on every access (a walk of the identity map): once here,
    # or a flush of n objects costs n walks (a bulk send flushes thousands).
    dirty = session.dirty
    for obj in (*session.new, *dirty, *session.deleted):
        if obj in dirty and not session.is_modified(obj):
            continue
        item = _source_item(obj)
        if item is not None and item[0] is not None:
            changed.add(item)


@event.listens_for(Session, "after_commit")
def _enqueue(session) -> None:
    if session.in_nested_transaction():
        # A savepoint released (each CSV import row has one): nothing is committed yet, so
        # keep the changes for the real commit instead of indexing rows no one can read.
        return
    changed = session.info.pop(_INFO_KEY, None) or set()
    # Timeline entries written in bulk (a bulk send) passed no flush: the kernel lists them.
    changed |= {
        (team_id, "activity", ident) for team_id, ident in timeline.take_bulk_written(session)
    }
    if not changed:
        return
    try:
        from rq import Retry

        from crm.queue import enqueue

        # A writer lock held too long (a rebuild's swap, a slow disk) is retried.
        enqueue(
            "jobs.search.index_changes",
            [list(item) for item in sorted(changed)],
            queue_name=QUEUE,
            retry=Retry(max=3, interval=[5, 30, 120]),
        )
    except Exception:  # never fail a committed write over the index; `crm reindex` heals
        log.exception("could not enqueue search index changes")


@event.listens_for(Session, "after_rollback")
def _forget(session) -> None:
    if session.in_nested_transaction():
        # Only a savepoint rolled back: the rows written before it still commit (and need
        # indexing); what it collected itself resolves to "gone" and changes nothing.
        return
    session.info.pop(_INFO_KEY, None)
    timeline.take_bulk_written(session)


def index_changes(items) -> int:
    """Bring the index in line with the database for these (team_id, source, id) items."""
    docs, deletes = indexing.resolve(items)
    get_engine().update(docs, deletes)
    return len(docs)


# -- rebuilds --------------------------------------------------------------------------


def reindex(progress: Callable[[int], None] | None = None) -> int:
    """Rebuild the whole index from the database; returns the number of documents.

    Records changed while it ran are indexed again afterwards, so none are lost.
    """
    # A freshly seeded or restored database may have no (or stale) planner statistics; the
    # indexer's own queries do without, but the rebuild reads every table once anyway.
    statistics.optimize()
    engine = get_engine()
    started = utcnow() - timedelta(seconds=1)
    count = 0

    def docs():
        nonlocal count
        for doc in indexing.iter_all():
            count += 1
            yield doc

    engine.rebuild(docs(), total=indexing.count_all(), progress=progress)
    db.session.remove()
    late = indexing.changed_since(started)
    if late:
        index_changes(late)
    current_app.extensions["search_needs_rebuild"] = False
    return count


def rebuild_if_needed(app: Flask) -> threading.Thread | None:
    """`crm serve` start-up: rebuild in the background when the index is missing/stale."""
    with app.app_context():
        get_engine(app)
    if not app.extensions.get("search_needs_rebuild"):
        return None

    def run() -> None:
        with app.app_context():
            try:
                total = reindex()
                log.info("search index rebuilt: %d documents", total)
            except Exception:
                log.exception("search index rebuild failed; run `flask crm reindex`")

    thread = threading.Thread(target=run, name="search-rebuild", daemon=True)
    thread.start()
    return thread


# -- queries ---------------------------------------------------------------------------

_OWNER = re.compile(r'(?<!\S)owner:("[^"]*"|[^\s"]+)', re.IGNORECASE)


def resolve_owners(team_id: int, user_id: int | None, text: str) -> str:
    """Rewrite ``owner:me`` / ``owner:<id, name or email>`` to the matching users' ids.

    Only members of the team are looked up, with one query however many ``owner:`` tokens
    the text holds (each distinct one is resolved once); no match leaves a filter that finds
    nothing.
    """
    members: list | None = None
    resolved: dict[str, str] = {}

    def ids_for(wanted: str) -> list[int]:
        nonlocal members
        if not wanted:
            return []
        if wanted == "me":
            return [user_id] if user_id else []
        if members is None:
            members = db.session.execute(
                select(User.id, func.lower(User.email), User.name)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.team_id == team_id)
                .order_by(User.id)
            ).all()
        if (wanted_id := parse_id(wanted)) is not None:
            return [id_ for id_, _, _ in members if id_ == wanted_id]
        return [
            id_
            for id_, email, name in members
            if wanted == email or (name or "").lower().startswith(wanted)
        ]

    def replace(match: re.Match) -> str:
        wanted = match.group(1).strip('"').strip().lower()
        if wanted not in resolved:
            ids = ids_for(wanted) or [0]
            resolved[wanted] = "owner:" + ",".join(str(i) for i in ids)
        return resolved[wanted]

    return _OWNER.sub(replace, text)


def search(
    team_id: int,
    user_id: int | None,
    q: str,
    *,
    kind: str | None = None,
    page: int = 1,
    pagelen: int = 20,
) -> SearchPage:
    """The results page for ``q`` in one team (``kind`` narrows to one kind)."""
    from crm.search.schema import KINDS

    kinds = [kind] if kind in KINDS else None
    # Cut to the box's limit before anything is resolved: the work stays bounded whoever calls.
    text = resolve_owners(team_id, user_id, q.strip()[:MAX_QUERY_CHARS])
    return get_engine().search(team_id, text, kinds=kinds, page=page, pagelen=pagelen)


def suggest(team_id: int, q: str, per_kind: int = 5):
    """As-you-type hits grouped by kind, in the order the dropdown shows them."""
    return get_engine().suggest(team_id, q, per_kind=per_kind)
