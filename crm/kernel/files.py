"""What Rapport writes to disk is readable by its own user only.

Promise: after `make_private(app)` every file the process creates (SQLite database and its
WAL/SHM files, attachments, the search index, backups, the secret key) is created 0600 and every
folder 0700, through the process umask; and the data folder itself, plus a SQLite database kept
outside it, are brought to 0700/0600 even when an older version created them world-readable.
A folder that is 0700 closes everything under it, so files made before this rule are covered too.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

PRIVATE_UMASK = 0o077


def _tighten(path: Path, mode: int) -> None:
    try:
        if path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(mode)
    except OSError:  # not ours to change (a mounted volume): the umask still covers new files
        pass


def make_private(app) -> None:
    os.umask(PRIVATE_UMASK)
    data_dir = Path(app.config["CRM_DATA_DIR"])
    data_dir.mkdir(parents=True, exist_ok=True)
    _tighten(data_dir, 0o700)
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        database = Path(url.database)
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            _tighten(path, 0o600)
