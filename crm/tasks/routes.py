"""Tasks pages (thin views): the list, quick-add, complete/undo, edit, preferences, the feed."""

from __future__ import annotations

from flask import abort, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from crm.errors import Invalid
from crm.extensions import db
from crm.htmx import render, trigger, wants_partial
from crm.kernel import dates, members
from crm.kernel.csvio import csv_response
from crm.kernel.forms import show_error
from crm.kernel.ids import parse_id
from crm.kernel.urls import back_url, safe_url
from crm.models import Company, Contact, Deal, Task, User, utcnow
from crm.security import current_team, get_or_404, public
from crm.tasks import bp, calendar, queries, services
from crm.tasks.forms import FilterForm, PreferencesForm, TaskForm
from crm.tasks.reminders import due_label

LINK_MODELS = {"contact": Contact, "company": Company, "deal": Deal}


# --- Template helpers --------------------------------------------------------------------------


@bp.app_template_global()
def task_due(task: Task) -> str:
    """The due date as the viewer reads it (all-day dates in the assignee's zone)."""
    if task.due_at is None:
        return ""
    tz = dates.zone(task.assignee.timezone) if task.all_day and task.assignee else dates.user_zone()
    return due_label(task, tz)


@bp.app_template_global()
def task_overdue(task: Task) -> bool:
    if task.due_at is None or task.done_at is not None:
        return False
    now = utcnow()
    if task.all_day:
        _, start_today, _ = dates.day_bounds(now, dates.user_zone())
        return task.due_at < start_today
    return task.due_at < now


def _members() -> list[User]:
    return members.members(current_team().id)


def _task_form(**kwargs) -> TaskForm:
    form = TaskForm(**kwargs)
    form.assignee_id.choices = members.choices(current_team().id)
    if form.assignee_id.data is None and not form.is_submitted():
        form.assignee_id.data = current_user.id
    return form


def _form_values(form: TaskForm) -> dict:
    day, at = form.due_date.data, form.due_time.data
    due = dates.combine(day, at, dates.zone(_assignee_tz(form.assignee_id.data))) if at else day
    return {
        "title": form.title.data,
        "due_at": due,
        "all_day": at is None,
        "assignee_id": form.assignee_id.data,
        "remind_before": form.remind_before(),
        "notes": form.notes.data,
        "priority": form.priority.data,
        "recurrence": form.recurrence(),
    }


def _assignee_tz(user_id: int | None) -> str | None:
    user = db.session.get(User, user_id) if user_id else None
    return user.timezone if user else None


# --- The list ----------------------------------------------------------------------------------


def _filters() -> tuple[queries.Filters, FilterForm]:
    form = FilterForm(request.args)
    people = _members()
    form.assignee.choices = [("", "Everyone")] + [(u.id, u.name) for u in people]
    filters = queries.Filters.from_args(request.args, current_user.id, {u.id for u in people})
    return filters, form


def _linked_record(filters: queries.Filters):
    for kind, model in LINK_MODELS.items():
        if (record_id := getattr(filters, f"{kind}_id")) is not None:
            return kind, get_or_404(model, record_id)
    return None


@bp.get("/tasks")
def index():
    view = "team" if request.args.get("view") == "team" else "mine"
    filters, filter_form = _filters()
    linked = _linked_record(filters)
    tz, now, team = dates.user_zone(), utcnow(), current_team()
    list_args = {k: v for k, v in request.args.items() if k not in ("group", "after")}
    if (group := request.args.get("group")) and wants_partial():
        page = queries.group_page(team.id, filters, group, now, tz, request.args.get("after"))
        return render(
            "tasks/index.html",
            "tasks/_group_rows.html",
            group=page,
            view=view,
            filters=filters,
            list_args=list_args,
        )
    return render(
        "tasks/index.html",
        "tasks/_list.html",
        groups=queries.task_list(team.id, filters, now, tz),
        view=view,
        filters=filters,
        filter_form=filter_form,
        linked=linked,
        list_args=list_args,
    )


@bp.get("/tasks/export.csv")
def export():
    """The list as a CSV file: the same view and filters give the same tasks, in order."""
    filters, _ = _filters()
    _linked_record(filters)  # another team's record: 404, as on the list
    rows = queries.export_rows(current_team().id, filters, utcnow(), dates.user_zone())
    return csv_response(f"tasks-{utcnow():%Y%m%d}.csv", queries.EXPORT_HEADER, rows)


@bp.get("/tasks/linked")
def record_tasks():
    """The open tasks of one record (?contact=, ?company= or ?deal=) as the record partial,
    for pages that load it with htmx instead of including it."""
    for kind, model in LINK_MODELS.items():
        if (record_id := request.args.get(kind, type=parse_id)) is not None:
            get_or_404(model, record_id)
            tasks = services.open_tasks_for(current_team().id, **{f"{kind}_id": record_id})
            return render_template(
                "tasks/_record_tasks.html", tasks=tasks, link_kind=kind, link_id=record_id
            )
    abort(404)


# --- Create ------------------------------------------------------------------------------------


def _record_tasks_response(form: TaskForm, status: int = 200):
    kind = next((k for k in LINK_MODELS if getattr(form, f"{k}_id").data), None)
    link_id = getattr(form, f"{kind}_id").data if kind else None
    tasks = services.open_tasks_for(current_team().id, **{f"{kind}_id": link_id}) if kind else []
    return make_response(
        render_template(
            "tasks/_record_tasks.html",
            tasks=tasks,
            link_kind=kind,
            link_id=link_id,
            record_form=form if status != 200 else None,
        ),
        status,
    )


