"""Saved views (thin): save the list's current query as a named view, delete it, make it the
member's default of that list."""

from __future__ import annotations
