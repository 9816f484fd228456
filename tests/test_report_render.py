"""The report faces: one hand-built weekly brief rendered as Markdown, HTML, PDF and JSON.

``sample()`` is a brief as a real week would give it (agenda: revenue vs goal, big deals,
risks, initiatives, issues; then what changed, the slip ledger, the mix), with every
number worked out by hand in comments. The Markdown is kept in
``snapshots/report_sample.md`` so a change in any face shows in review
(``UPDATE_SNAPSHOTS=1`` rewrites it). Chart geometry is checked against coordinates worked
out by hand; the PDF is turned into PNG pages with ``pdftoppm`` and its chart colours
looked for on the page that holds the chart.

``python tests/test_report_render.py`` writes the sample to /tmp/report-sample.{html,md,pdf,json}.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest

from quarterdeck.errors import InternalError, MissingExtra
from quarterdeck.report import (
    Appendix,
    Bar,
    BarChart,
    Callout,
    Cell,
    Column,
    Deal,
    DealGroup,
    Document,
    Item,
    ItemList,
    MixChart,
    MixPart,
    PaceChart,
    PacePoint,
    Section,
    Step,
    Table,
    WaterfallChart,
    render_html,
    render_markdown,
    render_pdf,
    row,
    write,
)
from quarterdeck.report.charts import BAR_LEFT, COLORS, MIX_LEFT, PALETTE, svg
from quarterdeck.report.format import count, money, money_short, multiple, percent, text_of
from quarterdeck.report.markdown import escape

SNAPSHOT = Path(__file__).parent / "snapshots" / "report_sample.md"
SVG = "{http://www.w3.org/2000/svg}"

D = Decimal


# -- the sample brief ---------------------------------------------------------------------

DEALS = (
    # Won in 2024-Q1 (bookings 1,312,450.00).
    Deal("D-1001", "Halcyon Foods platform", "Maya Chen", "Closed Won", D("420000.00"), date(2024, 2, 14), "Halcyon Foods", "new business"),
    Deal("D-1002", "Brightline Health expansion", "Sam Ortiz", "Closed Won", D("265000.00"), date(2024, 3, 5), "Brightline Health", "expansion"),
    Deal("D-1003", "Kestrel Logistics renewal", "Priya Nair", "Closed Won", D("148500.00"), date(2024, 1, 30), "Kestrel Logistics", "renewal"),
    Deal("D-1004", "Orchard Retail analytics", "Leo Park", "Closed Won", D("96750.00"), date(2024, 3, 12), "Orchard Retail", "new business; won this week"),
    Deal("D-1005", "Tidewater Bank pilot", "Ana Ruiz", "Closed Won", D("58200.00"), date(2024, 2, 20), "Tidewater Bank", "new business"),
    Deal("D-1006", "Pioneer Dental starter", "Ana Ruiz", "Closed Won", D("24000.00"), date(2024, 1, 18), "Pioneer Dental", "new business"),
    Deal("D-1007", "Summit Outdoor renewal", "Leo Park", "Closed Won", D("300000.00"), date(2024, 3, 14), "Summit Outdoor", "renewal; won this week"),
    # Open.
    Deal("D-2001", "Atlas Manufacturing analytics", "Maya Chen", "Negotiation", D("640000.00"), date(2024, 3, 29), "Atlas Manufacturing", "commit; raised from 545,000.00"),
    Deal("D-2002", "Meridian Insurance platform", "Sam Ortiz", "Proposal", D("480000.00"), date(2024, 3, 28), "Meridian Insurance", "best case; cut from 540,000.00"),
    Deal("D-2003", "Cobalt Telecom expansion", "Priya Nair", "Negotiation", D("210000.00"), date(2024, 3, 22), "Cobalt Telecom", "commit; pulled in from 2024-04-19"),
    Deal("D-2004", "Greenfield Schools district", "Ana Ruiz", "Needs analysis", D("85000.00"), date(2024, 3, 31), "Greenfield Schools", "slips: 3"),
    Deal("D-2005", "Vantage Media renewal", "Leo Park", "Proposal", D("132000.00"), date(2024, 4, 15), "Vantage Media", "slips: 1; pushed out of Q1"),
    Deal("D-2006", "Harbor Freight Systems", "Maya Chen", "Discovery", D("350000.00"), date(2024, 6, 28), "Harbor Freight", "slips: 2; pushed out of Q1"),
    Deal("D-2007", "Lumen Energy analytics", "Sam Ortiz", "Discovery", D("420000.00"), date(2024, 3, 27), "Lumen Energy", "created this week"),
    Deal("D-2008", "Quarry Systems platform", "Maya Chen", "Discovery", D("760000.00"), date(2024, 3, 30), "Quarry Systems", "created this week"),
    # Lost.
    Deal("D-3001", "Northstar Clinics", "Sam Ortiz", "Closed Lost", D("190000.00"), date(2024, 3, 11), "Northstar Clinics", "lost to a competitor on price"),
)  # fmt: skip

WON = ("D-1001", "D-1002", "D-1003", "D-1004", "D-1005", "D-1006", "D-1007")
ENTERPRISE = ("D-1001", "D-1002")  # Maya Chen, Sam Ortiz
MID_MARKET = ("D-1003", "D-1004", "D-1007")  # Priya Nair, Leo Park
COMMERCIAL = ("D-1005", "D-1006")  # Ana Ruiz


def revenue() -> Section:
    # Bookings by team: Enterprise 420,000 + 265,000 = 685,000.00 of 1,200,000 (57.08%);
    # Mid-market 148,500 + 96,750 + 300,000 = 545,250.00 of 800,000 (68.16%);
    # Commercial 58,200 + 24,000 = 82,200.00 of 400,000 (20.55%).
    # Company 685,000 + 545,250 + 82,200 = 1,312,450.00 of 2,400,000 (54.69%), gap 1,087,550.00.
    # Pace: Q1 2024 has 31 + 29 + 15 = 75 of 91 days done by 2024-03-15, so straight-line
    # pace is 2,400,000 x 75 / 91 = 1,978,021.98; bookings are 665,571.98 behind it.
    teams = (
        ("Enterprise", ENTERPRISE, D("685000.00"), D("1200000.00")),
        ("Mid-market", MID_MARKET, D("545250.00"), D("800000.00")),
        ("Commercial", COMMERCIAL, D("82200.00"), D("400000.00")),
    )
    table = Table(
        columns=(
            Column("Team"),
            Column("Bookings", "money"),
            Column("Target", "money"),
            Column("Attainment", "percent"),
            Column("Gap", "money"),
        ),
        rows=tuple(
            row(name, Cell(booked, deals=ids), target, booked / target, target - booked)
            for name, ids, booked, target in teams
        ),
        caption="Bookings by team, 2024-Q1",
        total=row(
            "Company",
            Cell(D("1312450.00"), anchor="won-q1"),
            D("2400000.00"),
            D("1312450.00") / D("2400000.00"),
            D("1087550.00"),
        ),
    )
    pace = PaceChart(
        title="Bookings to date against the 2.4M goal",
        start=date(2024, 1, 1),
        end=date(2024, 3, 31),
        as_of=date(2024, 3, 15),
        booked=(
            PacePoint(date(2024, 1, 18), D("24000.00")),
            PacePoint(date(2024, 1, 30), D("172500.00")),
            PacePoint(date(2024, 2, 14), D("592500.00")),
            PacePoint(date(2024, 2, 20), D("650700.00")),
            PacePoint(date(2024, 3, 5), D("915700.00")),
            PacePoint(date(2024, 3, 12), D("1012450.00")),
            PacePoint(date(2024, 3, 14), D("1312450.00")),
        ),
        target=D("2400000.00"),
        caption="Closed-won only; the dashed line is the straight-line pace to the goal.",
        anchor="won-q1",
    )
    bars = BarChart(
        title="Bookings by team against target",
        bars=tuple(Bar(name, booked, target, deals=ids) for name, ids, booked, target in teams),
    )
    return Section(
        "revenue",
        "1. Revenue vs goal",
        (
            "Closed 1.3M of the 2.4M goal for 2024-Q1 (55%), with 16 days left.",
            "Straight-line pace says 2M by today: bookings are 666k behind it.",
            "Commercial is at 21% of its target; Enterprise and Mid-market are within reach.",
        ),
        (
            pace,
            table,
            bars,
            Callout(
                "Two Enterprise deals (1.1M) move the quarter: Atlas closes on 29 March, "
                "Meridian on 28 March. Commercial gets two more reps' time on renewals.",
                title="What the sales leader is doing about the gap",
                tone="warn",
            ),
        ),
    )


def big_deals() -> Section:
    open_big = ("D-2001", "D-2002", "D-2003")
    deals = {d.deal_id: d for d in DEALS}
    table = Table(
        columns=(
            Column("Deal"),
            Column("Owner"),
            Column("Stage"),
            Column("Amount", "money"),
            Column("Close date", "date"),
        ),
        rows=tuple(
            row(
                deals[i].name,
                deals[i].owner,
                deals[i].stage,
                Cell(deals[i].amount, deals=(i,)),
                deals[i].close_date,
            )
            for i in open_big
        ),
        caption="About to close (in commit or best case, closing this quarter)",
        # 640,000 + 480,000 + 210,000 = 1,330,000.00
        total=row("Total", "", "", Cell(D("1330000.00"), deals=open_big), ""),
    )
    won = Table(
        columns=(Column("Deal"), Column("Owner"), Column("Amount", "money"), Column("Won", "date")),
        rows=tuple(
            row(
                deals[i].name,
                deals[i].owner,
                Cell(deals[i].amount, deals=(i,)),
                deals[i].close_date,
            )
            for i in ("D-1007", "D-1004")
        ),
        caption="Won this week",
    )
    return Section(
        "big-deals",
        "2. Big deals",
        (
            "Three deals worth 1.3M are due to close before the quarter ends.",
            "Summit Outdoor renewed for 300k, three years, no discount: well done, Leo.",
        ),
        (table, won),
    )


def risks() -> Section:
    return Section(
        "risks",
        "3. Risks",
        ("Two deals and one team need attention; mitigations are due next week.",),
        (
            ItemList(
                (
                    Item(
                        "Atlas Manufacturing: the champion is leaving",
                        "open",
                        kind="risk",
                        owner="Maya Chen",
                        due=date(2024, 3, 20),
                        detail="Evidence: no reply from the economic buyer in 16 days; the "
                        "champion moves to a new role on 1 April. Mitigation: CEO-to-CEO call "
                        "booked for Monday.",
                        tone="bad",
                        deals=("D-2001",),
                    ),
                    Item(
                        "Greenfield Schools slipped a third time",
                        "open",
                        kind="risk",
                        owner="Ana Ruiz",
                        due=date(2024, 3, 19),
                        detail="Evidence: close date moved three times since November; still "
                        "in needs analysis. Mitigation: requalify or move it to the Q2 "
                        "forecast by Friday.",
                        tone="warn",
                        deals=("D-2004",),
                    ),
                    Item(
                        "Commercial team under 25% of target",
                        "overdue",
                        kind="risk",
                        owner="Jordan Blake",
                        due=date(2024, 3, 8),
                        detail="Plan to recover the gap was due last week.",
                        tone="bad",
                    ),
                ),
            ),
        ),
    )


def initiatives() -> Section:
    return Section(
        "initiatives",
        "4. Sales-leader initiatives",
        (),
        (
            ItemList(
                (
                    Item(
                        "Discovery-call coaching for the Commercial team",
                        "on track",
                        kind="initiative",
                        owner="Jordan Blake",
                        due=date(2024, 4, 30),
                        metric="stage 1 to 2 conversion 31% → 38% over six weeks",
                        tone="good",
                    ),
                    Item(
                        "Data-residency add-on in the DACH market",
                        "behind",
                        kind="initiative",
                        owner="Jordan Blake",
                        due=date(2024, 5, 31),
                        metric="2 of 6 target accounts in discovery",
                        tone="warn",
                    ),
                ),
            ),
        ),
    )


def issues() -> Section:
    return Section(
        "issues",
        "5. Issues",
        (),
        (
            ItemList(
                (
                    Item(
                        "Forecast call and CRM disagree on the Meridian close date",
                        "open",
                        kind="issue",
                        owner="Sam Ortiz",
                        detail="Raised by the CEO: the call says 28 March, the CRM said "
                        "15 April until Tuesday.",
                        deals=("D-2002",),
                    ),
                    Item(
                        "What counts as marketing-sourced pipeline",
                        "resolved",
                        kind="issue",
                        owner="Jordan Blake",
                        detail="Agreed: a deal created within 30 days after a marketing touch.",
                        tone="good",
                    ),
                ),
            ),
        ),
    )


def changes() -> Section:
    # Open pipeline due in Q1, from 2024-03-08 to 2024-03-15:
    # 6,240,000 + 1,180,000 created (420,000 + 760,000) + 210,000 pulled in + 95,000
    # increased (545,000 -> 640,000) - 60,000 decreased (540,000 -> 480,000) - 482,000
    # pushed out (132,000 + 350,000) - 190,000 lost - 396,750 won (96,750 + 300,000)
    # = 6,596,250.00.
    waterfall = WaterfallChart(
        title="Open pipeline due this quarter, 2024-03-08 to 2024-03-15",
        start=Step("8 March", D("6240000.00")),
        steps=(
            Step("Created", D("1180000.00"), anchor="created-w11"),
            Step("Pulled in", D("210000.00"), deals=("D-2003",)),
            Step("Increased", D("95000.00"), deals=("D-2001",)),
            Step("Decreased", D("-60000.00"), deals=("D-2002",)),
            Step("Pushed out", D("-482000.00"), deals=("D-2005", "D-2006")),
            Step("Lost", D("-190000.00"), deals=("D-3001",)),
            Step("Won", D("-396750.00"), deals=("D-1007", "D-1004")),
        ),
        end=Step("15 March", D("6596250.00")),
        caption="Start + created + pulled in + increased - decreased - pushed out - lost - won = end.",
    )
    moves = Table(
        columns=(
            Column("Deal"),
            Column("What happened"),
            Column("Change", "money", signed=True),
            Column("Close date", "date"),
        ),
        rows=(
            row("Quarry Systems platform", "created", Cell(D("760000.00"), deals=("D-2008",)), date(2024, 3, 30)),
            row("Harbor Freight Systems", "pushed out to Q2", Cell(D("-350000.00"), deals=("D-2006",)), date(2024, 6, 28)),
            row("Summit Outdoor renewal", "won", Cell(D("-300000.00"), deals=("D-1007",)), date(2024, 3, 14)),
            row("Cobalt Telecom expansion", "pulled in from Q2", Cell(D("210000.00"), deals=("D-2003",)), date(2024, 3, 22)),
        ),
        caption="The biggest moves",
    )  # fmt: skip
    return Section(
        "changes",
        "What changed since last week",
        (
            "Open pipeline for the quarter grew from 6.2M to 6.6M.",
            "Two new deals (1.2M) came in; 482k was pushed out to next quarter.",
        ),
        (waterfall, moves),
        new_page=True,
    )


def slips() -> Section:
    deals = {d.deal_id: d for d in DEALS}
    ledger = (
        ("D-2004", date(2023, 11, 30), 3),
        ("D-2006", date(2023, 12, 15), 2),
        ("D-2005", date(2024, 3, 15), 1),
    )
    table = Table(
        columns=(
            Column("Deal"),
            Column("Owner"),
            Column("Amount", "money"),
            Column("First promised", "date"),
            Column("Close date now", "date"),
            Column("Slips", "count"),
        ),
        rows=tuple(
            row(deals[i].name, deals[i].owner, Cell(deals[i].amount, deals=(i,)), first, deals[i].close_date, n)
            for i, first, n in ledger
        ),
        caption="Deals promised for a quarter that has passed, or moved out of this one",
        # 85,000 + 350,000 + 132,000 = 567,000.00; 3 + 2 + 1 = 6 slips.
        total=row("Total", "", Cell(D("567000.00"), deals=("D-2004", "D-2006", "D-2005")), "", "", 6),
    )  # fmt: skip
    return Section(
        "slips",
        "Slip ledger",
        ("567k has been promised for 'next quarter' six times over.",),
        (table,),
    )


def mix() -> Section:
    # Won in Q1 by motion: acquisition 420,000 + 96,750 + 58,200 + 24,000 = 598,950.00
    # (45.64%), growth 265,000.00 (20.19%), retention 148,500 + 300,000 = 448,500.00
    # (34.17%); total 1,312,450.00. Agreed target mix 50% / 25% / 25%.
    chart = MixChart(
        title="Bookings mix against the agreed target mix",
        parts=(
            MixPart("Acquisition", D("598950.00"), D("0.50"), deals=("D-1001", "D-1004", "D-1005", "D-1006")),
            MixPart("Growth", D("265000.00"), D("0.25"), deals=("D-1002",)),
            MixPart("Retention", D("448500.00"), D("0.25"), deals=("D-1003", "D-1007")),
        ),
    )  # fmt: skip
    # Deal size: big (250k or more) 420,000 + 265,000 + 300,000 = 985,000.00 (75.05%);
    # mid (50k to 250k) 148,500 + 96,750 + 58,200 = 303,450.00 (23.12%); small 24,000.00 (1.83%).
    sizes = Table(
        columns=(
            Column("Deal size"),
            Column("Won deals", "count"),
            Column("Bookings", "money"),
            Column("Share", "percent"),
        ),
        rows=(
            row("Big (250k or more)", 3, Cell(D("985000.00"), deals=("D-1001", "D-1002", "D-1007")), D("985000") / D("1312450")),
            row("Mid (50k to 250k)", 3, Cell(D("303450.00"), deals=("D-1003", "D-1004", "D-1005")), D("303450") / D("1312450")),
            row("Small (under 50k)", 1, Cell(D("24000.00"), deals=("D-1006",)), D("24000") / D("1312450")),
        ),
        caption="Bookings by deal size",
        total=row("Total", 7, Cell(D("1312450.00"), anchor="won-q1"), D(1)),
    )  # fmt: skip
    return Section(
        "mix",
        "Mix",
        ("Retention runs 9 points over its target share; acquisition 4 points under.",),
        (
            chart,
            sizes,
            Callout(
                "Three deals make 75% of bookings: the quarter rests on few deals.", tone="info"
            ),
        ),
    )


def sample() -> Document:
    """The weekly brief of week 11 of 2024 for a made-up company."""
    return Document(
        title="Weekly brief: Northwind Analytics",
        subtitle="Week 11 of 2024-Q1, for the CEO and the head of sales",
        generated_at=datetime(2024, 3, 15, 7, 0),
        sections=(
            revenue(),
            big_deals(),
            risks(),
            initiatives(),
            issues(),
            changes(),
            slips(),
            mix(),
        ),
        appendix=Appendix(
            deals=DEALS,
            groups=(
                DealGroup("won-q1", "Won in 2024-Q1", WON),
                DealGroup("created-w11", "Created this week", ("D-2008", "D-2007")),
            ),
            note="Every linked number in this brief leads here.",
        ),
        facts=(("As of", "2024-03-15"), ("Period", "2024-Q1, day 75 of 91"), ("Goal", "2.4M")),
    )


def tiny(name: str = "Acme renewal", label: str = "Enterprise") -> Document:
    """A small document whose deal name and bar label can be set (to test escaping)."""
    return Document(
        title="Escaping",
        subtitle="",
        generated_at=datetime(2024, 3, 15, 7, 0),
        sections=(
            Section(
                "one",
                "One",
                ("A <b>bold</b> claim & more",),
                (
                    Table((Column("Deal"), Column("Amount", "money")), (row(name, Cell(D(5), deals=("X-1",))),)),
                    BarChart("Bars", (Bar(label, D(5), deals=("X-1",)),)),
                ),
            ),
        ),
        appendix=Appendix((Deal("X-1", name, "Owner", "Proposal", D(5)),)),
    )  # fmt: skip


# -- formatting ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "table", "prose"),
    [
        ("0", "0.00", "0"),
        ("0.005", "0.00", "0"),  # half-even: 0.005 -> 0.00 (0 is even)
        ("0.015", "0.02", "0"),  # half-even: 0.015 -> 0.02 (2 is even)
        ("0.025", "0.02", "0"),
        ("999.995", "1,000.00", "1,000"),  # 999.99|5 -> 1,000.00 (9 is odd)
        ("1234567.891", "1,234,567.89", "1.2M"),
        ("-1234.5", "-1,234.50", "-1,234"),  # 1,234.5 -> 1,234 in prose (4 is even)
        ("-0.004", "0.00", "0"),  # no minus sign on a zero
        ("12400", "12,400.00", "12,400"),
        ("99999.5", "99,999.50", "100k"),  # 100,000 after rounding: thousands
        ("350000", "350,000.00", "350k"),
        ("999499", "999,499.00", "999k"),
        ("999500", "999,500.00", "1M"),  # 999.5k -> 1,000k -> 1.0M, written 1M
        ("1250000", "1,250,000.00", "1.2M"),  # 1.25 -> 1.2 (half-even)
        ("1350000", "1,350,000.00", "1.4M"),  # 1.35 -> 1.4
        ("2000000", "2,000,000.00", "2M"),
        ("3449999999", "3,449,999,999.00", "3.4B"),
    ],
)
def test_money(value: str, table: str, prose: str) -> None:
    assert money(D(value)) == table
    assert money_short(D(value)) == prose


@pytest.mark.parametrize(
    ("ratio", "whole", "tenth"),
    [
        ("0", "0%", "0.0%"),
        ("0.005", "0%", "0.5%"),  # 0.5% -> 0% (0 is even)
        ("0.015", "2%", "1.5%"),  # 1.5% -> 2%
        ("0.025", "2%", "2.5%"),  # 2.5% -> 2%
        ("0.6", "60%", "60.0%"),
        ("0.54685", "55%", "54.7%"),  # 1,312,450 / 2,400,000
        ("-0.004", "0%", "-0.4%"),
        ("12.345", "1,234%", "1,234.5%"),  # 1,234.5 -> 1,234 (4 is even)
    ],
)
def test_percent(ratio: str, whole: str, tenth: str) -> None:
    assert percent(D(ratio)) == whole
    assert percent(D(ratio), places=1) == tenth


def test_other_values() -> None:
    assert percent(D("0.05"), signed=True) == "+5%"
    assert money(D("350000"), signed=True) == "+350,000.00"
    assert money_short(D("-482000"), signed=True) == "-482k"
    assert multiple(D("2.95")) == "3.0x"  # 2.9|5 -> 3.0 (9 is odd)
    assert multiple(D("3.05")) == "3.0x"  # 3.0|5 -> 3.0 (0 is even)
    assert count(1234567) == "1,234,567"
    assert money(None) == percent(None) == "—"
    assert text_of(date(2024, 3, 31), "date") == "2024-03-31"
    assert text_of("no target", "money") == "no target"


def test_floats_are_refused() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        money(0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        percent(True)  # type: ignore[arg-type]
    with pytest.raises(InternalError):
        Cell(0.5)  # type: ignore[arg-type]


# -- the document model -------------------------------------------------------------------


def test_links_resolve_to_deals_and_groups() -> None:
    doc = sample()
    team_table = doc.sections[0].blocks[1]
    assert isinstance(team_table, Table)
    enterprise = team_table.rows[0][1]
    link = doc.link(enterprise)
    assert link is not None and link.group is not None
    assert link.group.deal_ids == ENTERPRISE and link.anchor.startswith("group-auto-")
    # The bar of the same team names the same deals: it links to the same group.
    bars = doc.sections[0].blocks[2]
    assert isinstance(bars, BarChart)
    assert doc.link(bars.bars[0]) == link
    assert team_table.total is not None
    total = doc.link(team_table.total[1])
    assert total is not None and total.anchor == "group-won-q1" and total.ref == "G1"
    single = doc.link(doc.sections[1].blocks[0].rows[0][3])  # type: ignore[union-attr]
    assert single is not None and (single.anchor, single.ref) == ("deal-D-2001", "D-2001")
    assert doc.link(team_table.rows[0][0]) is None
    assert doc.link(Cell(D("685000.00"), deals=ENTERPRISE)) is None  # not part of the document
    copied = copy.deepcopy(doc)  # new objects: the copy finds its links again
    assert copied.link(copied.sections[0].blocks[1].rows[0][1]) == link  # type: ignore[union-attr]
    # Declared groups come first, then one per set of deals, in order of appearance.
    assert [(ref, g.id) for ref, g in doc.groups][:3] == [
        ("G1", "won-q1"),
        ("G2", "created-w11"),
        ("G3", link.group.id),
    ]


def test_a_link_to_what_the_appendix_lacks_is_refused() -> None:
    doc = tiny()
    section = doc.sections[0]
    bad = Table((Column("Amount", "money"),), (row(Cell(D(1), deals=("X-2",))),))
    with pytest.raises(InternalError, match="'X-2'"):
        replace(doc, sections=(replace(section, blocks=(bad,)),))
    lost = Table((Column("Amount", "money"),), (row(Cell(D(1), anchor="nowhere")),))
    with pytest.raises(InternalError, match="group 'nowhere'"):
        replace(doc, sections=(replace(section, blocks=(lost,)),))
    with pytest.raises(InternalError, match="'X-1'"):
        replace(doc, appendix=None)


def test_a_waterfall_that_does_not_add_up_is_refused() -> None:
    with pytest.raises(InternalError, match="does not add up"):
        WaterfallChart("W", Step("start", D(100)), (Step("won", D(-30)),), Step("end", D("70.01")))


def test_a_row_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(InternalError, match="2 columns but a row of 1"):
        Table((Column("a"), Column("b")), (row("x"),))


def test_json_carries_the_same_content() -> None:
    doc = sample()
    data = json.loads(doc.to_json())
    assert data == doc.as_dict()
    assert data["generated_at"] == "2024-03-15T07:00:00"
    table = data["sections"][0]["blocks"][1]
    assert table["type"] == "table" and table["caption"] == "Bookings by team, 2024-Q1"
    enterprise = table["rows"][0][1]
    assert enterprise["value"] == "685000.00" and enterprise["text"] == "685,000.00"
    assert enterprise["deals"] == ["D-1001", "D-1002"] and enterprise["group"].startswith("auto-")
    assert table["total"][1] == {
        "value": "1312450.00",
        "text": "1,312,450.00",
        "deals": [],
        "group": "won-q1",
    }
    assert table["rows"][2][3]["text"] == "21%"  # 82,200 / 400,000 = 20.55%
    pace = data["sections"][0]["blocks"][0]
    assert (pace["chart"], pace["as_of"], pace["booked_to_date"]) == (
        "pace",
        "2024-03-15",
        "1312450.00",
    )
    assert D(pace["pace_to_date"]).quantize(D("0.01")) == D("1978021.98")  # 2.4M x 75 / 91
    deals = data["appendix"]["deals"]
    assert deals[0]["amount"] == "420000.00" and deals[0]["close_date"] == "2024-02-14"
    assert data["appendix"]["groups"][0] == {
        "id": "won-q1",
        "ref": "G1",
        "title": "Won in 2024-Q1",
        "deal_ids": list(WON),
        "more": 0,
    }


# -- Markdown -----------------------------------------------------------------------------


def test_markdown_matches_the_snapshot() -> None:
    text = render_markdown(sample())
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not SNAPSHOT.exists():
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert text == SNAPSHOT.read_text(encoding="utf-8"), (
        "the Markdown brief changed; review it and rerun with UPDATE_SNAPSHOTS=1"
    )


def test_markdown_is_plain_and_aligned() -> None:
    text = render_markdown(sample())
    assert not re.search(r"(?<!\\)<[A-Za-z/]", text), "Markdown must hold no HTML"
    # The team table: every line as wide as the heading, numbers followed by their refs.
    lines = text.splitlines()
    start = lines.index("**Bookings by team, 2024-Q1**") + 2
    table = lines[start : start + 6]
    assert len({len(line) for line in table}) == 1, table
    assert table[1].startswith("| :---") and table[1].endswith("-: |")
    assert table[2].endswith(
        " 685,000.00 [G3] |     1,200,000.00 |        57% |       515,000.00 |"
    )
    assert "| **1,312,450.00** [G1] |" in table[5]
    assert "- [G1] Won in 2024-Q1: D-1001, D-1002, D-1003" in text
    # 1,312,450 booked against 2,400,000 x 75 / 91 = 1,978,021.98: 665,571.98 behind.
    assert "| Booked to 2024-03-15       |                1.3M [G1] |" in text
    assert "| Against pace               |                    -666k |" in text


def test_markdown_escapes_markup() -> None:
    text = render_markdown(tiny("<script>alert(1)</script>", "a|b"))
    assert "\\<script\\>alert(1)\\</script\\>" in text
    assert "<script>" not in text
    assert "| a\\|b |" in text
    assert escape("deal_id *big* [x]") == "deal_id \\*big\\* \\[x\\]"
    assert escape("# not a heading", line=True) == "\\# not a heading"
    assert escape("1. Revenue") == "1. Revenue"  # a title, not a paragraph


def test_empty_blocks_and_long_groups() -> None:
    doc = Document(
        title="Quiet week",
        subtitle="",
        generated_at=datetime(2024, 3, 15, 7, 0),
        sections=(
            Section(
                "quiet",
                "Quiet",
                (),
                (
                    Table((Column("Deal"), Column("Amount", "money")), (), caption="Won", empty="No wins yet."),
                    ItemList((), caption="Risks", empty="No open risks."),
                    Table((Column("Open", "money"),), (row(Cell(D("1500.00"), anchor="open")),)),
                ),
            ),
        ),
        appendix=Appendix(
            (Deal("A-1", "First"), Deal("A-2", "Second")),
            (DealGroup("open", "Open deals", ("A-1", "A-2"), more=3998),),
        ),
    )  # fmt: skip
    text = render_markdown(doc)
    assert "**Won**\n\n_No wins yet._" in text and "**Risks**\n\n_No open risks._" in text
    assert "| 1,500.00 [G1] |" in text
    assert "- [G1] Open deals: A-1, A-2 and 3,998 more" in text
    html = render_html(doc)
    assert (
        '<p class="empty">No wins yet.</p>' in html
        and '<p class="empty">No open risks.</p>' in html
    )
    assert "And 3,998 more deals, not listed here." in html
    # Columns no deal fills (owner, stage, amount...) are left out of the appendix.
    assert "<th" in html and ">Owner</th>" not in html


# -- HTML ---------------------------------------------------------------------------------


class Page(HTMLParser):
    """Collects the ids, links, sources and script tags of an HTML page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.srcs: list[str] = []
        self.tags: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for key, value in attrs:
            if key == "id" and value:
                self.ids.append(value)
            if key in ("href", "xlink:href") and value is not None:
                self.hrefs.append(value)
            if key in ("src", "srcset", "data", "action") and value is not None:
                self.srcs.append(value)


