"""Likely duplicates and the merge screen (thin views)."""

from __future__ import annotations

from crm.dedupe import bp  # noqa: F401
