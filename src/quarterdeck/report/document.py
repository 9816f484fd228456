"""The report as a generic document: sections of sentences, tables, charts and items, and an
appendix of the deals behind the numbers.

The weekly brief (and any other report) is first built as a :class:`Document`; the
renderers (Markdown, HTML, PDF, JSON) only lay it out, so the code that maps metric
results into a report never formats a number, and every face says the same thing.

Every number can be traced to its deals (DESIGN.md, tenet 2): a table :class:`Cell`, a
chart's bar, step or part carries the ids of its deals (``deals``) or the id of a
:class:`DealGroup` of the appendix (``anchor``). The document resolves each into a
:class:`Link`: one deal links to that deal's row of the appendix; several deals link to a
group that lists them, either one the appendix declares (``anchor``, or the same deals in
the same order) or one the document adds for that number, titled by where the number
stands. A reference to a deal or group the appendix lacks is an ``InternalError`` when the
document is built, so no rendered link can point nowhere.

All classes are frozen; tuples may be given as lists and are stored as tuples.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal

from quarterdeck.errors import InternalError
from quarterdeck.report.format import ValueKind, day, exact, money, text_of

__all__ = [
    "DEAL_COLUMNS",
    "Align",
    "Appendix",
    "Bar",
    "BarChart",
    "Block",
    "Callout",
    "Cell",
    "CellValue",
    "Chart",
    "Column",
    "Deal",
    "DealGroup",
    "Document",
    "Item",
    "ItemList",
    "Link",
    "Linked",
    "MixChart",
    "MixPart",
    "PaceChart",
    "PacePoint",
    "Section",
    "Step",
    "Table",
    "Tone",
    "WaterfallChart",
    "anchor_id",
    "row",
]

Align = Literal["left", "right", "center"]
Tone = Literal["neutral", "info", "good", "warn", "bad"]
"""How a callout or an item's status should strike the reader: good news, a warning..."""

CellValue = Decimal | int | str | date | None


def _tuple(owner: object, name: str) -> None:
    """Store a list given for a tuple field as a tuple (frozen classes hash and compare)."""
    value = getattr(owner, name)
    if isinstance(value, str):
        raise InternalError(
            f"{type(owner).__name__}.{name} must be a sequence, not the string {value!r}"
        )
    if not isinstance(value, tuple):
        object.__setattr__(owner, name, tuple(value))


def _tone(owner: object, tone: str) -> None:
    if tone not in ("neutral", "info", "good", "warn", "bad"):
        raise InternalError(f"{type(owner).__name__} has an unknown tone {tone!r}")


def anchor_id(prefix: str, key: str) -> str:
    """An HTML id for ``key`` (any text) under ``prefix``: letters, digits and ``-`` are
    kept, anything else is written ``_XX`` (its UTF-8 bytes in hex), so two keys never
    share an id and the id needs no escaping in a URL fragment."""
    out = []
    for char in key:
        if char.isascii() and (char.isalnum() or char == "-"):
            out.append(char)
        else:
            out.extend(f"_{byte:02X}" for byte in char.encode("utf-8"))
    return f"{prefix}-{''.join(out)}"