def test_html_is_self_contained() -> None:
    html = render_html(sample())
    page = Page(html)
    assert page.srcs == []
    assert not {"script", "link", "iframe", "img", "object", "embed"} & set(page.tags)
    assert all(h.startswith("#") for h in page.hrefs), [
        h for h in page.hrefs if not h.startswith("#")
    ]
    assert "url(" not in html and "@import" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html)
    assert html.count("<svg") == 4 and "<style>" in html


def test_every_link_has_its_target() -> None:
    doc = sample()
    page = Page(render_html(doc))
    assert len(page.ids) == len(set(page.ids)), "ids must be unique"
    targets = {h[1:] for h in page.hrefs}
    assert targets <= set(page.ids), targets - set(page.ids)
    # Every deal and group of the appendix is a target, and the numbers link to them.
    assert {f"deal-{d.deal_id}" for d in DEALS} <= set(page.ids)
    assert {g.anchor for _, g in doc.groups} <= set(page.ids)
    assert {"deal-D-2001", "group-won-q1", "group-created-w11"} <= targets
    assert len(targets) > 20


def test_html_escapes_text() -> None:
    html = render_html(tiny("<script>alert(1)</script>", '<b>"bold"</b> & co'))
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;&#34;bold&#34;&lt;/b&gt; &amp; co" in html or (
        "&lt;b&gt;&quot;bold&quot;&lt;/b&gt; &amp; co" in html
    )
    assert "A &lt;b&gt;bold&lt;/b&gt; claim &amp; more" in html
    assert Page(html).tags.count("b") == 0


