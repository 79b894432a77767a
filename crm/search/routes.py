"""Search pages: /search?q= (full page, htmx partial) and /search/suggest?q= (dropdown)."""

from __future__ import annotations

import re

from flask import render_template, request
from flask_login import current_user
from markupsafe import Markup, escape

from crm.htmx import render
from crm.search import bp, services
from crm.search.forms import SearchForm
from crm.search.query import MAX_QUERY_CHARS
from crm.search.schema import KINDS
from crm.security import current_team

KIND_LABELS = {
    "contact": "Contacts",
    "company": "Companies",
    "deal": "Deals",
    "task": "Tasks",
    "note": "Notes",
    "call": "Calls",
    "meeting": "Meetings",
    "email": "Emails",
}
PAGELEN = 20
_MAX_PAGE = 50


@bp.app_template_filter("mark_words")
def mark_words(text: str, q: str) -> Markup:
    """Escape ``text`` and <mark> the words that start with a word of ``q``."""
    words = [w for w in re.findall(r"\w+", (q or "").lower()) if len(w) >= 1]
    safe = str(escape(text or ""))
    if not words:
        return Markup(safe)
    pattern = re.compile(
        r"\b(" + "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True)) + r")",
        re.IGNORECASE,
    )
    return Markup(pattern.sub(r'<mark class="match">\1</mark>', safe))


@bp.get("")
def page():
    form = SearchForm(request.args)
    # The box's maxlength is only a hint to browsers: a longer q is refused here, not searched.
    valid = form.validate()
    q = (form.q.data or "").strip() if valid else ""
    kind = request.args.get("kind") if request.args.get("kind") in KINDS else None
    page_no = min(max(request.args.get("page", 1, type=int) or 1, 1), _MAX_PAGE)
    results = None
    if q:
        results = services.search(
            current_team().id, current_user.id, q, kind=kind, page=page_no, pagelen=PAGELEN
        )
    pages = 0
    if results is not None:
        pages = min(_MAX_PAGE, (results.total + PAGELEN - 1) // PAGELEN)
    return render(
        "search/page.html",
        "search/_results.html",
        http_status=200 if valid else 422,
        form=form,
        q=q,
        kind=kind,
        results=results,
        pages=pages,
        kinds=KINDS,
        labels=KIND_LABELS,
        max_chars=MAX_QUERY_CHARS,
    )


@bp.get("/suggest")
def suggest():
    q = (request.args.get("q") or "").strip()
    if len(q) < 2:
        q = ""  # one letter would match half the names: wait for the second
    groups = services.suggest(current_team().id, q) if q else {}
    ordered = [(k, groups[k]) for k in KINDS if groups.get(k)]
    response = render_template("search/_suggest.html", q=q, groups=ordered, labels=KIND_LABELS)
    return response