# -- tables -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A table column: its heading and what its values are.

    ``kind`` says how a value is written (money to the cent, a ratio as a percentage...);
    ``align`` defaults to left for text and right for everything else, so digits line up;
    ``short`` writes money in the prose style (``1.2M``); ``signed`` marks positive
    changes with ``+``.
    """

    label: str
    kind: ValueKind = "text"
    align: Align | None = None
    short: bool = False
    signed: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("text", "money", "percent", "count", "date", "multiple"):
            raise InternalError(f"column {self.label!r} has an unknown kind {self.kind!r}")

    @property
    def alignment(self) -> Align:
        """Where values of this column sit: ``align``, or left for text, right otherwise."""
        if self.align is not None:
            return self.align
        return "left" if self.kind in ("text", "date") else "right"

    def text(self, value: CellValue) -> str:
        """``value`` written as this column writes it."""
        return text_of(value, self.kind, short=self.short, signed=self.signed)


@dataclass(frozen=True)
class Cell:
    """One value of a table, and the deals behind it.

    ``deals`` are deal ids listed in the appendix; ``anchor`` is the id of a
    :class:`DealGroup` of the appendix, for a number whose deals the appendix groups
    itself (say, a group that lists the first 50 of 4,000 deals). A string value is
    written as is (for a cell of a number column that has none, say "no target").
    """

    value: CellValue
    deals: tuple[str, ...] = ()
    anchor: str | None = None

    def __post_init__(self) -> None:
        _tuple(self, "deals")
        if isinstance(self.value, float | bool):
            raise InternalError(f"a cell holds a Decimal, int, str or date, not {self.value!r}")


def row(*values: Cell | CellValue) -> tuple[Cell, ...]:
    """A table row: each value that is not already a :class:`Cell` becomes one without deals."""
    return tuple(v if isinstance(v, Cell) else Cell(v) for v in values)


@dataclass(frozen=True)
class Table:
    """Rows of cells under columns, with an optional caption and a total row.

    ``empty`` is what a table without rows says instead.
    """

    BLOCK: ClassVar[str] = "table"

    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    caption: str = ""
    total: tuple[Cell, ...] | None = None
    empty: str = "Nothing to show."

    def __post_init__(self) -> None:
        columns = tuple(c if isinstance(c, Column) else Column(str(c)) for c in self.columns)
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "rows", tuple(row(*r) for r in self.rows))
        if self.total is not None:
            object.__setattr__(self, "total", row(*self.total))
        if not columns:
            raise InternalError(f"table {self.caption!r} has no columns")
        for cells in (*self.rows, *([self.total] if self.total is not None else [])):
            if len(cells) != len(columns):
                raise InternalError(
                    f"table {self.caption!r} has {len(columns)} columns but a row of "
                    f"{len(cells)} cells: {[c.value for c in cells]!r}"
                )


# -- charts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One bar of a :class:`BarChart`: a label, a value, an optional target marker."""

    label: str
    value: Decimal | int
    target: Decimal | int | None = None
    deals: tuple[str, ...] = ()
    anchor: str | None = None

    def __post_init__(self) -> None:
        _tuple(self, "deals")
        exact(self.value)
        if self.target is not None:
            exact(self.target)


@dataclass(frozen=True)
class BarChart:
    """Horizontal bars, longest value (or target) across the full width; values of
    ``kind`` (money is written short). Values and targets must not be negative."""

    BLOCK: ClassVar[str] = "chart"
    CHART: ClassVar[str] = "bar"

    title: str
    bars: tuple[Bar, ...]
    kind: ValueKind = "money"
    caption: str = ""

    def __post_init__(self) -> None:
        _tuple(self, "bars")
        for bar in self.bars:
            for value in (bar.value, bar.target):
                if value is not None and value < 0:
                    raise InternalError(f"bar chart {self.title!r}: {bar.label!r} is negative")


@dataclass(frozen=True)
class Step:
    """A bar of a :class:`WaterfallChart`: for the start and end a level, for the steps
    between a signed change (positive rises, negative falls)."""

    label: str
    amount: Decimal | int
    deals: tuple[str, ...] = ()
    anchor: str | None = None

    def __post_init__(self) -> None:
        _tuple(self, "deals")
        exact(self.amount)