# -- charts -------------------------------------------------------------------------------


def charts_of(doc: Document) -> dict[str, ET.Element]:
    """Each chart of ``doc`` parsed as XML, by kind."""
    out = {}
    for section in doc.sections:
        for block in section.blocks:
            if isinstance(block, BarChart | WaterfallChart | PaceChart | MixChart):
                out[block.CHART] = ET.fromstring(svg(block, lambda _: "#x"))
    return out


def rects(root: ET.Element, cls: str) -> list[dict[str, str]]:
    return [r.attrib for r in root.iter(f"{SVG}rect") if cls in r.attrib.get("class", "").split()]


def test_charts_are_accessible_xml() -> None:
    for kind, root in charts_of(sample()).items():
        assert root.tag == f"{SVG}svg", kind
        assert root.attrib["role"] == "img" and root.attrib["aria-label"]
        assert root.find(f"{SVG}title") is not None
        assert root.iter(f"{SVG}text"), kind
    bars = charts_of(sample())["bar"]
    label = bars.attrib["aria-label"]
    assert "Enterprise 685k of 1.2M target" in label and "Commercial 82,200 of 400k target" in label


def test_bar_lengths_are_proportional() -> None:
    root = charts_of(sample())["bar"]
    bars = rects(root, "bar")
    # The longest of values and targets is Enterprise's target, 1,200,000: 320 units wide.
    # Enterprise 685,000 x 320 / 1,200,000 = 182.666 -> 182.67; Mid-market 545,250 x 320 /
    # 1,200,000 = 145.4; Commercial 82,200 x 320 / 1,200,000 = 21.92.
    assert [b["width"] for b in bars] == ["182.67", "145.4", "21.92"]
    assert {b["x"] for b in bars} == {str(BAR_LEFT)}
    # Target marks: 170 + 320 = 490; 170 + 800,000 x 320 / 1,200,000 = 383.33; 170 + 106.67.
    marks = [line.attrib["x1"] for line in root.iter(f"{SVG}line") if line.get("class") == "target"]
    assert marks == ["490", "383.33", "276.67"]
    values = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "value"]
    assert values == ["685k of 1.2M target", "545k of 800k target", "82,200 of 400k target"]


