"""The weekly brief end to end: a small company worked out by hand, a simulated company
against a Markdown snapshot, the Maven data set, the PDF as PNG pages, and the command.

The hand-worked company (2024-Q3, target 100,000, numbers as of Thursday 2024-08-15 12:00,
the meeting of week 2024-W33):

    deal  created     history                                            as of 08-15
    w1    2024-06-01  30,000 due 07-10; won 07-10                        won 30,000
    l1    2024-06-15   5,000 due 07-20; lost 07-20                       lost
    o2    2024-05-10  10,000 due 06-20 (Q2); moved to 08-01 on 06-25     open, overdue
    w2    2024-07-02  20,000 due 08-14; won 08-14                        won 20,000
    o1    2024-07-15  50,000 due 09-20, Proposal                         open

Bookings 50,000 of 100,000 (50%) from 2 deals. Q3 has 92 days; 08-15 is day 31 + 15 = 46,
so 46 days (6 whole weeks) are left, and a straight line ends at 50,000 x 92 / 46 =
100,000. Gap 50,000; pipeline due in Q3 = o1 + o2 = 60,000 (50,000 to come, 10,000 past
its date): coverage 60,000 / 50,000 = 1.2x. Since Q3 began: start = w1 + l1 + o2 = 45,000;
created w2 + o1 = 70,000; won w1 + w2 = 50,000; lost l1 = 5,000; end 45 + 70 - 50 - 5 = 60
thousand = o1 + o2. Last week (08-08 12:00 to 08-15 12:00): start 20 + 50 + 10 = 80,000 (w2, o1, o2), w2
won 20,000, end 60,000. o2 slipped once (Q2 -> Q3).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from quarterdeck import Workspace
from quarterdeck.cli import app
from quarterdeck.model import TABLES
from quarterdeck.report import render

SNAPSHOT = Path(__file__).parent / "snapshots" / "brief_simulated.md"
NOW = datetime(2024, 8, 15, 16, 0)
AS_OF = datetime(2024, 8, 15, 12, 0)

STAGES = (
    ("Prospect", 1, False, False),
    ("Qualify", 2, False, False),
    ("Proposal", 3, False, False),
    ("Closed Won", 4, True, True),
    ("Closed Lost", 5, True, False),
)


def put(ws: Workspace, table: str, rows: list[dict[str, Any]]) -> None:
    ws.store.insert(table, pa.Table.from_pylist(rows, schema=TABLES[table].schema.to_pyarrow()))


def created(deal: str, at: datetime, amount: str, close: date, stage: str) -> list[dict[str, Any]]:
    return [
        {"deal_id": deal, "at": at, "field": "stage", "new_value": stage},
        {"deal_id": deal, "at": at, "field": "amount", "new_value": amount},
        {"deal_id": deal, "at": at, "field": "close_date", "new_value": str(close)},
        {"deal_id": deal, "at": at, "field": "owner_id", "new_value": "u1"},
    ]


def change(deal: str, at: datetime, field: str, old: str, new: str) -> dict[str, Any]:
    return {"deal_id": deal, "at": at, "field": field, "old_value": old, "new_value": new}


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "brief.duckdb")
    put(
        ws,
        "stages",
        [
            {"pipeline": "sales", "stage": s, "sort_order": o, "is_closed": c, "is_won": w}
            for s, o, c, w in STAGES
        ],
    )
    put(
        ws,
        "users",
        [{"user_id": "u1", "name": "Ana Diaz", "team": "East", "role": "rep"}],
    )
    put(ws, "accounts", [{"account_id": "a1", "name": "Acme", "segment": "SMB"}])

    def deal(
        deal_id: str, name: str, amount: str, close: date, stage: str, born: datetime
    ) -> dict[str, Any]:
        closed = stage.startswith("Closed")
        return {
            "deal_id": deal_id,
            "name": name,
            "account_id": "a1",
            "owner_id": "u1",
            "motion": "new_business",
            "amount": Decimal(amount),
            "stage": stage,
            "close_date": close,
            "is_closed": closed,
            "is_won": stage == "Closed Won",
            "created_at": born,
            "pipeline": "sales",
        }

    put(
        ws,
        "deals",
        [
            deal("w1", "Acme platform", "30000.00", date(2024, 7, 10), "Closed Won",
                 datetime(2024, 6, 1)),
            deal("l1", "Acme pilot", "5000.00", date(2024, 7, 20), "Closed Lost",
                 datetime(2024, 6, 15)),
            deal("o2", "Acme add-on", "10000.00", date(2024, 8, 1), "Qualify",
                 datetime(2024, 5, 10)),
            deal("w2", "Acme services", "20000.00", date(2024, 8, 14), "Closed Won",
                 datetime(2024, 7, 2)),
            deal("o1", "Acme expansion", "50000.00", date(2024, 9, 20), "Proposal",
                 datetime(2024, 7, 15)),
        ],
    )  # fmt: skip
    events = [
        *created("w1", datetime(2024, 6, 1), "30000.00", date(2024, 7, 10), "Qualify"),
        change("w1", datetime(2024, 7, 10, 10), "stage", "Qualify", "Closed Won"),
        *created("l1", datetime(2024, 6, 15), "5000.00", date(2024, 7, 20), "Prospect"),
        change("l1", datetime(2024, 7, 20, 10), "stage", "Prospect", "Closed Lost"),
        *created("o2", datetime(2024, 5, 10), "10000.00", date(2024, 6, 20), "Qualify"),
        change("o2", datetime(2024, 6, 25), "close_date", "2024-06-20", "2024-08-01"),
        *created("w2", datetime(2024, 7, 2), "20000.00", date(2024, 8, 14), "Proposal"),
        change("w2", datetime(2024, 8, 14, 10), "stage", "Proposal", "Closed Won"),
        *created("o1", datetime(2024, 7, 15), "50000.00", date(2024, 9, 20), "Proposal"),
    ]
    for seq, event in enumerate(events, start=1):
        event.setdefault("old_value", None)
        event.update(origin="history", seq=seq, import_id=1)
    put(ws, "deal_events", events)
    put(
        ws,
        "targets",
        [
            {
                "period_start": date(2024, 7, 1),
                "period_end": date(2024, 9, 30),
                "scope": "company",
                "scope_id": "",
                "amount": Decimal("100000.00"),
            }
        ],
    )
    put(ws, "imports", [{"import_id": 1, "format": "test", "as_of": AS_OF}])
    ws.add_item(
        "action", "Close the add-on this month", by="lee", owner="u1", side="leader",
        metric="revenue", week="2024-W33", now=datetime(2024, 8, 13, 9),
    )  # fmt: skip
    ws.add_item(
        "risk", "Call Acme's CFO about the add-on", by="lee", owner="u1", side="leader",
        deals=["o2"], week="2024-W33", now=datetime(2024, 8, 13, 9),
    )  # fmt: skip
    ws.add_item(
        "issue", "Why do add-ons slip?", by="cy", side="ceo", week="2024-W33",
        now=datetime(2024, 8, 13, 9),
    )  # fmt: skip
    yield ws
    ws.close()


def test_the_moment_and_the_period(ws: Workspace) -> None:
    brief = ws.brief("2024-08-14", now=NOW)
    assert brief.week.label == "2024-W33"
    # The week ends on Sunday 2024-08-18, later than the data: the data's moment wins.
    assert brief.as_of == AS_OF
    assert brief.period.label == "2024-Q3"
    earlier = ws.brief("2024-W32", now=NOW)
    assert earlier.as_of == datetime(2024, 8, 11, 23, 59, 59)  # Sunday of W32, last second


def test_revenue_vs_goal_in_words(ws: Workspace) -> None:
    doc = ws.brief_document(ws.brief("2024-W33", now=NOW))
    goal = doc.sections[0]
    assert goal.title == "1. Revenue vs goal"
    assert goal.paragraphs[0] == (
        "2024-Q3 closed 50,000 of 100k (50%) from 2 deals with 6 weeks left; "
        "at a straight-line pace that ends near 100k."
    )
    assert goal.paragraphs[1] == (
        "The gap is 50,000. Open pipeline due in 2024-Q3 is 60,000 (50,000 still to come, "
        "10,000 already past its close date), 1.2x the gap."
    )
    markdown = render(doc, "md")
    assert "Close the add-on this month" in markdown.split("## 2. Big deals")[0]


def test_the_agenda_comes_in_order(ws: Workspace) -> None:
    markdown = render(ws.brief_document(ws.brief("2024-W33", now=NOW)), "md")
    headings = re.findall(r"^## (.+)$", markdown, flags=re.MULTILINE)
    assert headings[:9] == [
        "1. Revenue vs goal",
        "2. Big deals",
        "3. Risks",
        "4. Sales-leader initiatives",
        "5. Issues",
        "Carried from last week",
        "What changed",
        'The "next quarter" ledger',
        "Mix",
    ]
    issues = markdown.split("## 5. Issues")[1].split("## Carried")[0]
    assert "1 issue open (1 from the CEO)." in issues
    assert "Why do add-ons slip?" in issues


def test_risks_carry_their_mitigation(ws: Workspace) -> None:
    brief = ws.brief("2024-W33", now=NOW)
    o2 = next(d for d in brief.risks.deals if d.deal_id == "o2")
    assert "past_close_date" in {s.kind for s in o2.signals}  # due 08-01, open on 08-15
    risks = ws.brief_document(brief).sections[2]
    table = next(b for b in risks.blocks if getattr(b, "caption", "").startswith("The 15"))
    row = next(r for r in table.rows if r[0].deals == ("o2",))
    assert "Call Acme's CFO about the add-on" in str(row[-1].value)


def test_what_changed_adds_up(ws: Workspace) -> None:
    brief = ws.brief("2024-W33", now=NOW)
    change = ws.brief_document(brief).sections[6]
    assert change.paragraphs == (
        "Since last week the pipeline due in 2024-Q3 went from 80,000 to 60,000: -20,000 won.",
        "Since 2024-Q3 began the pipeline due in 2024-Q3 went from 45,000 to 60,000: "
        "+70,000 created, -5,000 lost, -50,000 won.",
    )
    slipped = {d.deal_id: d.slips for d in brief.slips.deals}
    assert slipped == {"o2": 1}


def test_json_and_html_carry_the_same_numbers(ws: Workspace) -> None:
    doc = ws.brief_document(ws.brief("2024-W33", now=NOW))
    data = json.loads(render(doc, "json"))
    assert [s["title"] for s in data["sections"]][:5] == [
        "1. Revenue vs goal",
        "2. Big deals",
        "3. Risks",
        "4. Sales-leader initiatives",
        "5. Issues",
    ]
    html = render(doc, "html")
    assert "2024-Q3 closed 50,000 of 100k (50%)" in html
    # Every deal link points at an anchor the page holds.
    targets = set(re.findall(r'id="([^"]+)"', html))
    assert set(re.findall(r'href="#([^"]+)"', html)) <= targets
    assert "<script" not in html


def test_a_brief_with_no_data_says_so(tmp_path: Path) -> None:
    with Workspace(tmp_path / "empty.duckdb") as empty:
        brief = empty.brief("2024-W33", now=NOW)
        doc = empty.brief_document(brief)
    markdown = render(doc, "md")
    assert "No data has been imported yet" in markdown
    assert "No company target is set for 2024-Q3" in markdown


def test_the_command_writes_the_file_whole(ws: Workspace, tmp_path: Path) -> None:
    db = ws.store.location
    ws.close()
    runner = CliRunner()
    out = tmp_path / "b.md"
    done = runner.invoke(app, ["--db", db, "brief", "--week", "2024-W33", "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert out.read_text(encoding="utf-8").startswith("# Weekly sales brief")
    bad = runner.invoke(app, ["--db", db, "brief", "--format", "docx"])
    assert bad.exit_code != 0
    assert "expected html, md, pdf or json" in str(bad.exception or bad.output)
    nowhere = runner.invoke(app, ["--db", db, "brief", "--out", str(tmp_path / "no" / "b.md")])
    assert nowhere.exit_code != 0
    assert not (tmp_path / "no").exists()


# -- a simulated company, the public data, the PDF -------------------------------------------


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from quarterdeck.simulate import SimulationSpec, simulate

    folder = tmp_path_factory.mktemp("sim")
    simulate(SimulationSpec(deals=400, years=1.0, end=date(2026, 6, 26), seed=11), folder / "x")
    with Workspace(folder / "q.duckdb") as ws:
        ws.import_files([folder / "x"])
    return folder / "q.duckdb"


def test_simulated_brief_matches_the_snapshot(simulated: Path) -> None:
    with Workspace(simulated, read_only=True) as ws:
        brief = ws.brief("2026-W26", now=datetime(2026, 6, 26, 18, 0))
        text = render(ws.brief_document(brief), "md")
    assert isinstance(text, str)
    if __import__("os").environ.get("UPDATE_SNAPSHOTS") == "1" or not SNAPSHOT.exists():
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert text == SNAPSHOT.read_text(encoding="utf-8"), (
        "the simulated company's brief changed; review it and rerun with UPDATE_SNAPSHOTS=1"
    )
    # The waterfall identity holds in the report itself.
    for change in (brief.week_change, brief.period_change):
        moved = sum((bar.sign * bar.amount for bar in change.bars), Decimal("0.00"))
        assert change.start_amount + moved == change.end_amount


@pytest.mark.slow
def test_simulated_brief_pdf_shows_the_charts(simulated: Path, tmp_path: Path) -> None:
    pytest.importorskip(
        "weasyprint", reason="PDF output needs the pdf extra: pip install 'quarterdeck[pdf]'"
    )
    for tool in ("pdftoppm", "pdftotext"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is missing: install poppler-utils (make does, as root)")
    from test_report_render import colours, near

    from quarterdeck.report.charts import COLORS

    with Workspace(simulated, read_only=True) as ws:
        doc = ws.brief_document(ws.brief("2026-W26", now=datetime(2026, 6, 26, 18, 0)))
    pdf = tmp_path / "brief.pdf"
    pdf.write_bytes(render(doc, "pdf"))  # type: ignore[arg-type]
    subprocess.run(["pdftoppm", "-png", "-r", "50", str(pdf), str(tmp_path / "p")], check=True)
    pages = sorted(tmp_path.glob("p-*.png"))
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout.split("\f")
    pace = next(i for i, t in enumerate(text) if "Bookings in 2026-Q2 against the target" in t)
    assert near(colours(pages[pace]), COLORS["bar"]) > 50
    change = next(i for i, t in enumerate(text) if "Pipeline due in 2026-Q2: this week" in t)
    found = colours(pages[change])
    assert near(found, COLORS["level"]) > 50
    assert near(found, COLORS["down"]) + near(found, COLORS["up"]) > 50


@pytest.mark.shared_data
def test_maven_brief_renders(shared_data: Path, tmp_path: Path) -> None:
    with Workspace(tmp_path / "maven.duckdb") as ws:
        ws.import_files([shared_data / "maven_crm_sales_opportunities"])
        brief = ws.brief(now=NOW)
        doc = ws.brief_document(brief)
        markdown = render(doc, "md")
        html = render(doc, "html")
        bookings = ws.bookings(brief.period.label).bookings
    # Maven has no targets, no history log and no activities: the brief says so and
    # still shows its closed numbers (the quarter of the data's last day).
    assert brief.period.label == "2017-Q4"
    assert bookings == Decimal("2802496.00")  # `quarterdeck bookings` on the same data
    assert brief.goal.total.bookings == bookings
    assert "2017-Q4 closed 2.8M from 1,196 deals" in markdown
    assert "No company target is set for 2017-Q4" in markdown
    assert "## 3. Risks" in markdown and "## Mix" in markdown
    assert "<svg" in html


def test_brief_shows_the_latest_saved_forecast(simulated: Path, tmp_path: Path) -> None:
    from quarterdeck.forecast.ladder import MethodForecast, PeriodForecast
    from quarterdeck.forecast.saved import save_forecast
    from quarterdeck.periods import Period

    copy = tmp_path / "q.duckdb"
    shutil.copy(simulated, copy)
    q2 = Period.parse("2026-Q2")
    methods = {
        "range": MethodForecast(
            "range", 1_234_000.0, "draws", p10=1_060_000.0, p90=1_480_000.0, p_target=0.37
        )
    }
    forecast = PeriodForecast(q2, datetime(2026, 6, 20), 900_000.0, 1_300_000.0, methods, None)  # type: ignore[arg-type]
    with Workspace(copy) as ws:
        save_forecast(ws.store, forecast, now=datetime(2026, 6, 20, 7))
        brief = ws.brief("2026-W26", now=datetime(2026, 6, 26, 18, 0))
        text = render(ws.brief_document(brief), "md")
    assert isinstance(text, str)
    assert (
        # 1,234,000 -> 1.2M; 1,060,000 -> 1.1M; 1,480,000 -> 1.5M; 0.37 -> 37%.
        "The forecast made from the data of 2026-06-20 expects 1.2M for 2026-Q2 (80% range "
        "1.1M to 1.5M); the chance of reaching the 1.3M target is 37%." in text
    )
    # The same numbers to the cent in a table (no call recorded, so the forecast alone).
    table = (
        "**The forecast**\n\n"
        "| forecast                               | 2026-Q2 bookings |\n"
        "| :------------------------------------- | ---------------: |\n"
        "| forecast of 2026-06-20: low end (P10)  |     1,060,000.00 |\n"
        "| forecast of 2026-06-20: expected (P50) |     1,234,000.00 |\n"
        "| forecast of 2026-06-20: high end (P90) |     1,480,000.00 |\n"
    )
    assert table in text
