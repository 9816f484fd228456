"""Long work done in a background thread (an import, a forecast), polled by the page.

A job runs its work through the hub (under its lock, then the cache is dropped), reports
progress as (step, fraction), and keeps its outcome or the message of its error for the
page to show. Jobs live in memory: a restarted server forgets them, the import log does not.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from quarterdeck.errors import QuarterdeckError

if TYPE_CHECKING:
    from quarterdeck.access import Viewer
    from quarterdeck.web.hub import Hub
    from quarterdeck.workspace import Workspace

__all__ = ["Job", "Jobs"]

log = logging.getLogger("quarterdeck.web")

KEPT = 50


@dataclass
class Job:
    """One piece of background work and where it stands."""

    job_id: str
    kind: str
    owner: str
    state: str = "running"
    step: str = "waiting"
    fraction: float = 0.0
    message: str | None = None
    result: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def progress(self, step: str, fraction: float) -> None:
        self.step, self.fraction = step, fraction


class Jobs:
    """The jobs of one app, newest last (the oldest finished ones are forgotten)."""

    def __init__(self) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def start(
        self,
        hub: Hub,
        viewer: Viewer,
        kind: str,
        work: Callable[[Workspace, Job], Any],
        **extra: Any,
    ) -> Job:
        job = Job(uuid.uuid4().hex, kind, viewer.email, extra=extra)
        with self._lock:
            self._jobs[job.job_id] = job
            while len(self._jobs) > KEPT:
                oldest = next(iter(self._jobs))
                if self._jobs[oldest].state == "running":
                    break
                del self._jobs[oldest]

        def run() -> None:
            try:
                job.result = hub.write(viewer, lambda ws: work(ws, job))
                job.state, job.fraction = "done", 1.0
            except QuarterdeckError as exc:
                job.state, job.message = "failed", str(exc)
                job.extra["error"] = exc
            except Exception:
                log.exception("background %s failed", kind)
                job.state, job.message = "failed", "internal error: it was logged"

        threading.Thread(target=run, name=f"quarterdeck-{kind}", daemon=True).start()
        return job

    def get(self, job_id: str, viewer: Viewer) -> Job | None:
        """The job ``job_id`` if ``viewer`` started it (others' jobs are not theirs to see)."""
        job = self._jobs.get(job_id)
        return job if job is not None and job.owner == viewer.email else None

    def of(self, viewer: Viewer, kind: str) -> list[Job]:
        return [
            j for j in reversed(self._jobs.values()) if j.owner == viewer.email and j.kind == kind
        ]

    def running(self, kind: str) -> bool:
        return any(j.kind == kind and j.state == "running" for j in self._jobs.values())
