"""A rep cannot reach another rep's deal: not by the page, not by the API with their own
session, not by trying every id there is. Expectations are counted from the deals table
as imported (``Facts.owners``), on DuckDB and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
from served import Company


def _session(page: Any) -> dict[str, str]:
    return {c["name"]: c["value"] for c in page.context.cookies()}


def test_a_rep_reaches_their_deals_only(page: Any, company: Company) -> None:
    me, other = company.reps
    owners = company.facts.owners
    mine = sorted(d for d, owner in owners.items() if owner == me)
    theirs = sorted(d for d, owner in owners.items() if owner == other)
    assert mine and theirs
    company.log_in(page, me)
    assert page.locator("form.who span").inner_text() == "Rep 1 (rep)"

    # By page: their own deal opens; the other rep's reads like an id that does not exist.
    page.goto(f"{company.url}/deals/{mine[0]}")
    assert page.locator("dl.facts").inner_text().count(mine[0]) == 1
    response = page.goto(f"{company.url}/deals/{theirs[0]}")
    assert response.status == 404
    assert page.locator("h1").inner_text() == "Not found"
    refused_text = page.locator("main").inner_text().replace(theirs[0], "ID")
    company.shot(page, "deal-of-another-rep")
    unknown = page.goto(f"{company.url}/deals/NO-SUCH-DEAL")
    assert unknown.status == 404
    assert page.locator("main").inner_text().replace("NO-SUCH-DEAL", "ID") == refused_text

    # By API, with the rep's own session cookie from the browser.
    own = page.request.get(f"{company.url}/api/deals/{mine[0]}")
    assert own.status == 200 and own.json()["deal"]["owner_id"] == me
    refused = page.request.get(f"{company.url}/api/deals/{theirs[0]}")
    assert refused.status == 404
    listed = page.request.get(f"{company.url}/api/deals?status=all").json()
    assert listed["total"] == len(mine)

    # By guessing: every deal id in the database, with the same session.
    found: dict[int, int] = {}
    with httpx.Client(base_url=company.url, cookies=_session(page), timeout=30) as client:
        for deal_id in owners:
            status = client.get(f"/api/deals/{deal_id}").status_code
            found[status] = found.get(status, 0) + 1
            assert status == (200 if owners[deal_id] == me else 404), deal_id
    assert found == {200: len(mine), 404: len(owners) - len(mine)}
