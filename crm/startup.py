"""Start-up work of `crm serve` that features register (e.g. rebuild a missing search index)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

SERVE_HOOKS: list[Callable[[Flask], None]] = []


def on_serve(app: Flask) -> None:
    for hook in SERVE_HOOKS:
        hook(app)
