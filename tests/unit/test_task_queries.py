"""The groups of /tasks, at their edges, in the viewer's zone."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from crm.tasks import queries, services
from tests import factories

LA = ZoneInfo("America/Los_Angeles")


def test_groups_at_their_edges(app):
    user = factories.make_user()
    user.timezone = "America/Los_Angeles"
    team = factories.team_of(user)
    now = datetime(2026, 6, 10, 12, 0, tzinfo=LA)

    def add(title, due, all_day=True):
        services.create_task(team.id, user.id, title=title, due_at=due, all_day=all_day)

    add("yesterday all day", date(2026, 6, 9))
    add("this morning", now - timedelta(hours=3), all_day=False)
    add("today all day", date(2026, 6, 10))
    add("this evening", now + timedelta(hours=6), all_day=False)
    add("tomorrow all day", date(2026, 6, 11))
    add("just after midnight", datetime(2026, 6, 11, 0, 5, tzinfo=LA), all_day=False)
    add("someday", None)
    other = factories.make_member(team)
    services.create_task(
        team.id, other.id, title="theirs", due_at=date(2026, 6, 10), assignee_id=other.id
    )

    groups = queries.task_list(team.id, queries.Filters(assignee_id=user.id), now, LA)
    got = {g.key: [t.title for t in g.tasks] for g in groups}
    assert got == {
        "overdue": ["yesterday all day", "this morning"],
        "today": ["today all day", "this evening"],
        "upcoming": ["tomorrow all day", "just after midnight"],
        "nodate": ["someday"],
    }
    team_view = queries.task_list(team.id, queries.Filters(), now, LA)
    assert "theirs" in [t.title for g in team_view for t in g.tasks]
