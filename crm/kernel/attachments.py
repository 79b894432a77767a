"""The attachment store: files of mail, kept once per team and content (SHA-256).

Promise: `store(team_id, data)` keeps the bytes under `CRM_DATA_DIR/attachments/<team>/<sha256>`
(written to a temporary name and renamed, so a reader never sees half a file; a second copy of
the same content is not written again) and returns the hash; `read(team_id, sha256)` gives the
bytes back, or None when they are not (or no longer) there; `path()` is where they live, for
serving a download. Email-in keeps received attachments here and email out the ones a member
attaches, so a download link, a retry and a backup see one store. The hash is checked to be a
hash, so no name from outside reaches the file system.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from flask import current_app

_SHA256 = re.compile(r"[0-9a-f]{64}")


def path(team_id: int, sha256: str) -> Path:
    if not _SHA256.fullmatch(sha256 or ""):
        raise ValueError("not a SHA-256 hex digest")
    root = Path(current_app.config["CRM_DATA_DIR"]) / "attachments"
    return root / str(int(team_id)) / sha256


def store(team_id: int, data: bytes, sha256: str | None = None) -> str:
    """Keep `data` for the team (once per content); returns its SHA-256 hex digest."""
    sha = sha256 or hashlib.sha256(data).hexdigest()
    target = path(team_id, sha)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{sha}.{os.getpid()}.part")
        partial.write_bytes(data)
        os.replace(partial, target)
    return sha


def read(team_id: int, sha256: str) -> bytes | None:
    try:
        return path(team_id, sha256).read_bytes()
    except (OSError, ValueError):
        return None