@dataclass(frozen=True)
class WaterfallChart:
    """How a level moved from ``start`` to ``end`` through signed ``steps`` (the pipeline
    change: start + created + pulled in + increased - decreased - pushed out - lost - won
    = end). The steps must add up to the cent: ``start + sum(steps) == end``."""

    BLOCK: ClassVar[str] = "chart"
    CHART: ClassVar[str] = "waterfall"

    title: str
    start: Step
    steps: tuple[Step, ...]
    end: Step
    caption: str = ""

    def __post_init__(self) -> None:
        _tuple(self, "steps")
        total = exact(self.start.amount) + sum((exact(s.amount) for s in self.steps), Decimal(0))
        if total != exact(self.end.amount):
            raise InternalError(
                f"waterfall {self.title!r} does not add up: start {self.start.amount} plus the "
                f"steps is {total}, but the end is {self.end.amount}"
            )


@dataclass(frozen=True)
class PacePoint:
    """Bookings to date (cumulative) at the end of ``day``."""

    day: date
    booked: Decimal | int

    def __post_init__(self) -> None:
        exact(self.booked)


@dataclass(frozen=True)
class PaceChart:
    """Bookings to date against the target and the straight-line pace to it.

    The period runs from ``start`` to ``end``, both included; ``booked`` are cumulative
    bookings at the end of their days, up to ``as_of``. The straight-line pace at the end
    of day *d* is ``target * days from start through d / days in the period``.
    ``deals``/``anchor`` link the bookings to date to their deals.
    """

    BLOCK: ClassVar[str] = "chart"
    CHART: ClassVar[str] = "pace"

    title: str
    start: date
    end: date
    as_of: date
    booked: tuple[PacePoint, ...]
    target: Decimal | int | None = None
    caption: str = ""
    deals: tuple[str, ...] = ()
    anchor: str | None = None

    def __post_init__(self) -> None:
        _tuple(self, "booked")
        _tuple(self, "deals")
        if not self.start <= self.as_of <= self.end:
            raise InternalError(
                f"pace chart {self.title!r}: as of {self.as_of} lies outside {self.start} to {self.end}"
            )
        days = [p.day for p in self.booked]
        if days != sorted(days) or any(not self.start <= d <= self.as_of for d in days):
            raise InternalError(
                f"pace chart {self.title!r}: points must be in order, from {self.start} to {self.as_of}"
            )
        if self.target is not None and exact(self.target) < 0:
            raise InternalError(f"pace chart {self.title!r}: the target is negative")

    @property
    def days(self) -> int:
        """Days in the period, both ends included."""
        return (self.end - self.start).days + 1

    @property
    def booked_to_date(self) -> Decimal:
        """Bookings at ``as_of``: the last point's, or zero without points."""
        return exact(self.booked[-1].booked) if self.booked else Decimal(0)

    @property
    def pace_to_date(self) -> Decimal | None:
        """Where straight-line pace to the target stands at the end of ``as_of``."""
        if self.target is None:
            return None
        return exact(self.target) * ((self.as_of - self.start).days + 1) / self.days


@dataclass(frozen=True)
class MixPart:
    """One part of a :class:`MixChart`: an amount, and the share agreed for it (a ratio)."""

    label: str
    amount: Decimal | int
    target_share: Decimal | int | None = None
    deals: tuple[str, ...] = ()
    anchor: str | None = None

    def __post_init__(self) -> None:
        _tuple(self, "deals")
        if exact(self.amount) < 0:
            raise InternalError(f"mix part {self.label!r} is negative")
        if self.target_share is not None and exact(self.target_share) < 0:
            raise InternalError(f"mix part {self.label!r} has a negative target share")


@dataclass(frozen=True)
class MixChart:
    """The mix as a 100% stacked bar (each part's share of the total), above the agreed
    target mix as a second 100% bar when every part has a target share."""

    BLOCK: ClassVar[str] = "chart"
    CHART: ClassVar[str] = "mix"

    title: str
    parts: tuple[MixPart, ...]
    kind: ValueKind = "money"
    caption: str = ""

    def __post_init__(self) -> None:
        _tuple(self, "parts")

    @property
    def total(self) -> Decimal:
        return sum((exact(p.amount) for p in self.parts), Decimal(0))

    def share(self, part: MixPart) -> Decimal | None:
        """``part``'s share of the total (a ratio), None when the total is zero."""
        total = self.total
        return exact(part.amount) / total if total else None

    @property
    def has_target(self) -> bool:
        return bool(self.parts) and all(p.target_share is not None for p in self.parts)


