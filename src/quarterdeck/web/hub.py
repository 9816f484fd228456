"""The one Workspace a web app holds, the lock that serialises its calls, and the cache of
what it read.

Ibis connections (DuckDB's above all) are not safe to share between threads, and FastAPI
runs plain ``def`` routes in a thread pool, so every call into the Workspace holds one lock.
What a read returned is kept under (data version, viewer, endpoint, parameters): the next
request for the same thing by the same viewer is answered from memory without the lock, so
a page many people open costs one computation. Every write through the hub bumps the data
version, which drops the cache; entries also age out after ``ttl`` seconds, for writes the
server did not make (another process on a shared PostgreSQL database).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

from quarterdeck.workspace import Workspace

if TYPE_CHECKING:
    from quarterdeck.access import Session, Viewer

__all__ = ["Hub"]

T = TypeVar("T")

CACHE_ENTRIES = 2048
"""Most results kept at once; the least recently used go first."""

SESSION_SECONDS = 30.0
"""How long a looked-up session is trusted before it is read again (logout drops it at once)."""


class Hub:
    """The app's Workspace behind one lock, with a cache of reads (see the module docstring)."""

    def __init__(self, db: str | None = None, *, ttl: float = 300.0) -> None:
        self.ws = Workspace(db)
        self.lock = threading.RLock()
        self.ttl = ttl
        self.version = 0
        self._cache: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._views: dict[Viewer, Workspace] = {}
        self._sessions: dict[str, tuple[float, Any]] = {}

    def close(self) -> None:
        with self.lock:
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
    ) -> T:
        """``job(workspace as viewer sees it)``, from the cache when the same viewer asked
        the same endpoint with the same parameters since the last write."""
        key = (self.version, viewer.email if viewer else None, endpoint, params)
        found = self._cache.get(key)
        now = time.monotonic()
        if found is not None and now - found[0] < self.ttl:
            return found[1]  # type: ignore[no-any-return]
        with self.lock:
            key = (self.version, viewer.email if viewer else None, endpoint, params)
            found = self._cache.get(key)
            if found is not None and now - found[0] < self.ttl:
                return found[1]  # type: ignore[no-any-return]
            value = job(self._scoped(viewer))
            self._cache[key] = (time.monotonic(), value)
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
            return value

    def write(self, viewer: Viewer | None, job: Callable[[Workspace], T]) -> T:
        """``job(workspace as viewer sees it)`` under the lock; then every cached read is
        dropped, whether the job succeeded or not (it may have written part way)."""
        with self.lock:
            try:
                return job(self._scoped(viewer))
            finally:
                self.changed()

    def changed(self) -> None:
        """Drop every cached read (the data changed)."""
        with self.lock:
            self.version += 1
            self._cache.clear()
            self._views.clear()
            self._sessions.clear()

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
