"""The app's cache (``web.hub``): what is shared between viewers, what a change of the
meeting record keeps, and what ``quarterdeck serve`` prepares ahead for each login."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_company import Company, log_in

from quarterdeck.web import create_app
from quarterdeck.web.hub import STAMP_SECONDS, Hub
from quarterdeck.workspace import Workspace


@pytest.fixture
def briefs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every computation of a brief's figures, by the viewer's email, as it happens."""
    made: list[str] = []
    brief = Workspace.brief

    def counted(self: Workspace, *args: Any, **kwargs: Any) -> Any:
        made.append(self.viewer.email if self.viewer else "")
        return brief(self, *args, **kwargs)

    monkeypatch.setattr(Workspace, "brief", counted)
    return made


@pytest.fixture
def client(company: Company) -> Iterator[TestClient]:
    app = create_app(company.db)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
    app.state.hub.close()


def test_figures_are_shared_and_kept_across_changes_of_the_record(
    client: TestClient, company: Company, briefs: list[str]
) -> None:
    log_in(client, "ceo@example.com")
    first = client.get("/api/meeting").json()
    assert briefs == ["ceo@example.com"]
    # The leader sees every deal, as the CEO does: the same figures, not computed again.
    csrf = log_in(client, "leader@example.com")
    assert client.get("/api/meeting").json()["goal"] == first["goal"]
    assert briefs == ["ceo@example.com"]
    # A rep sees other deals: their own figures.
    log_in(client, "a@example.com")
    client.get("/api/meeting")
    assert briefs == ["ceo@example.com", "a@example.com"]
    # An item changes the meeting record, not the deal data: the leader's page shows it at
    # once, and the figures stay.
    csrf = log_in(client, "leader@example.com")
    added = client.post(
        "/api/meeting/items",
        json={"kind": "issue", "title": "Pricing page is out of date"},
        headers={"X-CSRF-Token": csrf},
    )
    assert added.status_code == 201, added.text
    titles = [i["title"] for i in client.get("/api/meeting").json()["items"]]
    assert "Pricing page is out of date" in titles
    assert briefs == ["ceo@example.com", "a@example.com"]
    # A target changes the figures: they are computed again, with the new goal.
    period = first["goal"]["period"]
    target = client.post(
        "/api/settings/targets",
        json={"period": period, "amount": "1234567.00"},
        headers={"X-CSRF-Token": csrf},
    )
    assert target.status_code == 204, target.text
    again = client.get("/api/meeting").json()
    assert briefs == ["ceo@example.com", "a@example.com", "leader@example.com"]
    assert again["goal"]["target"] == "1234567.00"


def test_serve_prepares_each_logins_first_pages(
    company: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(company.db, prepare=True)
    try:
        assert app.state.hub.prepared.wait(120), "the logins' pages were not prepared in 2 min"

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("computed on request, not ahead")

        with TestClient(app, raise_server_exceptions=False) as client:
            log_in(client, "a@example.com")
            # Everything a rep opens first is ready: nothing is computed when they open it.
            for name in ("brief", "agenda", "deals", "deal", "latest_forecast"):
                monkeypatch.setattr(Workspace, name, refuse)
            listing = client.get("/api/deals")
            assert listing.status_code == 200
            mine = listing.json()["deals"][0]["deal_id"]
            for path in ("/meeting", "/api/meeting", "/forecast", f"/deals/{mine}"):
                assert client.get(path).status_code == 200, path
            monkeypatch.undo()
            # Another rep's deal is still a 404.
            assert client.get(f"/api/deals/{company.deal_of_b}").status_code == 404
    finally:
        app.state.hub.close()


def test_a_change_made_by_another_server_shows_within_seconds(company: Company) -> None:
    if company.engine != "postgres":
        pytest.skip("one DuckDB file has one writer: the server holding it")
    first, second = create_app(company.db), create_app(company.db)
    try:
        with (
            TestClient(first, raise_server_exceptions=False) as one,
            TestClient(second, raise_server_exceptions=False) as two,
        ):
            log_in(two, "ceo@example.com")
            before = two.get("/api/meeting").json()
            csrf = log_in(one, "leader@example.com")
            added = one.post(
                "/api/meeting/items",
                json={"kind": "issue", "title": "Raised on the other server"},
                headers={"X-CSRF-Token": csrf},
            )
            assert added.status_code == 201, added.text
            target = one.post(
                "/api/settings/targets",
                json={"period": before["goal"]["period"], "amount": "7654321.00"},
                headers={"X-CSRF-Token": csrf},
            )
            assert target.status_code == 204, target.text
            time.sleep(STAMP_SECONDS + 0.2)
            after = two.get("/api/meeting").json()
            assert "Raised on the other server" in [i["title"] for i in after["items"]]
            assert after["goal"]["target"] == "7654321.00"
    finally:
        first.state.hub.close()
        second.state.hub.close()


def test_after_a_change_others_see_it_once_their_pages_are_prepared(company: Company) -> None:
    app = create_app(company.db, prepare=True)
    try:
        assert app.state.hub.prepared.wait(120)
        with (
            TestClient(app, raise_server_exceptions=False) as leader,
            TestClient(app, raise_server_exceptions=False) as ceo,
        ):
            csrf = log_in(leader, "leader@example.com")
            log_in(ceo, "ceo@example.com")
            assert ceo.get("/api/meeting").status_code == 200
            added = leader.post(
                "/api/meeting/items",
                json={"kind": "action", "title": "Send the revised pricing"},
                headers={"X-CSRF-Token": csrf},
            )
            assert added.status_code == 201, added.text
            # Whoever made the change sees it at once...
            titles = [i["title"] for i in leader.get("/api/meeting").json()["items"]]
            assert "Send the revised pricing" in titles
            # ...everyone else once the round of preparation has reached them.
            assert app.state.hub.prepared.wait(120)
            titles = [i["title"] for i in ceo.get("/api/meeting").json()["items"]]
            assert "Send the revised pricing" in titles
    finally:
        app.state.hub.close()


def test_a_page_the_round_does_not_prepare_is_not_kept_stale_past_it(company: Company) -> None:
    hub = Hub(company.db, prepare=True)
    try:
        hub.ahead(lambda hub, viewer: None)  # a round that prepares nothing
        hub.start_preparing()
        assert hub.prepared.wait(60)
        ceo = next(v for v in hub.call(lambda ws: ws.viewers()) if v.role == "ceo")
        answers = iter(["before", "after"])
        assert hub.read(ceo, "page", None, lambda ws: next(answers)) == "before"
        hub.write(None, lambda ws: None, touches="items")
        assert hub.prepared.wait(60)
        # The round is over: the page is computed again, not answered as it was.
        assert hub.read(ceo, "page", None, lambda ws: next(answers)) == "after"
    finally:
        hub.close()
