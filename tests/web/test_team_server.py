"""The team-server mode under concurrent use: two app instances on one PostgreSQL database
(as two server processes would be), people writing to the same item at once, and an
import running while others read pages. Nothing written may be lost and no read may fail.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_company import Company, build_company, log_in

from quarterdeck import Workspace
from quarterdeck.simulate import SimulationSpec, simulate
from quarterdeck.web import create_app
from quarterdeck.web.hub import STAMP_SECONDS

ROUNDS = 8
"""Writes each person makes in each race."""


@pytest.fixture(scope="module")
def company(postgres_database: str, tmp_path_factory: pytest.TempPathFactory) -> Company:
    return build_company(postgres_database, "postgres", tmp_path_factory.mktemp("team"))


@pytest.fixture(scope="module")
def servers(company: Company) -> Iterator[tuple[Any, Any]]:
    """Two apps over the same PostgreSQL database, each with its own Workspace."""
    apps = (create_app(company.db), create_app(company.db))
    yield apps
    for app in apps:
        app.state.hub.close()


def client(app: Any, email: str) -> tuple[TestClient, dict[str, str]]:
    """A client of ``app`` logged in as ``email``, and the headers of its writes."""
    c = TestClient(app, raise_server_exceptions=False)
    return c, {"X-CSRF-Token": log_in(c, email)}


def race(*jobs: Callable[[], None]) -> None:
    """Run ``jobs`` at once, each in its thread, started together; re-raise the first error."""
    start = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job: Callable[[], None]) -> None:
        start.wait()
        try:
            job()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors


def test_two_people_writing_one_item_lose_nothing(
    servers: tuple[Any, Any], company: Company
) -> None:
    leader, leader_h = client(servers[0], "leader@example.com")
    ceo, ceo_h = client(servers[1], "ceo@example.com")
    made = leader.post(
        "/api/meeting/items", json={"kind": "issue", "title": "Pricing"}, headers=leader_h
    )
    assert made.status_code == 201, made.text
    item = made.json()["item_id"]

    def writes(c: TestClient, headers: dict[str, str], who: str, field: str) -> Callable[[], None]:
        def job() -> None:
            for n in range(ROUNDS):
                note = c.post(
                    f"/api/meeting/items/{item}/notes",
                    json={"text": f"{who} note {n}"},
                    headers=headers,
                )
                assert note.status_code == 200, note.text
                value = f"{who} {n}" if field == "title" else f"2027-01-{n + 1:02d}"
                change = c.post(f"/api/meeting/items/{item}", json={field: value}, headers=headers)
                assert change.status_code == 200, change.text

        return job

    race(writes(leader, leader_h, "leader", "title"), writes(ceo, ceo_h, "ceo", "due"))
    with Workspace(company.db) as ws:
        updates = ws.item(item).updates
    notes = sorted(u.new_value or "" for u in updates if u.field == "note")
    assert notes == sorted(f"{who} note {n}" for who in ("leader", "ceo") for n in range(ROUNDS))
    for field, values in (
        ("title", ["Pricing"] + [f"leader {n}" for n in range(ROUNDS)]),  # as raised, then
        ("due", [f"2027-01-{n + 1:02d}" for n in range(ROUNDS)]),
    ):
        chain = sorted((u for u in updates if u.field == field), key=lambda u: u.seq)
        assert [u.new_value for u in chain] == values
        # each change starts from the value the one before it left: none was overwritten
        assert [u.old_value for u in chain] == [None, *values[:-1]]
    assert len({u.seq for u in updates}) == len(updates)


def test_two_people_adding_items_at_once_get_distinct_ids(
    servers: tuple[Any, Any], company: Company
) -> None:
    leader, leader_h = client(servers[0], "leader@example.com")
    ceo, ceo_h = client(servers[1], "ceo@example.com")
    made: list[str] = []

    def adds(c: TestClient, headers: dict[str, str], who: str) -> Callable[[], None]:
        def job() -> None:
            for n in range(ROUNDS):
                r = c.post(
                    "/api/meeting/items",
                    json={"kind": "action", "title": f"{who} action {n}"},
                    headers=headers,
                )
                assert r.status_code == 201, r.text
                made.append(r.json()["item_id"])

        return job

    race(adds(leader, leader_h, "leader"), adds(ceo, ceo_h, "ceo"))
    assert len(set(made)) == 2 * ROUNDS
    with Workspace(company.db) as ws:
        titles = {v.item.title for v in ws.agenda().open}
    assert {f"{w} action {n}" for w in ("leader", "ceo") for n in range(ROUNDS)} <= titles


READS = ("/api/meeting", "/api/pipeline", "/api/deals?status=all", "/meeting", "/pipeline")


def test_an_import_while_people_read_breaks_no_page(
    servers: tuple[Any, Any], company: Company, tmp_path: Path
) -> None:
    export = tmp_path / "export"
    simulate(SimulationSpec(deals=600, end=date(2026, 11, 27), seed=12), export)
    before = [client(app, "ceo@example.com")[0].get("/api/imports") for app in servers]
    assert [len(r.json()["imports"]) for r in before] == [1, 1]  # now cached by each server
    done = threading.Event()
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def importer() -> None:
        try:
            with Workspace(company.db) as ws:
                result = ws.import_files([export])
            assert result.rows_rejected == 0
        finally:
            done.set()

    def reader(app: Any, email: str) -> Callable[[], None]:
        def job() -> None:
            c, _ = client(app, email)
            n = 0
            while not done.is_set() or n < len(READS):
                response = c.get(READS[n % len(READS)])
                with lock:
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                assert response.status_code == 200, (READS[n % len(READS)], response.text[:500])
                n += 1

        return job

    race(
        importer,
        reader(servers[0], "ceo@example.com"),
        reader(servers[1], "leader@example.com"),
        reader(servers[1], "a@example.com"),
    )
    assert set(statuses) == {200} and statuses[200] >= 3 * len(READS)
    with Workspace(company.db) as ws:
        assert len(ws.imports()) == 2
    time.sleep(STAMP_SECONDS + 0.2)  # each server looks for others' changes once a second
    for app in servers:  # each server shows the import the other process made
        c, _ = client(app, "ceo@example.com")
        assert len(c.get("/api/imports").json()["imports"]) == 2