def test_waterfall_geometry() -> None:
    root = charts_of(sample())["waterfall"]
    bars = [r.attrib for r in root.iter(f"{SVG}rect")]
    assert [b["class"] for b in bars] == [
        "level",
        "up",
        "up",
        "up",
        "down",
        "down",
        "down",
        "down",
        "level",
    ]
    # Levels run 6,240,000 -> 7,420,000 -> 7,630,000 -> 7,725,000 (the highest) -> 7,665,000
    # -> 7,183,000 -> 6,993,000 -> 6,596,250; the lowest is 0, where start and end stand.
    # 180 units of height span 7,725,000, so the start bar is 6,240,000 x 180 / 7,725,000
    # = 145.398 high and its top at 24 + 1,485,000 x 180 / 7,725,000 = 24 + 34.602.
    assert (bars[0]["y"], bars[0]["height"]) == ("58.6", "145.4")
    # Created: 1,180,000 x 180 / 7,725,000 = 27.495 high, top at the 7,420,000 level:
    # 24 + 305,000 x 180 / 7,725,000 = 31.107.
    assert (bars[1]["y"], bars[1]["height"]) == ("31.11", "27.5")
    # Won falls from 6,993,000 by 396,750: 396,750 x 180 / 7,725,000 = 9.245 high.
    assert bars[7]["height"] == "9.24"
    assert bars[8]["height"] == "153.7"  # 6,596,250 x 180 / 7,725,000 = 153.699
    values = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "value"]
    assert values == [
        "6.2M",
        "+1.2M",
        "+210k",
        "+95,000",
        "-60,000",
        "-482k",
        "-190k",
        "-397k",
        "6.6M",
    ]
    assert {b["fill"] for b in bars[1:4]} == {COLORS["up"]}
    assert {b["fill"] for b in bars[4:8]} == {COLORS["down"]}


