"""Bad input gets a clear error, and nothing is lost (DESIGN.md, tenet 3).

Every case of ``bad_inputs.CASES`` is imported into a copy of a database pre-loaded with
the Salesforce sample. A refused import must say which file, line, column and why, list
its rows in a rejects file beside the database, and leave every table as it was. The
messages of all cases are kept in ``snapshots/bad_input_messages.txt`` so that a change
in any of them shows in review (``UPDATE_SNAPSHOTS=1`` rewrites it).
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from bad_inputs import ACC, CASES, OPP, SAMPLE, Case, rows_of, sample, to_csv

from quarterdeck.errors import QuarterdeckError, RejectsExceeded
from quarterdeck.importer import ImportResult
from quarterdeck.model import TABLES
from quarterdeck.store import Store
from quarterdeck.workspace import Workspace

SNAPSHOT = Path(__file__).parent / "snapshots" / "bad_input_messages.txt"
QUARTERDECK = Path(sys.executable).parent / "quarterdeck"


# -- the database every case starts from --------------------------------------------------


def dump(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every canonical table and of ``schema_version``, sorted: the database's
    content, to compare before and after an import."""
    with Store(db, read_only=True) as store:
        tables = {name: store.to_arrow(store.table(name)) for name in TABLES}
        tables["schema_version"] = store.backend.table("schema_version").to_pyarrow()
    return {
        name: sorted((tuple(row.values()) for row in table.to_pylist()), key=repr)
        for name, table in tables.items()
    }


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[tuple[Any, ...]]]]:
    """A database holding one good import of the Salesforce sample, and its dump."""
    db = tmp_path_factory.mktemp("base") / "quarterdeck.duckdb"
    with Workspace(db) as ws:
        result = ws.import_files([SAMPLE])
    assert result.import_id == 1 and result.rows_rejected == 0
    content = dump(db)
    assert len(content["deals"]) == 31 and len(content["imports"]) == 1
    return db, content


def fresh_db(base_db: Path, folder: Path) -> Path:
    (folder / "db").mkdir(parents=True)
    db = folder / "db" / "quarterdeck.duckdb"
    shutil.copy(base_db, db)
    return db


def write_files(case: Case, folder: Path) -> list[Path]:
    inputs = folder / "in"
    inputs.mkdir(parents=True)
    for name, content in case.files.items():
        (inputs / name).write_bytes(content)
    return [inputs / p if p != "." else inputs for p in case.paths]


def rejects_files(db: Path) -> list[Path]:
    return sorted(db.parent.glob(f"{db.stem}-rejects-*.csv"))


def read_rejects(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# -- running a case once ------------------------------------------------------------------


class Outcome:
    """What one case did: its message, error, result, and the database afterwards."""

    def __init__(self, case: Case, folder: Path, base_db: Path):
        self.db = fresh_db(base_db, folder)
        self.folder = folder
        paths = write_files(case, folder)
        self.error: QuarterdeckError | None = None
        self.result: ImportResult | None = None
        with Workspace(self.db) as ws:
            try:
                self.result = ws.import_files(paths, as_of=case.as_of, max_rejects=case.max_rejects)
            except QuarterdeckError as exc:
                self.error = exc
        self.after = dump(self.db)
        self.rejects = rejects_files(self.db)

    @property
    def kind(self) -> str:
        if self.error is not None:
            return type(self.error).__name__
        assert self.result is not None
        return "skipped" if self.result.skipped else "imported"

    @property
    def message(self) -> str:
        if self.error is not None:
            return str(self.error)
        assert self.result is not None
        return "\n".join(
            [*([self.result.skipped] if self.result.skipped else []), *self.result.notices]
        )

    def normalised(self) -> str:
        """The message without what changes from run to run (folders and times)."""
        text = self.message.replace(str(self.folder.resolve()), "<tmp>").replace(
            str(self.folder), "<tmp>"
        )
        return re.sub(r"rejects-\d{8}-\d{6}(-\d+)?", "rejects-<time>", text)


_outcomes: dict[str, Outcome] = {}


@pytest.fixture(scope="module")
def outcome_of(base, tmp_path_factory):
    base_db, _ = base

    def run(case: Case) -> Outcome:
        if case.name not in _outcomes:
            folder = tmp_path_factory.mktemp(re.sub(r"\W+", "-", case.name)[:40])
            _outcomes[case.name] = Outcome(case, folder, base_db)
        return _outcomes[case.name]

    return run


def _param(case: Case) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=case.known_bug)] if case.known_bug else []
    return pytest.param(case, id=case.name, marks=marks)


# -- the corpus ---------------------------------------------------------------------------


def test_corpus_is_big_and_named_uniquely() -> None:
    assert len(CASES) >= 35
    assert len({c.name for c in CASES}) == len(CASES)
    assert sum(c.outcome == "error" for c in CASES) >= 30


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_case(case: Case, outcome_of, base) -> None:
    _, before = base
    got = outcome_of(case)
    for fragment in case.expect:
        assert fragment in got.message, f"{fragment!r} not in:\n{got.message}"
    for fragment in case.absent:
        assert fragment not in got.message, f"{fragment!r} in:\n{got.message}"
    if case.outcome == "error":
        assert got.kind == case.error, got.message
        assert got.after == before, "a refused import changed the database"
        _check_rejects(case, got)
    elif case.outcome == "skipped":
        assert got.kind == "skipped", got.message
        assert got.after == before
    else:
        assert got.kind == "imported", got.message
        assert got.result is not None and got.result.rows_rejected == 0
        assert got.result.import_id == 2
        assert not got.rejects
        _check_stored(case, got)


