"""The one Workspace a web app holds, the lock that serialises its calls, and the cache of
what it read.

Ibis connections (DuckDB's above all) are not safe to share between threads, and FastAPI
runs plain ``def`` routes in a thread pool, so every call into the Workspace holds one lock.
What a read returned is kept in memory and answered again without the lock. Versions
key the cache:

- the *data* version: the deal data and what the figures rest on (imports, targets,
  settings, logins, saved forecasts);
- a version per part of the meeting record (``RECORD``): items (and their notes),
  forecast calls, meetings (held, notes).

A write through the hub names the part of the record it touched, or none: then it may
have changed anything, and every version moves. A read is keyed on the data version, the
versions of the parts of the record it depends on (all, unless it says) and the viewer's
email. A *shared* read (the brief's figures, deal listings, a deal's history) depends on
the deal data alone: it is keyed on the data version and the viewer's data key
(``access.scope``), so everyone who sees the same deals shares one computation, and a
change of an item during the meeting does not recompute them.

On a shared database server (PostgreSQL), other processes write too (another app server,
the CLI): at most every ``STAMP_SECONDS`` a read first compares the database's change
stamp (``Workspace.change_stamp``) with the one it last saw, and drops what a change made
elsewhere made stale. Entries also age out after ``ttl`` seconds. A DuckDB file has one
writer, this process, so it needs neither.

With ``prepare`` on (``quarterdeck serve``), the hub computes ahead, in a background
thread, what every enabled login is likely to open first (the pages register it with
``Hub.ahead``), at start and after every change, most recent logins first. It takes the
lock for one computation at a time, so people's requests interleave. After a change of the
meeting record, until that round has reached them, others are answered with their page as
it was (seconds old), rather than everyone waiting for everyone's page at once; whoever
made the change sees it at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from quarterdeck.workspace import Workspace

if TYPE_CHECKING:
    from quarterdeck.access import Session, Viewer

__all__ = ["Hub"]

T = TypeVar("T")

log = logging.getLogger("quarterdeck.web")

CACHE_ENTRIES = 10_000
"""Most results kept at once; the least recently used go first."""

STAMP_SECONDS = 1.0
"""How often, at most, the cache checks for changes made by other processes (PostgreSQL)."""

RECORD = ("items", "calls", "meetings")
"""The parts of the meeting record a read may depend on and a write may touch."""

SESSION_SECONDS = 30.0
"""How long a looked-up session is trusted before it is read again (logout drops it at once)."""


class _DataChanged(Exception):
    """The deal data changed while a round of preparation was under way."""


class Hub:
    """The app's Workspace behind one lock, with a cache of reads (see the module docstring)."""

    def __init__(self, db: str | None = None, *, ttl: float = 300.0, prepare: bool = False) -> None:
        self.ws = Workspace(db)
        self.lock = threading.RLock()
        self.ttl = ttl
        self.data_version = 0
        self.record_versions = dict.fromkeys(RECORD, 0)
        self._cache: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._views: dict[Viewer, Workspace] = {}
        self._data_keys: dict[Viewer, Hashable] = {}
        self._sessions: dict[str, tuple[float, Any]] = {}
        self._ahead: list[Callable[[Hub, Viewer], object]] = []
        self._shared_db = self.ws.store.target.engine != "duckdb"
        self._stamp = self.ws.change_stamp() if self._shared_db else None
        self._stamp_checked = time.monotonic()
        self.prepare = prepare
        self._wanted = 0
        self._done = 0
        self._worker: threading.Thread | None = None
        self._closed = False
        self._writers: dict[str, int] = {}
        """Who changed the meeting record, and the round of preparation that holds it."""
        self._last: dict[Hashable, tuple[int, Any]] = {}
        self._local = threading.local()
        self.prepared = threading.Event()
        """Set once the background preparation finished for the current data."""

    def close(self) -> None:
        with self.lock:
            self._closed = True
            self.ws.close()

    def _scoped(self, viewer: Viewer | None) -> Workspace:
        """The Workspace as ``viewer`` sees it (call with the lock held)."""
        if viewer is None:
            return self.ws
        view = self._views.get(viewer)
        if view is None:
            view = self._views[viewer] = self.ws.as_viewer(viewer)
        return view

    def read(
        self,
        viewer: Viewer | None,
        endpoint: str,
        params: Hashable,
        job: Callable[[Workspace], T],
        *,
        shared: bool = False,
        depends: tuple[str, ...] = RECORD,
    ) -> T:
        """``job(workspace as viewer sees it)``, from the cache when asked since the last
        write that could change it: of the deal data, or of the parts of the meeting
        record it ``depends`` on (see the module docstring for ``shared``)."""
        now = time.monotonic()
        if self._shared_db and now - self._stamp_checked > STAMP_SECONDS:
            self._check_stamp()
        found = self._cache.get(self._key(viewer, endpoint, params, shared, depends))
        if found is not None and now - found[0] < self.ttl:
            return found[1]  # type: ignore[no-any-return]
        last = (viewer.email if viewer else None, endpoint, params)
        if not shared and self._may_be_stale(viewer):
            stale = self._last.get(last)
            if stale is not None and stale[0] == self.data_version:
                return stale[1]  # type: ignore[no-any-return]
        with self.lock:
            key = self._key(viewer, endpoint, params, shared, depends)
            found = self._cache.get(key)
            if found is not None and now - found[0] < self.ttl:
                return found[1]  # type: ignore[no-any-return]
            value = job(self._scoped(viewer))
            self._cache[key] = (time.monotonic(), value)
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
            if not shared:
                if len(self._last) > CACHE_ENTRIES:
                    self._last.clear()
                self._last[last] = (self.data_version, value)
            return value

    def _may_be_stale(self, viewer: Viewer | None) -> bool:
        """Whether ``viewer`` may be answered with their page from before a change of the
        meeting record while it is computed again ahead: only while a round of preparation
        is under way (a page it does not prepare is computed afresh once the round ends),
        never for someone who changed the record since the last round (they see their
        change at once), and never for the round itself."""
        return (
            self.prepare
            and self._done < self._wanted  # a round is under way: staleness ends with it
            and viewer is not None
            and viewer.email not in self._writers
            and not getattr(self._local, "preparing", False)
        )

    def keep(
        self,
        viewer: Viewer | None,
        endpoint: str,
        answers: Mapping[Any, object],
        *,
        shared: bool = False,
    ) -> None:
        """Cache answers computed together (one query for many deals) as if each had been
        read with its parameters."""
        with self.lock:
            now = time.monotonic()
            for params, value in answers.items():
                self._cache[self._key(viewer, endpoint, params, shared)] = (now, value)
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)

    def _key(
        self,
        viewer: Viewer | None,
        endpoint: str,
        params: Hashable,
        shared: bool,
        depends: tuple[str, ...] = RECORD,
    ) -> Hashable:
        if shared:
            who = self._data_keys.get(viewer) if viewer is not None else None
            if viewer is not None and who is None:
                with self.lock:
                    store = self._scoped(viewer).store
                    who = self._data_keys[viewer] = (
                        store.scope.data_key if store.scope is not None else ("all",)  # type: ignore[attr-defined]
                    )
            return (self.data_version, "shared", who, endpoint, params)
        email = viewer.email if viewer else None
        versions = tuple(self.record_versions[part] for part in depends)
        return (self.data_version, versions, email, endpoint, params)

    def write(
        self, viewer: Viewer | None, job: Callable[[Workspace], T], *, touches: str | None = None
    ) -> T:
        """``job(workspace as viewer sees it)`` under the lock; then the cached reads it
        may have changed are dropped, whether the job succeeded or not (it may have
        written part way). ``touches``: the one part of the meeting record (``RECORD``)
        the job changed; None when it may have changed anything."""
        with self.lock:
            if viewer is not None:
                self._writers[viewer.email] = self._wanted + 1
            try:
                return job(self._scoped(viewer))
            finally:
                self.changed(touches=touches)

    def _check_stamp(self) -> None:
        """Drop what changes made by other processes made stale (see the module docstring)."""
        with self.lock:
            self._stamp_checked = time.monotonic()
            stamp = self.ws.change_stamp()
            seen, self._stamp = self._stamp, stamp
            if seen is None or stamp == seen:
                return
            self._changed(touches=RECORD if stamp[1:] == seen[1:] else None)

    def changed(self, *, touches: str | None = None) -> None:
        """Drop the cached reads a change made here makes stale (see :meth:`_changed`)."""
        with self.lock:
            self._changed(touches=(touches,) if touches else None)
            if self._shared_db:
                self._stamp = self.ws.change_stamp()  # our own change is no news
                self._stamp_checked = time.monotonic()

    def _changed(self, *, touches: tuple[str, ...] | None) -> None:
        """Move the versions of what changed: the parts of the meeting record ``touches``
        names (reads that depend on them are no longer found, and age out), or, when None,
        everything (the cache is emptied and the logins' pages prepared again)."""
        with self.lock:
            for part in touches or RECORD:
                if part not in self.record_versions:
                    raise ValueError(f"unknown part of the meeting record {part!r}")
                self.record_versions[part] += 1
            if touches is not None:
                self.start_preparing()
                return
            self.data_version += 1
            self._last.clear()
            self._cache.clear()
            self._views.clear()
            self._data_keys.clear()
            self._sessions.clear()
        self.start_preparing()

    # -- computing ahead ----------------------------------------------------------------------

    def ahead(self, job: Callable[[Hub, Viewer], object]) -> None:
        """Register ``job(hub, viewer)``: reads to make ahead for each login."""
        self._ahead.append(job)

    def start_preparing(self) -> None:
        """Prepare every login's first pages in the background (when ``prepare`` is on):
        one worker goes round the logins, and round again while changes came meanwhile."""
        if not self.prepare or not self._ahead:
            self.prepared.set()
            return
        with self.lock:
            self.prepared.clear()
            self._wanted += 1
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._prepare, name="quarterdeck-prepare", daemon=True
                )
                self._worker.start()

    def _prepare(self) -> None:
        self._local.preparing = True
        while True:
            with self.lock:
                if self._done >= self._wanted or self._closed:
                    self._worker = None
                    self.prepared.set()
                    return
                wanted, data = self._wanted, self.data_version
            try:
                for viewer in self.call(lambda ws: ws.viewers()):
                    for job in self._ahead:
                        if self._closed:
                            return
                        if self.data_version != data:
                            raise _DataChanged
                        job(self, viewer)
            except _DataChanged:
                continue  # go round again, on the new data
            except Exception:
                log.exception("preparing the logins' pages failed (they are computed when opened)")
            with self.lock:
                self._done = max(self._done, wanted)
                # Whoever wrote before this round began has their change in it now.
                self._writers = {e: r for e, r in self._writers.items() if r > wanted}

    def call(self, job: Callable[[Workspace], T]) -> T:
        """``job(the whole workspace)`` under the lock, uncached (logins, sessions)."""
        with self.lock:
            return job(self.ws)

    # -- sessions ---------------------------------------------------------------------------

    def session(self, token: str) -> tuple[Viewer, Session] | None:
        """The viewer and session of ``token``, or None (kept for ``SESSION_SECONDS``)."""
        now = time.monotonic()
        found = self._sessions.get(token)
        if found is not None and now - found[0] < SESSION_SECONDS:
            pair: tuple[Viewer, Session] | None = found[1]
            return pair
        pair = self.call(lambda ws: ws.session(token))
        self._sessions[token] = (now, pair)
        return pair

    def forget_session(self, token: str) -> None:
        self._sessions.pop(token, None)
