"""Where the search index lives on disk: generations under one directory, a pointer to the live
one, atomic swaps after a rebuild, and a kept-open searcher that follows commits and swaps.

``IndexStore`` writes documents (the dict shape is in ``crm.search.engine``); ``SearchEngine``
adds searching on top of it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from whoosh import index

from crm.search import schema
from crm.search.schema import SCHEMA, _key, _to_fields

_WRITER_TIMEOUT_S = 30.0
_OPEN_ATTEMPTS = 8
_PROGRESS_EVERY = 1000
_REBUILD_LIMIT_MB = 256  # per indexing process: fewer runs to merge at the end
_KEEP_GENERATIONS = 2  # the live index and the one before it (other processes may lag)

_VERSION_FILE = "schema_version"
_POINTER_FILE = "current"
_GENERATION_PREFIX = "gen-"
_BUILD_PREFIX = "build-"


class IndexStore:
    """One search index (all teams) kept under ``path``.

    Layout: ``path/current`` names the live generation directory ``path/gen-*``; each
    generation holds a Whoosh index and its ``schema_version``. A rebuild writes a new
    generation and swaps the pointer, so readers never see a half-built index.
    """

    def __init__(self, path: str | Path, *, procs: int = 1) -> None:
        """``procs`` > 1 makes rebuild() fork that many indexing processes (Whoosh's
        multisegment writer): ~1.6x faster on 2 cores, for a job process, not a web one.
        """
        self._root = Path(path)
        self._procs = procs
        self._lock = threading.RLock()
        self._generation: str | None = None
        self._index: index.Index | None = None
        self._searcher: Any = None  # whoosh Searcher, replaced by refresh()

    # -- lifecycle -------------------------------------------------------------------

    def open_or_create(self) -> bool:
        """Open the live index; return True when the caller must rebuild it.

        A missing index, or one written with another SCHEMA_VERSION, is replaced by an
        empty one at once so searches and updates work (finding nothing) until then.
        """
        with self._lock:
            self._root.mkdir(parents=True, exist_ok=True)
            generation = self._live_generation()
            if generation is not None and self._stored_version(generation) == schema.SCHEMA_VERSION:
                self._open(generation)
                return False
            build_dir = self._new_build_dir()
            index.create_in(build_dir, SCHEMA)
            self._publish(build_dir)
            return True

    def close(self) -> None:
        with self._lock:
            if self._searcher is not None:
                self._searcher.close()
            self._searcher = self._index = self._generation = None

    # -- writing ---------------------------------------------------------------------

    def update(
        self, docs: Iterable[Mapping[str, Any]], deletes: Iterable[tuple[int, str, int]] = ()
    ) -> None:
        """Upsert ``docs`` and remove ``deletes`` in one commit (deletes win).

        Each commit costs tens of milliseconds and adds a segment, so callers should
        batch changes. Waits up to 30 s for another writer, then raises LockError.
        """
        writer = self._live_index().writer(timeout=_WRITER_TIMEOUT_S)
        with writer:  # commits, or cancels if anything raises
            for doc in docs:
                writer.update_document(**_to_fields(doc))
            for team_id, kind, record_id in deletes:
                writer.delete_by_term("key", _key(team_id, kind, record_id))

    def optimize(self) -> None:
        """Merge all segments into one: run now and then (e.g. nightly) after updates."""
        self._live_index().writer(timeout=_WRITER_TIMEOUT_S).commit(optimize=True)

    def rebuild(
        self,
        docs: Iterable[Mapping[str, Any]],
        total: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Index ``docs`` into a fresh generation, then swap it in atomically.

        Searches keep using the old index meanwhile. Updates made to the old index
        during the rebuild are not carried over: re-send records changed since it began.
        ``progress(count)`` is called about every 1% of ``total`` (or 1000 documents).
        """
        every = max(1, total // 100) if total else _PROGRESS_EVERY
        build_dir = self._new_build_dir()
        try:
            writer = index.create_in(build_dir, SCHEMA).writer(
                procs=self._procs, multisegment=self._procs > 1, limitmb=_REBUILD_LIMIT_MB
            )
            with writer:
                count = 0
                for count, doc in enumerate(docs, 1):
                    writer.add_document(**_to_fields(doc))
                    if progress is not None and count % every == 0:
                        progress(count)
            if progress is not None:
                progress(count)
        except BaseException:
            shutil.rmtree(build_dir, ignore_errors=True)
            raise
        with self._lock:
            self._publish(build_dir)

    # -- the live generation ----------------------------------------------------------

    def _current_searcher(self) -> Any:
        """The kept-open searcher, reopened after a commit or a rebuild (caller locks).

        Not Searcher.refresh(): in whoosh-ng 5.4 (and whoosh-reloaded 2.7.5) it keeps the
        segments a merge replaced, so updated records show up twice and deleted ones come
        back. Reopening costs a few milliseconds, and only after a commit.
        """
        if not self._follow_pointer() and not self._searcher.up_to_date():
            self._open(self._generation)
        return self._searcher

    def _live_index(self) -> index.Index:
        with self._lock:
            self._follow_pointer()
            assert self._index is not None
            return self._index

    def _follow_pointer(self) -> bool:
        """Open the live generation if it is not the one open; True if it was reopened."""
        generation = self._live_generation()
        if generation is None:
            raise RuntimeError("search index missing: call open_or_create() first")
        if generation == self._generation:
            return False
        self._open(generation)
        return True

    def _open(self, generation: str) -> None:
        # Closing the old searcher is safe: every query holds the lock while it reads.
        if self._searcher is not None:
            self._searcher.close()
        # A writer in another thread or process may replace the table of contents (and
        # delete the old one) between Whoosh listing and reading it: try again.
        for attempt in range(_OPEN_ATTEMPTS):
            try:
                self._index = index.open_dir(self._root / generation)
                self._searcher = self._index.searcher()
                break
            except FileNotFoundError:
                if attempt == _OPEN_ATTEMPTS - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        self._generation = generation

    def _live_generation(self) -> str | None:
        try:
            return (self._root / _POINTER_FILE).read_text().strip() or None
        except FileNotFoundError:
            return None

    def _stored_version(self, generation: str) -> int | None:
        try:
            return int((self._root / generation / _VERSION_FILE).read_text())
        except (FileNotFoundError, ValueError):
            return None

    def _new_build_dir(self) -> Path:
        return Path(tempfile.mkdtemp(prefix=_BUILD_PREFIX, dir=self._root))

    def _publish(self, build_dir: Path) -> None:
        """Make a finished build the live generation (caller holds the lock)."""
        (build_dir / _VERSION_FILE).write_text(f"{schema.SCHEMA_VERSION}\n")
        generation = _GENERATION_PREFIX + build_dir.name.removeprefix(_BUILD_PREFIX)
        build_dir.rename(self._root / generation)
        pointer = self._root / f".{_POINTER_FILE}.{os.getpid()}.{threading.get_ident()}"
        pointer.write_text(generation)
        os.replace(pointer, self._root / _POINTER_FILE)  # atomic on POSIX and Windows
        self._open(generation)
        self._prune(keep=generation)

    def _prune(self, keep: str) -> None:
        generations = sorted(
            self._root.glob(_GENERATION_PREFIX + "*"), key=lambda p: p.stat().st_mtime
        )
        old = [p for p in generations if p.name != keep][: -(_KEEP_GENERATIONS - 1)]
        for path in old:
            shutil.rmtree(path, ignore_errors=True)
