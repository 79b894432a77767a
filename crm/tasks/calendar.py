"""The iCalendar feed of a user's open dated tasks (subscribed to by phone/desktop calendars)."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from icalendar import Alarm, Calendar, Event
from sqlalchemy import select

from crm.extensions import db
from crm.kernel import dates
from crm.models import Membership, Task, User, utcnow

FEED_LIMIT = 2000
TIMED_LENGTH = timedelta(minutes=30)


def feed(user: User) -> bytes:
    tz = dates.zone(user.timezone)
    base = current_app.config["BASE_URL"].rstrip("/")
    domain = base.split("//", 1)[-1].split("/")[0].split(":")[0] or "rapport"
    cal = Calendar()
    cal.add("prodid", "-//Rapport CRM//Tasks//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "Rapport tasks")
    cal.add("x-published-ttl", "PT15M")
    tasks = db.session.scalars(
        select(Task)
        # Only teams the user still belongs to: leaving a team ends its tasks in the feed.
        .join(
            Membership,
            (Membership.team_id == Task.team_id) & (Membership.user_id == user.id),
        )
        .where(Task.assignee_id == user.id, Task.done_at.is_(None), Task.due_at.is_not(None))
        .order_by(Task.due_at, Task.id)
        .limit(FEED_LIMIT)
    )
    stamp = utcnow()
    for task in tasks:
        event = Event()
        event.add("uid", f"task-{task.id}@{domain}")
        event.add("dtstamp", stamp)
        event.add("summary", task.title)
        if task.all_day:
            day = task.due_at.astimezone(tz).date()
            event.add("dtstart", day)
            event.add("dtend", day + timedelta(days=1))
        else:
            event.add("dtstart", task.due_at)
            event.add("dtend", task.due_at + TIMED_LENGTH)
        event.add("description", (task.notes or "") + f"\n\n{base}/tasks/{task.id}/edit")
        event.add("url", f"{base}/tasks/{task.id}/edit")
        if task.updated_at:
            event.add("last-modified", task.updated_at)
        if task.remind_at is not None:
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", task.title)
            alarm.add("trigger", task.remind_at)
            event.add_component(alarm)
        cal.add_component(event)
    return cal.to_ical()