def _check_rejects(case: Case, got: Outcome) -> None:
    if case.error != "RejectsExceeded":
        assert not got.rejects, "only a refusal for bad rows writes a rejects file"
        return
    assert len(got.rejects) == 1, got.rejects
    path = got.rejects[0]
    assert path.parent == got.db.parent, "the rejects file goes beside the database"
    assert str(path) in got.message, "the message says where the rejects file is"
    assert getattr(got.error, "rejects_path", None) == str(path)
    rows = read_rejects(path)
    assert rows and all(r["reason"] for r in rows)
    for file, line, column in case.rejects:
        matching = [
            r
            for r in rows
            if r["file"] == file
            and r["line"] == str(line)
            and (column is None or r["column"] == column)
        ]
        assert matching, f"no reject for {file}, line {line}, column {column} in {rows}"
        where = f"{file}, line {line}" + (f", column {column}" if column else "")
        assert where in got.message


def _check_stored(case: Case, got: Outcome) -> None:
    with Store(got.db, read_only=True) as store:
        deals = {d["deal_id"]: d for d in store.to_arrow(store.table("deals")).to_pylist()}
    assert len(deals) == 31, "a file of the 31 sample deals gives 31 deals, no more"
    for deal_id, fields in case.stored.items():
        for name, expected in fields.items():
            value = deals[deal_id][name]
            shown = value.isoformat() if isinstance(value, date | datetime) else value
            shown = str(shown) if isinstance(shown, Decimal) else shown
            assert shown == expected, f"{deal_id} {name}: {shown!r} != {expected!r}"


def test_messages_snapshot(outcome_of) -> None:
    """All messages in one file, compared as a whole so that review shows every change."""
    blocks = []
    for case in CASES:
        got = outcome_of(case)
        bug = f"  (known bug: {case.known_bug})" if case.known_bug else ""
        blocks.append(f"## {case.name}\n{got.kind}{bug}\n{got.normalised()}\n")
    text = "\n".join(blocks)
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not SNAPSHOT.exists():
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert text == SNAPSHOT.read_text(encoding="utf-8"), (
        "messages changed; review them and rerun with UPDATE_SNAPSHOTS=1"
    )


# -- letting some rows through ------------------------------------------------------------


def _two_bad_rows(folder: Path) -> tuple[list[Path], list[str]]:
    """The sample with a negative amount on line 3 and 30 February on line 6."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = rows_of(OPP)
    rows[2][rows[0].index("Amount")] = "-5000"
    rows[5][rows[0].index("CloseDate")] = "2023-02-30"
    (folder / OPP).write_text(to_csv(rows), encoding="utf-8")
    (folder / ACC).write_bytes(sample()[ACC])
    return [folder / OPP, folder / ACC], [rows[2][0], rows[5][0]]


def test_max_rejects_lets_that_many_bad_rows_through(base, tmp_path: Path) -> None:
    base_db, before = base
    db = fresh_db(base_db, tmp_path)
    paths, bad_ids = _two_bad_rows(tmp_path / "in")
    with Workspace(db) as ws, pytest.raises(RejectsExceeded, match=r"2 rows .* \(allowed: 1\)"):
        ws.import_files(paths, max_rejects=1)
    assert dump(db) == before
    refused = rejects_files(db)
    assert len(refused) == 1
    with Workspace(db) as ws:
        result = ws.import_files(paths, max_rejects=2)
    assert result.import_id == 2
    # 31 deals and 13 accounts read, the two bad deals set aside
    assert (result.rows_read, result.rows_accepted, result.rows_rejected) == (44, 42, 2)
    kept = result.rejects_path
    assert kept is not None and kept.parent == db.parent and kept not in refused
    rows = read_rejects(kept)
    assert [(r["file"], r["line"], r["column"], r["value"]) for r in rows] == [
        (OPP, "3", "Amount", "'-5000"),  # written as text, so a spreadsheet shows it as is
        (OPP, "6", "CloseDate", "2023-02-30"),
    ]
    after = dump(db)
    columns = TABLES["imports"].column_names
    log = [dict(zip(columns, r, strict=True)) for r in after["imports"]]
    entry = next(e for e in log if e["import_id"] == 2)
    assert (entry["rows_read"], entry["rows_accepted"], entry["rows_rejected"]) == (44, 42, 2)
    assert entry["rejects_path"] == str(kept)
    # the rejected deals keep what the first import gave them
    deals_before = {r[0]: r for r in before["deals"]}
    deals_after = {r[0]: r for r in after["deals"]}
    assert len(deals_after) == 31
    for deal_id in bad_ids:
        assert deals_after[deal_id] == deals_before[deal_id]


# -- through the command line -------------------------------------------------------------

CLI_CASES = {
    "binary junk": 2,
    "cut inside a quoted field": 2,
    "negative amount": 2,
    "no such path": 2,
    "as-of older than the last import": 3,
    "missing StageName column": 2,
}


@pytest.mark.parametrize("name", list(CLI_CASES))
def test_cli_prints_one_clean_error(name: str, base, tmp_path: Path) -> None:
    base_db, before = base
    case = next(c for c in CASES if c.name == name)
    db = fresh_db(base_db, tmp_path)
    paths = write_files(case, tmp_path)
    command = [str(QUARTERDECK), "--db", str(db), "import", *map(str, paths)]
    if case.as_of:
        command += ["--as-of", case.as_of.isoformat()]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == CLI_CASES[name], run.stderr
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert lines[0].startswith("error: ")
    for fragment in case.expect:
        assert fragment in run.stderr, f"{fragment!r} not in {run.stderr}"
    if case.error == "RejectsExceeded":
        assert lines[-1].startswith("Fix them, or allow them")
    else:
        assert len(lines) == 1, run.stderr
    assert run.stdout == ""
    assert dump(db) == before
