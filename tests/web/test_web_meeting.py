"""The meeting page and its JSON twin show the brief's numbers; items change in place and
carry to the next week; a held week is read-only; the brief downloads."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from fastapi.testclient import TestClient
from web_company import Company, log_in


def _won_by_hand(client: TestClient, as_of: date) -> tuple[Decimal, int]:
    """Closed won of the quarter up to ``as_of``, summed here from the deals table."""
    ws = client.app.state.hub.ws  # type: ignore[attr-defined]
    start = date(as_of.year, 3 * ((as_of.month - 1) // 3) + 1, 1)
    rows = ws.store.to_arrow(
        ws.store.table("deals").select("amount", "close_date", "is_won")
    ).to_pylist()
    won = [
        r["amount"] or Decimal(0)
        for r in rows
        if r["is_won"] and r["close_date"] and start <= r["close_date"] <= as_of
    ]
    return sum(won, Decimal(0)).quantize(Decimal("0.01")), len(won)


def test_meeting_shows_the_briefs_numbers(app_client: TestClient) -> None:
    log_in(app_client, "ceo@example.com")
    out = app_client.get("/api/meeting").json()
    as_of = date.fromisoformat(out["as_of"][:10])
    bookings, won = _won_by_hand(app_client, as_of)
    assert won > 0
    assert Decimal(out["goal"]["bookings"]) == bookings
    assert out["goal"]["won_count"] == won
    if out["goal"]["target"] is not None:
        assert Decimal(out["goal"]["gap"]) == Decimal(out["goal"]["target"]) - bookings
    page = app_client.get("/meeting")
    assert page.status_code == 200
    shown = f"{bookings:,.2f}"
    assert f'id="goal-bookings">{shown}<' in page.text
    for title in (
        "1. Revenue vs goal",
        "2. Big deals",
        "3. Risks",
        "4. Sales-leader initiatives",
        "5. Issues",
    ):
        assert title in page.text
    # The number drills down to every deal behind it, and they add up to it.
    drill = app_client.get(f"/api/meeting/drill?week={out['week']}&ref=won").json()
    assert len(drill["deals"]) == won
    assert sum(Decimal(d["amount"]) for d in drill["deals"]) == bookings
    assert app_client.get(f"/meeting/drill?week={out['week']}&ref=won").status_code == 200
    # The charts are Vega-Lite specs.
    spec = app_client.get(f"/api/meeting/chart?week={out['week']}&section=change&n=0")
    if spec.status_code == 200:
        assert spec.json()["$schema"].startswith("https://vega.github.io/schema/vega-lite/")


def test_a_risk_mitigation_added_this_week_shows_next_week(app_client: TestClient) -> None:
    csrf = log_in(app_client, "leader@example.com")
    week = app_client.get("/api/meeting").json()["week"]
    risky = app_client.get("/api/deals?status=open").json()["deals"][0]["deal_id"]
    panel = app_client.post(
        "/meeting/items",
        data={"csrf": csrf, "kind": "risk", "title": "Exec sponsor call", "deals": risky},
        headers={"HX-Request": "true"},
    )
    assert panel.status_code == 200
    assert panel.text.startswith('<div class="items-panel" id="items-risk">')
    assert "Exec sponsor call" in panel.text
    item = next(
        i
        for i in app_client.get("/api/meeting").json()["items"]
        if i["title"] == "Exec sponsor call"
    )
    assert item["deals"] == [risky] and item["meeting_id"] == week
    noted = app_client.post(
        f"/api/meeting/items/{item['item_id']}/notes",
        json={"text": "sponsor agreed to meet"},
        headers={"X-CSRF-Token": csrf},
    )
    assert noted.status_code == 200
    held = app_client.post("/api/meeting/held", json={"week": week}, headers={"X-CSRF-Token": csrf})
    assert held.status_code == 200 and held.json() == {"meeting_id": week}
    nxt = app_client.get("/api/meeting").json()
    assert nxt["week"] > week
    carried = next(i for i in nxt["items"] if i["item_id"] == item["item_id"])
    assert carried["carried"] is True and carried["status"] == "open"
    # The held week is read-only: no forms on its page, notes refused.
    old = app_client.get(f"/meeting?week={week}")
    assert "held" in old.text and 'action="/meeting/items"' not in old.text
    assert app_client.get(f"/api/meeting?week={week}").json()["editable"] is False
    refused = app_client.post(
        "/api/meeting/notes", json={"text": "late", "week": week}, headers={"X-CSRF-Token": csrf}
    )
    assert refused.status_code == 409
    again = app_client.post(
        "/api/meeting/held", json={"week": week}, headers={"X-CSRF-Token": csrf}
    )
    assert again.status_code == 409 and "already marked held" in again.json()["error"]


def test_leader_call_and_roles(app_client: TestClient) -> None:
    csrf = log_in(app_client, "leader@example.com")
    call = app_client.post(
        "/api/meeting/calls",
        json={"commit": "1000000", "best_case": "1500000", "note": "two big renewals"},
        headers={"X-CSRF-Token": csrf},
    )
    assert call.status_code == 201, call.text
    assert call.json()["commit"] == "1000000.00"
    bad = app_client.post(
        "/api/meeting/calls",
        json={"commit": "2000000", "best_case": "1500000"},
        headers={"X-CSRF-Token": csrf},
    )
    assert bad.status_code == 400
    csrf = log_in(app_client, "ceo@example.com")
    refused = app_client.post(
        "/api/meeting/calls",
        json={"commit": "1", "best_case": "2"},
        headers={"X-CSRF-Token": csrf},
    )
    assert refused.status_code == 403
    scores = app_client.get("/api/forecast").json()["calls"]
    assert scores[-1]["call"]["commit"] == "1000000.00"


def test_brief_downloads(app_client: TestClient) -> None:
    log_in(app_client, "ceo@example.com")
    md = app_client.get("/meeting/brief.md")
    assert md.status_code == 200 and md.text.startswith("# Weekly sales brief")
    assert "attachment" in md.headers["content-disposition"]
    html = app_client.get("/meeting/brief.html")
    assert html.status_code == 200 and "<html" in html.text
    assert html.headers["content-security-policy"].startswith("default-src 'none'")
    pdf = app_client.get("/meeting/brief.pdf")
    assert pdf.status_code in (200, 503)
    if pdf.status_code == 200:
        assert pdf.content.startswith(b"%PDF")
    else:
        assert "pip install 'quarterdeck[pdf]'" in pdf.text or "Pango" in pdf.text


def test_unknown_week_and_item_are_clear_errors(app_client: TestClient, company: Company) -> None:
    csrf = log_in(app_client, "leader@example.com")
    assert app_client.get("/api/meeting?week=soon").status_code == 400
    missing = app_client.post(
        "/api/meeting/items/I-999/notes", json={"text": "x"}, headers={"X-CSRF-Token": csrf}
    )
    assert missing.status_code == 400 and "no item I-999" in missing.json()["error"]
    page = app_client.get("/meeting?week=soon")
    assert page.status_code == 400 and "Traceback" not in page.text
