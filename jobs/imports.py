"""CSV import job: runs inside the worker's app context."""

from __future__ import annotations


def run_import(import_id: int) -> str:
    from crm.imports.runner import run

    return run(import_id)
