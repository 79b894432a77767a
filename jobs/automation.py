"""Automation rule runs."""

from crm.automation import engine


def run_rule(run_id: int):
    return engine.run(run_id)
