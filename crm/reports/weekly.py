"""Placeholder until the weekly email lands."""
