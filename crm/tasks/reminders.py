"""The reminder and daily-digest sweeps: select due work from the database, exactly once.

Each reminder (and each user's digest for a local day) is claimed by a conditional UPDATE in
the same transaction that writes its outbox row. Two workers running the sweep at once, a crash
before the commit, or a re-run after a restart can therefore neither lose nor double a
reminder: whoever commits the claim owns the one outbox row. The outbox then delivers that row
at most once per claim (crm.outbox.deliver).
"""

from __future__ import annotations

import logging
from datetime import datetime, time

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from crm import outbox
from crm.extensions import db
from crm.kernel import dates, work
from crm.models import Membership, Task, User, utcnow

log = logging.getLogger(__name__)
BATCH = 500
DIGEST_HOUR = 8
# A digest missed at 08:00 (server down) still goes out until noon; later it would be noise.
DIGEST_LATEST_HOUR = 12
DIGEST_LIMIT = 100


def _tasks_url() -> str:
    return current_app.config["BASE_URL"].rstrip("/") + "/tasks"


def due_label(task: Task, tz) -> str:
    if task.due_at is None:
        return "no due date"
    local = task.due_at.astimezone(tz)
    if task.all_day:
        return local.strftime("%a %d %b %Y")
    return local.strftime("%a %d %b %Y, %H:%M ") + (local.tzname() or "")


def send_due_reminders(now: datetime | None = None) -> int:
    """Queue one reminder email per due, unsent reminder of an open, assigned task."""
    now = now or utcnow()
    ids = db.session.scalars(
        select(Task.id)
        # Only assignees still in the task's team: a former member gets no reminders.
        .join(
            Membership,
            (Membership.team_id == Task.team_id) & (Membership.user_id == Task.assignee_id),
        )
        .where(
            Task.remind_at <= now,
            Task.reminder_sent_at.is_(None),
            Task.done_at.is_(None),
            Task.assignee_id.is_not(None),
        )
        .order_by(Task.remind_at)
        .limit(BATCH)
    ).all()
    db.session.commit()  # end the read: the claims below each run in their own transaction
    queued = 0
    for task_id in ids:
        claimed = work.claim(
            Task,
            task_id,
            Task.reminder_sent_at.is_(None),
            Task.done_at.is_(None),
            values={"reminder_sent_at": now},
            commit=False,  # committed with its outbox row below
        )
        if not claimed:
            db.session.rollback()  # another worker claimed it first
            continue
        try:
            task = db.session.get(Task, task_id, populate_existing=True)
            user = task.assignee
            tz = dates.zone(user.timezone)
            row = outbox.queue_email(
                to=user.email,
                subject=f"Reminder: {task.title}",
                template="reminder",
                kind="task_reminder",
                team_id=task.team_id,
                task=task,
                user=user,
                due=due_label(task, tz),
                url=_tasks_url(),
            )
            db.session.commit()  # the claim and the outbox row, together or not at all
        except Exception:
            db.session.rollback()
            log.exception("reminder for task %s failed; the next sweep retries it", task_id)
            continue
        outbox.enqueue(row)
        queued += 1
    return queued


def _digest_tasks(user: User, now: datetime, tz) -> list[Task]:
    _, _, start_tomorrow = dates.day_bounds(now, tz)
    return list(
        db.session.scalars(
            select(Task)
            .join(
                Membership,
                (Membership.team_id == Task.team_id) & (Membership.user_id == Task.assignee_id),
            )
            .where(
                Task.assignee_id == user.id,
                Task.done_at.is_(None),
                Task.due_at < start_tomorrow,
            )
            .options(
                selectinload(Task.contact), selectinload(Task.deal), selectinload(Task.company)
            )
            .order_by(Task.due_at, Task.id)
            .limit(DIGEST_LIMIT)
        )
    )


def send_daily_digests(now: datetime | None = None) -> int:
    """At 08:00 local time, each opted-in user gets today's and overdue tasks, once a day."""
    now = now or utcnow()
    zones = db.session.scalars(select(User.timezone).distinct()).all()
    due_users: list[tuple[int, object]] = []
    for name in zones:
        tz = dates.zone(name)
        local = now.astimezone(tz)
        if not (time(DIGEST_HOUR) <= local.time() < time(DIGEST_LATEST_HOUR)):
            continue
        today = local.date()
        user_ids = db.session.scalars(
            select(User.id).where(
                User.timezone == name,
                User.digest_opt_out.is_(False),
                or_(User.digest_sent_on.is_(None), User.digest_sent_on < today),
            )
        ).all()
        due_users += [(uid, today) for uid in user_ids]
    db.session.commit()
    queued = 0
    for user_id, today in due_users:
        claimed = work.claim(
            User,
            user_id,
            or_(User.digest_sent_on.is_(None), User.digest_sent_on < today),
            values={"digest_sent_on": today},
            commit=False,  # committed with its outbox row below
        )
        if not claimed:
            db.session.rollback()
            continue
        try:
            user = db.session.get(User, user_id, populate_existing=True)
            tz = dates.zone(user.timezone)
            tasks = _digest_tasks(user, now, tz)
            row = None
            if tasks:  # no email on a day with nothing due: the claim alone is committed
                _, start_today, _ = dates.day_bounds(now, tz)
                overdue = [t for t in tasks if _is_overdue(t, now, start_today)]
                today_tasks = [t for t in tasks if t not in overdue]
                row = outbox.queue_email(
                    to=user.email,
                    subject=f"Your tasks for {today.strftime('%a %d %b')}: "
                    f"{len(today_tasks)} today, {len(overdue)} overdue",
                    template="digest",
                    kind="task_digest",
                    # Personal and possibly across teams: no team's outbox (admins) shows it.
                    team_id=None,
                    user=user,
                    overdue=overdue,
                    today_tasks=today_tasks,
                    due=lambda t, tz=tz: due_label(t, tz),
                    url=_tasks_url(),
                )
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("digest for user %s failed; the next sweep retries it", user_id)
            continue
        if row is not None:
            outbox.enqueue(row)
            queued += 1
    return queued


def _is_overdue(task: Task, now: datetime, start_today: datetime) -> bool:
    return task.due_at < (start_today if task.all_day else now)