def test_pace_and_mix_geometry() -> None:
    found = charts_of(sample())
    pace = found["pace"]
    # 75 of the 91 days are done: x = 64 + 75 x 446 / 91 = 431.58.
    dots = [c.attrib["cx"] for c in pace.iter(f"{SVG}circle")]
    assert dots == ["431.58", "431.58"]
    # The y axis runs to 1.1 x 2,400,000 = 2,640,000 over 188 units from y = 204:
    # target at 204 - 2,400,000 x 188 / 2,640,000 = 33.09; booked at 204 - 1,312,450 x 188 /
    # 2,640,000 = 110.54; pace at 204 - 1,978,021.98 x 188 / 2,640,000 = 63.14.
    target = [line.attrib for line in pace.iter(f"{SVG}line") if line.get("class") == "target"]
    assert target[0]["y1"] == "33.09"
    assert [c.attrib["cy"] for c in pace.iter(f"{SVG}circle")] == ["110.54", "63.14"]
    labels = {t.get("class"): t.text for t in pace.iter(f"{SVG}text")}
    assert labels["booked"] == "booked 1.3M" and labels["pace-value"] == "pace 2M"
    mix = found["mix"]
    parts = rects(mix, "part")
    # Actual: 598,950 / 1,312,450 x 560 = 255.56; 265,000 / 1,312,450 x 560 = 113.07;
    # 448,500 / 1,312,450 x 560 = 191.37. Target: 50%, 25%, 25% of 560.
    assert [p["width"] for p in parts] == ["255.56", "113.07", "191.37", "280", "140", "140"]
    assert [p["x"] for p in parts[:3]] == [str(MIX_LEFT), "325.56", "438.63"]
    assert [p["fill"] for p in parts[:3]] == list(PALETTE[:3])