Chart = BarChart | WaterfallChart | PaceChart | MixChart


# -- items and callouts -------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """A meeting item (risk, initiative, issue, action) with its status.

    ``detail`` holds the evidence, mitigation or latest update; ``metric`` a number that
    shows progress; ``tone`` how the status should strike the reader (an overdue action
    is ``bad``); ``deals`` the linked deals, each linked to its row of the appendix.
    """

    title: str
    status: str
    kind: str = ""
    owner: str = ""
    due: date | None = None
    detail: str = ""
    metric: str = ""
    tone: Tone = "neutral"
    deals: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _tuple(self, "deals")
        _tone(self, self.tone)


@dataclass(frozen=True)
class ItemList:
    """Meeting items, in the order given; ``empty`` is said when there are none."""

    BLOCK: ClassVar[str] = "items"

    items: tuple[Item, ...]
    caption: str = ""
    empty: str = "None."

    def __post_init__(self) -> None:
        _tuple(self, "items")


@dataclass(frozen=True)
class Callout:
    """A sentence set apart: the one thing to take away, or a warning about the data."""

    BLOCK: ClassVar[str] = "callout"

    text: str
    title: str = ""
    tone: Tone = "info"

    def __post_init__(self) -> None:
        _tone(self, self.tone)


Block = Table | Chart | ItemList | Callout


# -- sections, appendix, document -----------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """A part of the report: a title, a few short sentences, then its blocks.

    ``id`` names it in links (``#section-<id>``); ``new_page`` starts it on a new page
    when printed.
    """

    id: str
    title: str
    paragraphs: tuple[str, ...] = ()
    blocks: tuple[Block, ...] = ()
    new_page: bool = False

    def __post_init__(self) -> None:
        _tuple(self, "paragraphs")
        _tuple(self, "blocks")
        if not self.id:
            raise InternalError(f"section {self.title!r} has no id")

    @property
    def anchor(self) -> str:
        return anchor_id("section", self.id)


@dataclass(frozen=True)
class Deal:
    """A deal as the appendix lists it. ``note`` says what makes it relevant (slips: 3)."""

    deal_id: str
    name: str
    owner: str = ""
    stage: str = ""
    amount: Decimal | int | None = None
    close_date: date | None = None
    account: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if self.amount is not None:
            exact(self.amount)

    @property
    def anchor(self) -> str:
        return anchor_id("deal", self.deal_id)

    def text(self, key: str) -> str:
        """Field ``key`` (one of :data:`DEAL_COLUMNS`) as the appendix writes it."""
        value = getattr(self, key)
        if key == "amount":
            return money(value)
        if key == "close_date":
            return day(value)
        return str(value)


DEAL_COLUMNS: tuple[tuple[str, str, Align], ...] = (
    ("deal_id", "Deal", "left"),
    ("name", "Name", "left"),
    ("account", "Account", "left"),
    ("owner", "Owner", "left"),
    ("stage", "Stage", "left"),
    ("amount", "Amount", "right"),
    ("close_date", "Close date", "left"),
    ("note", "Note", "left"),
)
"""The appendix's columns of a deal: field, heading, alignment."""


@dataclass(frozen=True)
class DealGroup:
    """A named list of deals in the appendix, for a number made of several deals.

    ``more`` counts further deals of the number that the appendix does not list (a
    number of thousands of deals lists the first few).
    """

    id: str
    title: str
    deal_ids: tuple[str, ...]
    more: int = 0

    def __post_init__(self) -> None:
        _tuple(self, "deal_ids")
        if not self.id:
            raise InternalError(f"deal group {self.title!r} has no id")

    @property
    def anchor(self) -> str:
        return anchor_id("group", self.id)


@dataclass(frozen=True)
class Appendix:
    """The deals behind the numbers, and the groups that several numbers link to."""

    deals: tuple[Deal, ...]
    groups: tuple[DealGroup, ...] = ()
    title: str = "The deals behind the numbers"
    note: str = ""

    @property
    def columns(self) -> tuple[tuple[str, str, Align], ...]:
        """The :data:`DEAL_COLUMNS` that some deal fills (the id and name always)."""
        return tuple(
            c
            for c in DEAL_COLUMNS
            if c[0] in ("deal_id", "name")
            or any(getattr(d, c[0]) not in ("", None) for d in self.deals)
        )

    @property
    def group_columns(self) -> tuple[tuple[str, str, Align], ...]:
        """The shorter list of columns a group of deals shows (its deals' full rows are a
        click away): no account and no note."""
        return tuple(c for c in self.columns if c[0] not in ("account", "note"))

    def __post_init__(self) -> None:
        _tuple(self, "deals")
        _tuple(self, "groups")
        for kind, keys in (
            ("deal", [d.deal_id for d in self.deals]),
            ("group", [g.id for g in self.groups]),
        ):
            twice = sorted({k for k in keys if keys.count(k) > 1})
            if twice:
                raise InternalError(f"the appendix lists {kind} {', '.join(twice)} twice")


Linked = Cell | Bar | Step | MixPart | PaceChart
"""What can link to deals: a table cell, a bar, a waterfall step, a mix part, a pace chart."""


@dataclass(frozen=True)
class Link:
    """Where a number links: ``anchor`` is the HTML id of its appendix entry, ``ref`` what
    plain text writes for it (a deal id, or ``G1``, ``G2``... for a group)."""

    anchor: str
    ref: str
    group: DealGroup | None = None


@dataclass(frozen=True)
class Document:
    """A whole report: a title, sections, and the appendix of deals the numbers link to.

    ``generated_at`` is when it was built (naive UTC); ``facts`` are short label/value
    pairs shown under the title (as of, period, data imported at...).
    """

    title: str
    subtitle: str
    generated_at: datetime
    sections: tuple[Section, ...]
    appendix: Appendix | None = None
    facts: tuple[tuple[str, str], ...] = ()
    _links: dict[int, tuple[Linked, Link | None]] = field(init=False, repr=False, compare=False)
    _groups: tuple[tuple[str, DealGroup], ...] = field(init=False, repr=False, compare=False)
    _deals: dict[str, Deal] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _tuple(self, "sections")
        object.__setattr__(self, "facts", tuple((str(k), str(v)) for k, v in self.facts))
        ids = [s.id for s in self.sections]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise InternalError(f"sections {', '.join(twice)} appear twice")
        self._resolve()

    # -- links ----------------------------------------------------------------------------

    def _resolve(self) -> None:
        appendix = self.appendix or Appendix(deals=())
        deals = {d.deal_id: d for d in appendix.deals}
        declared = {g.id: g for g in appendix.groups}
        by_deals = {g.deal_ids: g for g in appendix.groups}
        groups: dict[str, DealGroup] = dict(declared)
        links: dict[int, tuple[Linked, Link | None]] = {}
        missing: list[str] = []

        def check(ids: Iterable[str], where: str) -> None:
            missing.extend(f"deal {i!r} ({where})" for i in ids if i not in deals)

        for group in appendix.groups:
            check(group.deal_ids, f"group {group.id}")
        for linked, where in self._linked():
            check(linked.deals, where)
            if linked.anchor is not None:
                if linked.anchor not in declared:
                    missing.append(f"group {linked.anchor!r} ({where})")
                    continue
                group = declared[linked.anchor]
            elif len(linked.deals) == 1:
                single = Link(anchor_id("deal", linked.deals[0]), linked.deals[0])
                links[id(linked)] = (linked, single)
                continue
            elif linked.deals:
                group = by_deals.get(linked.deals) or DealGroup(
                    "auto-" + hashlib.sha1("\n".join(linked.deals).encode()).hexdigest()[:10],
                    where,
                    linked.deals,
                )
                group = groups.setdefault(group.id, group)
            else:
                links[id(linked)] = (linked, None)
                continue
            links[id(linked)] = (linked, Link(group.anchor, "", group))
        for section in self.sections:
            for block in section.blocks:
                if isinstance(block, ItemList):
                    for item in block.items:
                        check(item.deals, f"{section.title} · {item.title}")
        if missing:
            raise InternalError(
                "the report links to what its appendix lacks: " + "; ".join(sorted(set(missing)))
            )
        refs = {gid: f"G{n}" for n, gid in enumerate(groups, start=1)}
        for key, (linked, found) in links.items():
            if found is not None and found.group is not None:
                links[key] = (linked, Link(found.anchor, refs[found.group.id], found.group))
        object.__setattr__(self, "_deals", deals)
        object.__setattr__(self, "_links", links)
        object.__setattr__(self, "_groups", tuple((refs[g], groups[g]) for g in groups))

    def _linked(self) -> Iterator[tuple[Linked, str]]:
        """Everything that can link to deals, with where it stands (a group's title)."""
        for section in self.sections:
            for block in section.blocks:
                where = [section.title]
                if isinstance(block, Table):
                    if block.caption:
                        where.append(block.caption)
                    for cells in (*block.rows, *([block.total] if block.total else [])):
                        label = cells[0].value if isinstance(cells[0].value, str) else None
                        for i, (cell, column) in enumerate(zip(cells, block.columns, strict=True)):
                            at = [*where, *([label] if label and i else []), column.label]
                            yield cell, " · ".join(at)
                elif isinstance(block, BarChart):
                    for bar in block.bars:
                        yield bar, " · ".join([*where, block.title, bar.label])
                elif isinstance(block, WaterfallChart):
                    for step in (block.start, *block.steps, block.end):
                        yield step, " · ".join([*where, block.title, step.label])
                elif isinstance(block, MixChart):
                    for part in block.parts:
                        yield part, " · ".join([*where, block.title, part.label])
                elif isinstance(block, PaceChart):
                    yield block, " · ".join([*where, block.title, "booked to date"])

    def link(self, linked: Linked) -> Link | None:
        """Where ``linked`` (a cell, bar, step, part or pace chart of this document) links
        to, or None when it names no deals."""
        entry = self._links.get(id(linked))
        if entry is None or entry[0] is not linked:
            # Links are kept by object; a copy of this document holds new objects.
            self._resolve()
            entry = self._links.get(id(linked))
            if entry is None or entry[0] is not linked:
                return None
        return entry[1]

    def deal_link(self, deal_id: str) -> Link:
        """The link to one deal's row of the appendix."""
        return Link(anchor_id("deal", deal_id), deal_id)

    @property
    def groups(self) -> tuple[tuple[str, DealGroup], ...]:
        """Every group of the appendix with its reference (``G1``...): those it declares,
        then those made for numbers of several deals, in the order they first appear."""
        return self._groups

    def deal(self, deal_id: str) -> Deal:
        """The appendix entry of ``deal_id``."""
        try:
            return self._deals[deal_id]
        except KeyError:
            raise InternalError(f"deal {deal_id!r} is not in the appendix") from None

    # -- JSON -----------------------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        """The whole document as JSON-ready data: the same content as the other faces.

        Amounts and ratios are strings of their exact Decimal (``"1234.50"``), counts are
        numbers, dates ISO 8601. Cells also carry the text the other faces show.
        """
        # Imported here: json_form reads this module's classes.
        from quarterdeck.report.json_form import document_dict

        return document_dict(self)

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`as_dict` as JSON text (keys in a fixed order, so output is repeatable)."""
        return json.dumps(self.as_dict(), indent=indent, ensure_ascii=False) + "\n"
