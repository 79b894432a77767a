"""Features are declared, not discovered.

Promise: a feature is one Feature value that names everything it adds to the app — its
blueprints (in registration order), the jobs it enqueues (dotted names under jobs/), its sweeps
(idempotent functions the minute tick and start-up run), its search sources, its CLI commands,
what a brand-new team starts with, its start-up work of `crm serve`, its admin tabs
under /settings, the domain events it emits (names, the catalogue webhooks offer) and its
subscribers to domain events (crm/kernel/events.py: called after each commit) and the counts
of its lists' saved views. install() walks one
list of them (crm/features.py) in order; nothing registers itself at import time, so reading
that list tells you the whole app. The registry lives on the app (`app.extensions`), so two
apps in one process (tests) never share hooks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flask import Blueprint, Flask, current_app

KEY = "crm.features"
EVERYONE = "everyone"  # a settings tab's audience: every member, not only owners and admins


@dataclass(frozen=True)
class Feature:
    name: str
    blueprints: tuple[Blueprint, ...] = ()
    jobs: tuple[str, ...] = ()
    sweeps: tuple[Callable[[], object], ...] = ()
    search_sources: tuple[str, ...] = ()
    commands: tuple[Callable, ...] = ()  # each takes the `crm` click group and adds commands
    new_team: tuple[Callable, ...] = ()  # each takes a new Team (flushed) and adds its defaults
    on_serve: tuple[Callable[[Flask], None], ...] = ()
    # Tabs of /settings this feature adds: (position, endpoint, label) for owners and admins,
    # or (position, endpoint, label, EVERYONE) for a tab each member sees (their own things).
    settings_tabs: tuple[tuple, ...] = ()
    # Domain event names this feature's services emit ("contact.created", …).
    events: tuple[str, ...] = ()
    # Each is called with a committed transaction's events (crm.kernel.events.publish).
    subscribers: tuple[Callable, ...] = ()
    # (list name, count) for the lists a saved view can be of: count(team_id, user_id, args)
    # answers how many records that list shows for these URL arguments (the view's count).
    view_counts: tuple[tuple[str, Callable[..., int]], ...] = ()


def install(app: Flask, features: Iterable[Feature]) -> None:
    """Register every feature's blueprints, in list order, and keep the list on the app."""
    features = tuple(features)
    names = [f.name for f in features]
    if len(set(names)) != len(names):
        raise ValueError(f"a feature is declared twice: {names}")
    app.extensions[KEY] = features
    for feature in features:
        for blueprint in feature.blueprints:
            app.register_blueprint(blueprint)


def declared(app: Flask | None = None) -> tuple[Feature, ...]:
    return (app or current_app).extensions.get(KEY, ())


def sweeps(app: Flask | None = None) -> list[Callable[[], object]]:
    return [func for feature in declared(app) for func in feature.sweeps]


def jobs(app: Flask | None = None) -> list[str]:
    return [name for feature in declared(app) for name in feature.jobs]


def search_sources(app: Flask | None = None) -> list[str]:
    return [name for feature in declared(app) for name in feature.search_sources]


def event_names(app: Flask | None = None) -> list[str]:
    """Every declared domain event name, in feature order."""
    return [name for feature in declared(app) for name in feature.events]


def view_count(list_name: str, app: Flask | None = None) -> Callable[..., int] | None:
    """The count a feature declared for a saved-view list, or None (the list shows no count)."""
    for feature in declared(app):
        for name, count in feature.view_counts:
            if name == list_name:
                return count
    return None


def settings_tabs(app: Flask | None = None, *, manager: bool = True) -> list[tuple[str, str]]:
    """(endpoint, label) of the settings tabs this person sees, in position order: a manager
    (owner/admin) sees every tab, anyone else only the tabs declared for EVERYONE."""
    tabs = sorted(tab[:3] for f in declared(app) for tab in f.settings_tabs if manager or _all(tab))
    return [(endpoint, label) for _, endpoint, label in tabs]


def _all(tab: tuple) -> bool:
    return len(tab) > 3 and tab[3] == EVERYONE


def add_commands(app: Flask, group) -> None:
    for feature in declared(app):
        for add in feature.commands:
            add(group)


def set_up_new_team(team) -> None:
    """What a brand-new team starts with (pipelines, …); the caller commits."""
    for feature in declared():
        for hook in feature.new_team:
            hook(team)


def on_serve(app: Flask) -> None:
    """Start-up work of `crm serve` (e.g. rebuild a missing search index)."""
    for feature in declared(app):
        for hook in feature.on_serve:
            hook(app)