def test_charts_are_deterministic_and_escaped() -> None:
    assert render_html(sample()) == render_html(sample())
    chart = BarChart("<T> & co", (Bar('<b>"x"</b>', D(1)),))
    text = svg(chart)
    assert text == svg(chart)
    root = ET.fromstring(text)  # well-formed despite the markup in the labels
    assert root.find(f"{SVG}title").text == "<T> & co"  # type: ignore[union-attr]
    assert "<b>" not in text and "&lt;b&gt;" in text


def test_charts_with_nothing_to_show() -> None:
    empty_bars = ET.fromstring(svg(BarChart("Nothing", ())))
    assert "nothing to show" in empty_bars.attrib["aria-label"]
    flat = WaterfallChart("Flat", Step("start", D(0)), (), Step("end", D(0)))
    assert ET.fromstring(svg(flat)).attrib["aria-label"] == "Flat. start 0; end 0"
    no_target = PaceChart("Pace", date(2024, 1, 1), date(2024, 3, 31), date(2024, 1, 1), ())
    assert "no target" in ET.fromstring(svg(no_target)).attrib["aria-label"]
    no_sales = MixChart("Mix", (MixPart("New", D(0), D("0.5")), MixPart("Old", D(0), D("0.5"))))
    assert "New: — (0), target 50%" in ET.fromstring(svg(no_sales)).attrib["aria-label"]


