"""Report views (thin): parse the filters, run one query, render the page or its partial."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from crm.deals import queries as deal_queries
from crm.extensions import db
from crm.htmx import render
from crm.kernel import members
from crm.kernel.csvio import csv_response
from crm.kernel.dates import zone
from crm.models import Tag, utcnow
from crm.reports import bp, help_text, queries, tables, weekly
from crm.reports.forms import WeeklyEmailForm
from crm.reports.periods import PERIODS, from_args
from crm.reports.reads import records
from crm.security import current_team, scoped

# name → (title, default period, which periods make sense)
REPORTS = {
    "forecast": ("Forecast", "this_quarter"),
    "win_loss": ("Win/loss", "last_12_months"),
    "funnel": ("Funnel", "last_quarter"),
    "activity": ("Activity", "this_month"),
    "health": ("Pipeline health", "this_month"),
}
SLUGS = {
    "forecast": "forecast",
    "win_loss": "win-loss",
    "funnel": "funnel",
    "activity": "activity",
    "health": "health",
}


def _filters(name: str):
    team = current_team()
    return from_args(
        request.args,
        team_id=team.id,
        tz=zone(current_user.timezone),
        now=utcnow(),
        default_period=REPORTS[name][1],
    )


def build(name: str, f):
    """The sections of report `name` for filters `f` (also used by the CSV download)."""
    if name == "forecast":
        return tables.forecast(f, queries.forecast(f))
    if name == "win_loss":
        return tables.win_loss(f, queries.win_loss(f))
    if name == "funnel":
        pipeline = deal_queries.current_pipeline(f.team_id, f.pipeline_id)
        return tables.funnel(f, queries.funnel(f, pipeline))
    if name == "activity":
        return tables.activity(f, queries.activity(f))
    return tables.health(f, queries.health(f, utcnow()))


def _page(name: str):
    f = _filters(name)
    team = current_team()
    sections = build(name, f)
    return render(
        "reports/report.html",
        "reports/_report.html",
        name=name,
        slug=SLUGS[name],
        title=REPORTS[name][0],
        reports=REPORTS,
        slugs=SLUGS,
        help=help_text.RULES[name],
        common_rules=help_text.COMMON,
        one_day=timedelta(days=1),
        f=f,
        periods=PERIODS,
        pipelines=deal_queries.pipelines(team.id),
        owners=members.members(team.id),
        tags=list(db.session.scalars(scoped(Tag, team_id=team.id).order_by(Tag.name).limit(500))),
        sections=sections,
        funnel_pipeline=(
            deal_queries.current_pipeline(team.id, f.pipeline_id) if name == "funnel" else None
        ),
    )


def _csv(name: str):
    f = _filters(name)
    wanted = request.args.get("table", "")
    table = next((s.table for s in build(name, f) if s.table.key == wanted), None)
    if table is None:
        abort(404)
    rows = tables.csv_rows(table)
    filename = f"{table.key}-{f.first.isoformat()}-to-{f.after.isoformat()}.csv"
    return csv_response(filename, next(rows), rows)


def _register(name: str) -> None:
    slug = SLUGS[name]
    bp.add_url_rule(f"/{slug}", name, lambda: _page(name))
    bp.add_url_rule(f"/{slug}.csv", f"{name}_csv", lambda: _csv(name))


for _name in REPORTS:
    _register(_name)


@bp.get("/activity/records")
def activity_records():
    """The records behind one activity report figure (member, kind, week or period)."""
    f = _filters("activity")
    kind = request.args.get("kind") or None
    if kind not in (None, "task", *records.KINDS):
        kind = None
    start = _moment("from", f.start, f)
    end = _moment("to", f.end, f)
    result = records.records(f.team_id, f.owner_id, kind, start, end, request.args.get("after"))
    names = members.members(f.team_id)
    member = next((m for m in names if m.id == f.owner_id), None)
    return render(
        "reports/records.html",
        "reports/_records.html",
        f=f,
        kind=kind,
        kind_label=KIND_TITLES.get(kind or "", "Activities and tasks done"),
        member=member,
        start=start,
        end=end,
        result=result,
        tz=zone(current_user.timezone),
        args={k: v for k, v in request.args.items() if k != "after"},
    )


KIND_TITLES = {
    "note": "Notes",
    "call": "Calls",
    "meeting": "Meetings",
    "email": "Emails",
    "task": "Tasks done",
}


def _moment(name: str, default, f):
    """An ISO moment from the query string, kept within the report's period."""
    try:
        value = datetime.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return default
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return min(max(value, f.start), f.end)


@bp.get("/")
def index():
    _filters("forecast")  # another team's ids are a 404 here too, not a redirect to one
    return redirect(url_for("reports.forecast", **request.args), 303)


@bp.app_context_processor
def weekly_form_context():
    def weekly_form():
        team = current_team()
        return WeeklyEmailForm(weekly=weekly.is_subscribed(team.id, current_user.id))

    return {"weekly_email_form": weekly_form}


@bp.post("/weekly-email")
def weekly_pref():
    form = WeeklyEmailForm()
    if form.validate_on_submit():
        weekly.subscribe(current_team().id, current_user.id, bool(form.weekly.data))
        flash(
            "You will get the pipeline email on Mondays at 08:00."
            if form.weekly.data
            else "The Monday pipeline email is off.",
            "success",
        )
    return redirect(url_for("settings.profile"), 303)
