"""Features are declared, not discovered.

Promise: a feature is one Feature value that names everything it adds to the app — its
blueprints (in registration order), the jobs it enqueues (dotted names under jobs/), its sweeps
(idempotent functions the minute tick and start-up run), its search sources, its CLI commands,
what a brand-new team starts with, its start-up work of `crm serve`, its admin tabs
under /settings, the domain events it emits (names, the catalogue webhooks offer) and its
subscribers to domain events (crm/kernel/events.py: called after each commit). install() walks one
list of them (crm/features.py) in order; nothing registers itself at import time, so reading
that list tells you the whole app. The registry lives on the app (`app.extensions`), so two
apps in one process (tests) never share hooks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flask import Blueprint, Flask, current_app

KEY = "crm.features"


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
    # Admin tabs of /settings this feature adds: (position, endpoint, label).
    settings_tabs: tuple[tuple[int, str, str], ...] = ()
    # Domain event names this feature's services emit ("contact.created", …).
    events: tuple[str, ...] = ()
    # Each is called with a committed transaction's events (crm.kernel.events.publish).
    subscribers: tuple[Callable, ...] = ()


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


def settings_tabs(app: Flask | None = None) -> list[tuple[str, str]]:
    """(endpoint, label) of every feature's admin settings tab, in position order."""
    tabs = sorted(tab for feature in declared(app) for tab in feature.settings_tabs)
    return [(endpoint, label) for _, endpoint, label in tabs]


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