# -- PDF ----------------------------------------------------------------------------------


def colours(png: Path) -> dict[tuple[int, int, int], int]:
    """How many pixels of each colour a PNG holds."""
    from PIL import Image

    with Image.open(png) as image:
        found = image.convert("RGB").getcolors(maxcolors=image.width * image.height)
    assert found is not None
    return {rgb: n for n, rgb in found}


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return (int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16))


def near(found: dict[tuple[int, int, int], int], colour: str, slack: int = 3) -> int:
    """Pixels within ``slack`` per channel of ``colour``."""
    want = rgb(colour)
    return sum(
        n
        for c, n in found.items()
        if all(abs(a - b) <= slack for a, b in zip(c, want, strict=True))
    )


@pytest.mark.slow
def test_pdf_pages_show_the_charts(tmp_path: Path) -> None:
    pytest.importorskip(
        "weasyprint", reason="PDF output needs the pdf extra: pip install 'quarterdeck[pdf]'"
    )
    for tool in ("pdftoppm", "pdftotext"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is missing: install poppler-utils (make does, as root)")
    pdf = tmp_path / "brief.pdf"
    pdf.write_bytes(render_pdf(sample()))
    assert pdf.read_bytes().startswith(b"%PDF-")
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 3
    # pdftotext ends each page with a form feed.
    out = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    )
    texts = out.stdout.split("\f")[: len(pages)]
    assert len(texts) == len(pages)

    def page_with(title: str) -> dict[tuple[int, int, int], int]:
        hits = [i for i, t in enumerate(texts) if title in t]
        assert hits, f"no page shows {title!r}"
        return colours(pages[hits[0]])

    waterfall = page_with("Open pipeline due this quarter")
    assert near(waterfall, COLORS["up"]) > 50 and near(waterfall, COLORS["down"]) > 50
    assert near(waterfall, COLORS["level"]) > 50
    pace = page_with("Bookings to date against the 2.4M goal")
    assert near(pace, COLORS["bar"]) > 50 and near(pace, COLORS["pace"]) > 10
    mix = page_with("Bookings mix against the agreed target mix")
    assert all(near(mix, c) > 50 for c in PALETTE[:3])
    # The appendix starts on a page of its own, and no chart is drawn there.
    appendix = [i for i, t in enumerate(texts) if "The deals behind the numbers" in t][-1]
    assert "Won in 2024-Q1" in texts[appendix]
    last = colours(pages[appendix])
    assert near(last, COLORS["up"]) == near(last, COLORS["pace"]) == near(last, PALETTE[1]) == 0


def test_pdf_without_the_extra_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import weasyprint now fails
    with pytest.raises(MissingExtra, match=r"pip install 'quarterdeck\[pdf\]'") as caught:
        render_pdf(tiny())
    assert caught.value.extra == "pdf"


def test_write_picks_the_format_by_suffix(tmp_path: Path) -> None:
    doc = tiny()
    assert write(doc, tmp_path / "b.md").read_text(encoding="utf-8") == render_markdown(doc)
    assert (
        json.loads(write(doc, tmp_path / "b.json").read_text(encoding="utf-8"))["title"]
        == "Escaping"
    )
    assert write(doc, tmp_path / "b.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


if __name__ == "__main__":
    brief = sample()
    for suffix in ("html", "md", "json", "pdf"):
        print(write(brief, Path(f"/tmp/report-sample.{suffix}")))
