"""The main pages in real Chromium, on DuckDB and on PostgreSQL: log in (a wrong password
refused), the meeting's numbers as worked out from the deals, charts drawn under the CSP,
a risk mitigation added in place and carried to next week, an upload with rejected rows.

The tests of this module share one company per engine and run in order: the mitigation
test holds this week's meeting and the import test (last) adds data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from served import PASSWORD, Company, Facts

MONEY = "{:,.2f}"
"""How the pages write an amount (report.format.money): to the cent, thousands separated."""


def week_label(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def today() -> date:
    """Today as the meeting record counts weeks: in UTC."""
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class Goal:
    won: dict[str, Decimal]  # the deals won in the quarter so far, by id
    target: Decimal

    @property
    def bookings(self) -> Decimal:
        return sum(self.won.values(), Decimal(0))

    @property
    def gap(self) -> Decimal:
        return self.target - self.bookings


def goal_by_hand(facts: Facts, day: date) -> Goal:
    """Closed won and target of the meeting of ``day``'s week, from the deals and targets
    as imported (GLOSSARY: Bookings; the brief is as of the end of its week, or of the
    latest import when that is earlier; its period is the quarter of that moment)."""
    monday = day - timedelta(days=day.weekday())
    week_end = datetime.combine(monday + timedelta(days=7), datetime.min.time())
    as_of = min(week_end - timedelta(seconds=1), facts.data_as_of).date()
    first_month = 3 * ((as_of.month - 1) // 3) + 1
    start = date(as_of.year, first_month, 1)
    after = (
        date(as_of.year + 1, 1, 1) if first_month == 10 else date(as_of.year, first_month + 3, 1)
    )
    won = {i: amount for i, amount, closed in facts.won if start <= closed <= as_of}
    target = sum(
        (amount for s, e, amount in facts.company_targets if s >= start and e < after),
        Decimal(0),
    )
    return Goal(won, target)


def vega_drawn(page: Any) -> None:
    """Every Vega-Lite chart of the page is drawn as an <svg> (the page asks for SVG)."""
    charts = page.locator("div.vega")
    assert charts.count() > 0
    for n in range(charts.count()):
        charts.nth(n).locator("svg.marks").wait_for(timeout=15_000)


def test_log_in_and_a_wrong_password_is_refused(page: Any, company: Company) -> None:
    page.goto(f"{company.url}/pipeline")
    assert page.url == f"{company.url}/login?next=%2Fpipeline"
    company.shot(page, "login")
    page.fill("input[name=email]", company.logins["ceo"])
    page.fill("input[name=password]", "not the password")
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("[role=alert]").inner_text() == "wrong email or password"
    assert not [c for c in page.context.cookies() if c["name"] == "quarterdeck_session"]
    page.fill("input[name=email]", company.logins["ceo"])
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{company.url}/pipeline")
    assert page.locator("form.who span").inner_text() == "Ceo (ceo)"
    session = next(c for c in page.context.cookies() if c["name"] == "quarterdeck_session")
    assert session["httpOnly"] and session["sameSite"] == "Lax"


def test_the_meeting_shows_the_briefs_numbers(page: Any, company: Company) -> None:
    day = today()
    goal = goal_by_hand(company.facts, day)
    assert goal.bookings > 0 and goal.target > 0
    company.log_in(page, "ceo")
    page.goto(f"{company.url}/meeting?week={week_label(day)}")
    assert page.locator("h1").inner_text() == f"Weekly meeting {week_label(day)}"
    assert page.locator("#goal-bookings").inner_text() == MONEY.format(goal.bookings)
    assert page.locator("#goal-target").inner_text() == MONEY.format(goal.target)
    assert page.locator("#goal-gap").inner_text() == MONEY.format(goal.gap)
    for title in ("1. Revenue vs goal", "2. Big deals", "3. Risks", "4. Sales-leader", "5. Issues"):
        assert page.get_by_role("heading", name=re.compile(re.escape(title))).count() == 1
    vega_drawn(page)
    company.shot(page, "meeting")
    # The closed-won number drills down to exactly the deals behind it.
    page.click("#goal-bookings")
    page.wait_for_url(re.compile(r"/meeting/drill\?"))
    rows = page.locator("table.deals tbody tr")
    listed = {
        rows.nth(n).locator("td").nth(0).inner_text(): Decimal(
            rows.nth(n).locator("td").nth(5).inner_text()
        )
        for n in range(rows.count())
    }
    assert listed == goal.won
    company.shot(page, "drill")


def test_pipeline_deal_forecast_and_settings_pages(page: Any, company: Company) -> None:
    company.log_in(page, "leader")
    page.goto(f"{company.url}/pipeline")
    vega_drawn(page)
    company.shot(page, "pipeline")
    first = page.locator("a[href^='/deals/']").first
    deal_id = first.get_attribute("href").rsplit("/", 1)[1]
    first.click()
    page.wait_for_url(f"{company.url}/deals/{deal_id}")
    assert deal_id in page.locator("dl.facts").inner_text()
    assert page.locator("table.history tbody tr").count() >= 1
    company.shot(page, "deal")
    page.goto(f"{company.url}/forecast")
    page.click("form[action='/forecast'] button")
    for _ in range(120):  # the forecast is computed in the background
        page.goto(f"{company.url}/forecast")
        if page.locator("#forecast-range").count():
            break
        page.wait_for_timeout(500)
    assert page.locator("#forecast-range").count() == 1
    vega_drawn(page)
    company.shot(page, "forecast")
    page.goto(f"{company.url}/settings")
    company.shot(page, "settings")
    company.log_in(page, "admin")
    page.goto(f"{company.url}/settings")
    assert company.logins[company.reps[0]] in page.content()
    company.shot(page, "settings-admin")


def test_a_risk_mitigation_is_carried_to_next_week(page: Any, company: Company) -> None:
    this_week, next_week = week_label(today()), week_label(today() + timedelta(days=7))
    company.log_in(page, "leader")
    page.goto(f"{company.url}/meeting")
    assert page.locator("h1").inner_text() == f"Weekly meeting {this_week}"
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    deal = next(iter(company.facts.owners))
    form = page.locator("#items-risk form.add-item")
    form.locator("input[name=title]").fill("Exec sponsor call before the close")
    form.locator("input[name=deals]").fill(deal)
    form.locator("button[type=submit]").click()
    item = page.locator("#items-risk li.item", has_text="Exec sponsor call before the close")
    item.wait_for()
    assert page.evaluate("window.sameDocument === true")  # swapped in place by HTMX
    assert deal in item.locator("p.deals").inner_text()
    item_id = item.get_attribute("id").removeprefix("item-")
    item.locator("input[name=note]").fill("sponsor agreed to meet")
    item.locator("button[type=submit]").click()
    page.locator(f"#item-{item_id} p.note", has_text="sponsor agreed to meet").wait_for()
    company.shot(page, "meeting-mitigation")
    page.click("#mark-held")
    page.wait_for_load_state("networkidle")
    page.goto(f"{company.url}/meeting?week={this_week}")
    assert "read-only" in page.locator("p.subtitle").inner_text()
    assert page.locator("#items-risk form").count() == 0
    page.goto(f"{company.url}/meeting")
    assert page.locator("h1").inner_text() == f"Weekly meeting {next_week}"
    carried = page.locator(f"#item-{item_id}")
    assert "Exec sponsor call before the close" in carried.inner_text()
    assert f"carried from {this_week}" in carried.locator("p.item-meta").inner_text()
    assert "sponsor agreed to meet" in carried.inner_text()
    company.shot(page, "meeting-next-week")


def _report(folder: Path) -> Path:
    """A Salesforce report of five opportunities, two of them broken on purpose: line 5
    has no amount a person could read, line 6 a close date that does not exist."""
    created = f"{today():%m/%d/%Y} 12:00 AM"  # after the simulated export: not older data
    rows = [
        ["Opportunity Owner", "Account Name", "Opportunity Name", "Stage", "Amount",
         "Probability (%)", "Close Date", "Created Date", "Type"],
        ["Ann Lee", "Acme, Inc.", "Acme renewal", "Negotiation/Review", "$12,500.00", "90",
         "12/18/2026", created, "Existing Customer - Renewal"],
        ["Ann Lee", "Globex", "Globex new logo", "Closed Won", "$8,000", "100", "11/27/2026",
         created, "New Customer"],
        ["Bo Chen", "Initech", "Initech upsell", "Closed Lost", "4,250.50", "0", "11/26/2026",
         created, "Existing Customer - Upgrade"],
        ["Ann Lee", "Hooli", "Hooli pilot", "Prospecting", "lots", "10", "01/30/2027", created,
         "New Customer"],
        ["Bo Chen", "Umbrella", "Umbrella rollout", "Qualification", "$1,000", "20",
         "13/45/2026", created, "New Customer"],
    ]  # fmt: skip
    path = folder / "report.csv"
    path.write_text("\n".join(",".join(f'"{v}"' for v in row) for row in rows) + "\n")
    return path


REJECTS = [
    ["report.csv", "5", "Amount", "lots", "is not an amount"],
    ["report.csv", "6", "CloseDate", "13/45/2026", "is not a real date or time"],
]


def _upload(page: Any, company: Company, path: Path, max_rejects: int) -> str:
    page.goto(f"{company.url}/imports")
    page.set_input_files("form.upload input[name=file]", str(path))
    page.fill("form.upload input[name=max_rejects]", str(max_rejects))
    page.click("form.upload button[type=submit]")
    page.wait_for_url(re.compile(r"/imports/jobs/"))
    summary = page.locator("#import-summary")
    summary.wait_for(timeout=60_000)  # the page polls the import until it ends
    rows = page.locator("#rejects tbody tr")
    found = [rows.nth(n).locator("td").all_inner_texts() for n in range(rows.count())]
    assert page.locator("#rejects thead th").all_inner_texts() == [
        "file", "line", "column", "value", "reason",
    ]  # fmt: skip
    assert found == REJECTS
    return str(summary.inner_text())


def test_an_import_with_rejected_rows(page: Any, company: Company, tmp_path: Path) -> None:
    report = _report(tmp_path)
    company.log_in(page, "leader")
    refused = _upload(page, company, report, max_rejects=0)
    assert refused.startswith("Nothing was imported: 2 rows cannot be read (allowed: 0)")
    company.shot(page, "import-refused")
    done = _upload(page, company, report, max_rejects=2)
    assert done == "Import #2: 5 rows read, 3 accepted, 2 rejected."
    company.shot(page, "import-done")
    page.goto(f"{company.url}/imports")
    newest = page.locator("#import-history tbody tr").first.locator("td").all_inner_texts()
    assert newest[0] == "2" and newest[5:8] == ["5", "3", "2"]
    assert page.locator("#import-history tbody tr").count() == 2
    company.shot(page, "imports")
