"""gunicorn settings of `crm serve`'s web processes (`--config python:crm.gunicorn_conf`).

Usable for the scaled web tier too: `gunicorn --config python:crm.gunicorn_conf app:app`.
"""

from __future__ import annotations

import gc

from crm.serving import use_template_cache

# Two servers on one machine must not share gunicorn 27's default control socket path.
control_socket_disable = True
# Sync workers: a request at a time per process; `crm serve` runs one per core.
worker_class = "sync"
timeout = 60
graceful_timeout = 20


def post_worker_init(worker) -> None:
    """Open the search index before the first request needs it, use the compiled templates,
    then keep the collector off what start-up loaded."""
    app = worker.wsgi
    try:
        from sqlalchemy import select

        from crm.extensions import db
        from crm.models import Team
        from crm.search.services import get_engine

        with app.app_context():
            team_ids = db.session.scalars(select(Team.id).order_by(Team.id).limit(50)).all()
            get_engine(app).warm(team_ids)
            db.session.remove()
    except Exception:  # a missing or rebuilding index must not keep the worker from serving
        worker.log.exception("search warm-up failed")
    # Templates compiled by any process of `crm serve` are kept on disk (the background
    # process compiles them all at start), so a web worker loads rather than compiles them.
    use_template_cache(app)
    # Everything loaded so far lives as long as the process: take it out of the collector's
    # generations, so a full collection does not walk it in the middle of a request.
    gc.collect()
    gc.freeze()
