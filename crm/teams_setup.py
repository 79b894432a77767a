"""What a brand-new team starts with. Features add their defaults here (pipelines, …)."""

from __future__ import annotations

from collections.abc import Callable

from crm.models import Team

NEW_TEAM_HOOKS: list[Callable[[Team], None]] = []


def on_new_team(func: Callable[[Team], None]) -> Callable[[Team], None]:
    NEW_TEAM_HOOKS.append(func)
    return func


def setup_new_team(team: Team) -> None:
    for hook in NEW_TEAM_HOOKS:
        hook(team)