@bp.route("/tasks/new", methods=["GET", "POST"])
def new():
    if request.args.get("close"):
        return ""
    form = _task_form()
    if request.method == "GET":
        for kind in LINK_MODELS:  # pre-linked from a record page: /tasks/new?contact=12
            if (record_id := request.args.get(kind, type=parse_id)) is not None:
                get_or_404(LINK_MODELS[kind], record_id)
                getattr(form, f"{kind}_id").data = record_id
    linked = None
    for kind, model in LINK_MODELS.items():
        if isinstance(record_id := getattr(form, f"{kind}_id").data, int):
            record = db.session.scalar(
                select(model).where(model.team_id == current_team().id, model.id == record_id)
            )
            linked = (kind, getattr(record, "name", None) or getattr(record, "title", ""))
    to_record = request.headers.get("HX-Target") == "record-tasks"
    created = None
    if form.validate_on_submit():
        try:
            created = services.create_task(
                current_team().id,
                current_user.id,
                contact_id=form.contact_id.data,
                company_id=form.company_id.data,
                deal_id=form.deal_id.data,
                **_form_values(form),
            )
        except Invalid as error:
            show_error(form, error)
    if created is not None:
        detail = {"id": created.id, "title": created.title}
        if to_record:
            return trigger(_record_tasks_response(form), "task-created", detail)
        if not wants_partial():
            return redirect(safe_url(request.args.get("next"), url_for("tasks.index")), 303)
        fresh = _task_form(formdata=None)
        response = render("tasks/new.html", "tasks/_quick_add.html", form=fresh, created=created)
        return trigger(response, "task-created", detail)
    status = 422 if form.errors or form.form_errors else 200
    if to_record and request.method == "POST":
        return _record_tasks_response(form, status)
    return render(
        "tasks/new.html", "tasks/_quick_add.html", http_status=status, form=form, linked=linked
    )


# --- One task ----------------------------------------------------------------------------------


def _row(task: Task, **ctx):
    return render("tasks/show.html", "tasks/_row.html", task=task, **ctx)


@bp.get("/tasks/<id:task_id>/row")
def row(task_id: int):
    task = get_or_404(Task, task_id)
    if request.args.get("settle") and task.done_at is not None:
        return ""  # the undo window is over: the completed row leaves the open list
    return _row(task)


@bp.post("/tasks/<id:task_id>/complete")
def complete(task_id: int):
    task = get_or_404(Task, task_id)
    if task.done_at is None:
        services.complete_task(task, current_user.id)
    if not wants_partial():
        return redirect(back_url(url_for("tasks.index")), 303)
    response = _row(task, just_done=True)
    return trigger(response, "task-completed", {"id": task.id, "title": task.title})


@bp.post("/tasks/<id:task_id>/reopen")
def reopen(task_id: int):
    task = get_or_404(Task, task_id)
    services.reopen_task(task)
    if not wants_partial():
        return redirect(back_url(url_for("tasks.index")), 303)
    return trigger(_row(task), "task-reopened", {"id": task.id})


@bp.route("/tasks/<id:task_id>/edit", methods=["GET", "POST"])
def edit(task_id: int):
    task = get_or_404(Task, task_id)
    form = _task_form(obj=task)
    if request.method == "GET":
        _fill_form(form, task)
    elif form.validate_on_submit():
        try:
            services.update_task(task, **_form_values(form))
        except Invalid as error:
            show_error(form, error)
        else:
            return redirect(url_for("tasks.index"), 303)
    status = 422 if form.errors or form.form_errors else 200
    return render_template("tasks/edit.html", form=form, task=task), status


def _fill_form(form: TaskForm, task: Task) -> None:
    if task.due_at is not None:
        tz = dates.zone(task.assignee.timezone if task.assignee else None)
        local = task.due_at.astimezone(tz)
        form.due_date.data = local.date()
        form.due_time.data = None if task.all_day else local.time().replace(tzinfo=None)
    minutes = services.remind_before_minutes(task)
    form.remind.data = "" if minutes is None else str(minutes)
    rule = task.recurrence or ""
    form.repeat.data = "every" if rule.startswith("every:") else rule
    form.every_days.data = int(rule.split(":")[1]) if rule.startswith("every:") else None
    form.priority.data = task.priority.value


@bp.post("/tasks/<id:task_id>/delete")
def delete(task_id: int):
    task = get_or_404(Task, task_id)
    services.delete_task(task)
    if not wants_partial():
        return redirect(url_for("tasks.index"), 303)
    return trigger(make_response("", 200), "task-deleted", {"id": task_id})


# --- Preferences and the calendar feed -------------------------------------------------------


@bp.route("/tasks/preferences", methods=["GET", "POST"])
def preferences():
    form = PreferencesForm(digest=not current_user.digest_opt_out)
    if form.validate_on_submit():
        services.set_digest_opt_out(current_user, not form.digest.data)
        return redirect(url_for("tasks.preferences"), 303)
    token = services.calendar_token(current_user)
    return render_template(
        "tasks/preferences.html",
        form=form,
        feed_url=url_for("tasks.calendar_feed", token=token, _external=True),
    )


@bp.post("/tasks/calendar/regenerate")
def regenerate_calendar():
    services.regenerate_calendar_token(current_user)
    return redirect(url_for("tasks.preferences"), 303)


@bp.get("/calendar/<token>.ics")
@public
def calendar_feed(token: str):
    user = db.session.scalar(select(User).where(User.calendar_token == token)) if token else None
    if user is None or len(token) < 20:
        abort(404)
    response = make_response(calendar.feed(user))
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Cache-Control"] = "private, max-age=300"
    return response
