"""The pipeline page's filters narrow its waterfall, its ledger and their drill-downs, not
only the deal listing."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote

from fastapi.testclient import TestClient
from web_company import Company, log_in

from quarterdeck.browse import DealFilter
from quarterdeck.workspace import Workspace


def test_a_team_filter_narrows_the_waterfall_and_its_deals(
    app_client: TestClient, company: Company
) -> None:
    log_in(app_client, "leader@example.com")
    whole = app_client.get("/api/pipeline").json()
    teams = whole["deals"]["choices"]["team"]
    assert len(teams) >= 2
    team = teams[0]
    narrowed = app_client.get("/api/pipeline", params={"team": team}).json()
    change = narrowed["period_change"]
    # The waterfall holds, and is the team's: what the narrowed workspace computes...
    moved = sum(Decimal(b["amount"]) * b["sign"] for b in change["bars"])
    assert Decimal(change["start_amount"]) + moved == Decimal(change["end_amount"])
    with Workspace(company.db) as ws:
        brief = ws.narrowed(DealFilter(team=team)).brief()
        team_ids = {
            u["user_id"]
            for u in ws.store.to_arrow(ws.store.table("users")).to_pylist()
            if u["team"] == team
        }
    assert Decimal(change["end_amount"]) == brief.period_change.end_amount
    # ...and less than everyone's (the other teams hold pipeline too).
    assert Decimal(change["end_amount"]) < Decimal(whole["period_change"]["end_amount"])
    # The page's drill-down links carry the filter and list the team's deals only.
    page = app_client.get("/pipeline", params={"team": team}).text
    assert f"team={quote(team)}" in page
    drilled = app_client.get("/api/meeting/drill", params={"ref": "pipeline", "team": team}).json()
    with Workspace(company.db) as ws:
        deals = ws.store.to_arrow(ws.store.table("deals")).to_pylist()
    owner_of = {d["deal_id"]: d["owner_id"] for d in deals}
    shown = [d["deal_id"] for d in drilled["deals"]]
    assert shown and all(owner_of[d] in team_ids for d in shown)
