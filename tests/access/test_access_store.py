"""The store under the access tables: the upgrade that adds them, and two writers at once
on a PostgreSQL server keeping the audit log whole."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import duckdb
from access_company import PASSWORD

from quarterdeck.model import SCHEMA_VERSION
from quarterdeck.workspace import Workspace

NEW = ("logins", "login_sessions", "login_failures", "audit_log")


def test_a_version_3_database_gains_the_access_tables(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    with Workspace(db) as ws:
        ws.add_item("issue", "kept across the upgrade", by="ana", now=datetime(2024, 7, 1))
    con = duckdb.connect(str(db))
    for name in NEW:
        con.execute(f'DROP TABLE "{name}"')
    con.execute("DELETE FROM schema_version WHERE version = 4")
    con.close()
    with Workspace(db) as ws:
        assert SCHEMA_VERSION == 4 and ws.store.schema_version() == 4
        assert set(NEW) <= set(ws.store.backend.list_tables())
        ws.add_login("ana@example.com", PASSWORD, "leader", by="setup")
        assert ws.log_in("ana@example.com", PASSWORD).role == "leader"
        assert ws.item("I-1").item.title == "kept across the upgrade"


def test_two_writers_at_once_keep_the_audit_log_whole(postgres_url: str) -> None:
    with Workspace(postgres_url) as ws:
        ws.add_login("ana@example.com", PASSWORD, "leader", by="setup")
    errors: list[BaseException] = []

    def write(who: str) -> None:
        try:
            with Workspace(postgres_url) as other:
                for n in range(4):
                    other.add_item("action", f"{who} {n}", by=who)
                    other.set_target(f"2024-0{n + 1}", "100", scope="rep", scope_id=who, by=who)
                    other.update_login("ana@example.com", name=f"{who} {n}", by=who)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(who,)) for who in ("u1", "u2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Workspace(postgres_url) as ws:
        entries = ws.audit(limit=100)
        assert len(entries) == 1 + 2 * 4 * 3
        assert sorted(e.seq for e in entries) == list(range(1, 26))
        assert len(ws.targets()) == 8
        assert len(ws.logins()) == 1
