"""Undoing a recorded change without losing the edits made after it.

Promise: undo() puts a field back to the value it had before the change only if the field still
holds the value the change wrote. A field someone edited since keeps its newer value and is
named in `kept`, so the caller can say which ones were kept. A field the change did not write
is never touched. Values are compared exactly as given: pass `before`, `written` and `current`
in the same plain (JSON) form, a missing key meaning "no value" (None).

Merge undo and import revert both use it, for fields and for per-key maps (social profiles)
alike; records the change added to a list (emails, tags) follow the same rule by id: remove
only what the change added (see added()).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Undo:
    values: dict[str, Any] = field(default_factory=dict)  # field → the value to put back
    kept: list[str] = field(default_factory=list)  # edited since the change: left as they are


def undo(before: Mapping[str, Any], written: Mapping[str, Any], current: Mapping[str, Any]) -> Undo:
    """What to put back (field by field) and what to keep, by the rule in the module doc."""
    result = Undo()
    for key, wrote in written.items():
        now, then = current.get(key), before.get(key)
        if now == then:
            continue  # already back where it was: nothing to do, nothing kept
        if now == wrote:
            result.values[key] = then
        else:
            result.kept.append(key)
    return result


def written(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a change wrote, with the values it wrote: those that differ before/after."""
    keys = [*before, *(k for k in after if k not in before)]
    return {k: after.get(k) for k in keys if after.get(k) != before.get(k)}


def added(before_ids: Iterable[int], after_ids: Iterable[int]) -> list[int]:
    """Ids a change added to a list (emails, phones, tags): the only ones undo may remove."""
    had = set(before_ids)
    return sorted(i for i in after_ids if i not in had)
