"""Web load benchmark: 50 simulated users browsing a 100k-deal company for 60 seconds.

Serves a copy of the simulated 100k-deal company that ``bench/import_1m.py --deals 100000``
builds (bench/out/bench-100000.duckdb, built first when missing) with the real
``quarterdeck serve`` in a child process on a loopback port, gives it logins (2 ceo/leader,
8 managers, 40 reps with the most deals), and runs the users from this process with httpx:
waits until the server has prepared every login's meeting (as it does at start and after
every import; the time is printed), then each user logs in through the login form, opens
each of its pages once (the warm-up: a page's first visit may compute it, later ones are
served from the app's cache until the data changes; these first visits are reported
apart), and for the measured window picks a page at random, waits for the answer, thinks
for 0.5 to 1.5 seconds, and goes again.
Prints p50/p95/p99/max latency and errors, per page and overall.

    .venv/bin/python bench/web_load.py [--users 50] [--seconds 60] [--deals 100000] [--writes 0.05]

With ``--writes W``, each ceo, leader and manager adds an item at the start and, in a
share W of their steps, a note to it (the meeting record changing while people read).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
BIN = Path(sys.executable).parent
PASSWORD = "load test password"

PAGES = (
    ("meeting", "/meeting", 3),
    ("api meeting", "/api/meeting", 2),
    ("pipeline", "/pipeline", 2),
    ("api deals", "/api/deals", 1),
    ("deal", "/deals/{deal}", 2),
    ("api deal", "/api/deals/{deal}", 1),
    ("forecast", "/forecast", 1),
    ("api forecast", "/api/forecast", 1),
)
"""(name, path, weight): what a user opens, and how often relative to the others."""


@dataclass
class Tally:
    """Latencies (seconds) and errors, per page."""

    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    done: int = 0
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def add(self, page: str, started: float, status: int | None, problem: str = "") -> None:
        self.seconds[page].append(time.perf_counter() - started)
        if status is None or status >= 400:
            self.errors[page].append(problem or f"HTTP {status}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prepare(deals: int, users: int) -> tuple[Path, list[tuple[str, str]]]:
    """A fresh copy of the company with ``users`` logins: [(email, role)]."""
    source = OUT / f"bench-{deals}.duckdb"
    if not source.exists():
        subprocess.run(
            [sys.executable, str(HERE / "import_1m.py"), "--deals", str(deals)], check=True
        )
    db = OUT / f"web-{deals}.duckdb"
    db.with_name(db.name + ".wal").unlink(missing_ok=True)  # a stopped server's log
    shutil.copyfile(source, db)

    import ibis

    from quarterdeck import Workspace

    with Workspace(db) as ws:
        people = ws.store.to_arrow(ws.store.table("users")).to_pylist()
        deals_by = ws.store.to_arrow(
            ws.store.table("deals")
            .group_by("owner_id")
            .agg(n=lambda t: t.count())
            .order_by([ibis.desc("n"), "owner_id"])
        ).to_pylist()
        managers = sorted(p["user_id"] for p in people if p["role"] == "manager")
        reps = [row["owner_id"] for row in deals_by]
        heads = 2
        n_managers = min(len(managers), max(0, (users - heads) // 5))
        plan = [("ceo", None), ("leader", None)][: min(heads, users)]
        plan += [("manager", m) for m in managers[:n_managers]]
        plan += [("rep", r) for r in reps[: users - len(plan)]]
        logins = []
        for n, (role, user_id) in enumerate(plan):
            email = f"{role}{n}@load.example"
            ws.add_login(email, PASSWORD, role, user_id=user_id, name=f"{role} {n}", by="bench")
            logins.append((email, role))
    return db, logins


async def _log_in(client: httpx.AsyncClient, email: str) -> None:
    form = await client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    if token is None:
        raise RuntimeError("the login page carries no CSRF token")
    done = await client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf": token.group(1)}
    )
    if done.status_code >= 400 or "quarterdeck_session" not in client.cookies:
        raise RuntimeError(f"log in as {email} failed: HTTP {done.status_code}")


async def _visit(client: httpx.AsyncClient, page: str, path: str, tally: Tally) -> None:
    started = time.perf_counter()
    try:
        answer = await client.get(path)
    except httpx.HTTPError as exc:
        tally.add(page, started, None, f"{type(exc).__name__}: {exc}")
        return
    tally.add(page, started, answer.status_code)


async def _user(
    base: str,
    email: str,
    writes: float,
    seconds: float,
    seed: int,
    cold: Tally,
    warm: Tally,
    start: asyncio.Event,
) -> None:
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=60, follow_redirects=False) as client:
        await _log_in(client, email)
        csrf = (await client.get("/api/session")).json()["csrf"]
        item = None
        if writes:
            made = await client.post(
                "/api/meeting/items",
                json={"kind": "issue", "title": f"Load test issue of {email}"},
                headers={"X-CSRF-Token": csrf},
            )
            item = made.json()["item_id"] if made.status_code == 201 else None
        listing = (await client.get("/api/deals")).json()
        ids = [d["deal_id"] for d in listing.get("deals", [])][:20]
        pages = [p for p in PAGES if ids or "{deal}" not in p[1]]  # a login with no open deals

        def pick(template: str) -> str:
            return template.format(deal=rng.choice(ids)) if "{deal}" in template else template

        paths = [(name, pick(template), w) for name, template, w in pages]
        for name, path, _ in paths:  # warm-up: each page's first visit
            await _visit(client, name, path, cold)
        cold.done += 1
        await start.wait()
        weights = [w for _, _, w in paths]
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            if item is not None and rng.random() < writes:
                began = time.perf_counter()
                noted = await client.post(
                    f"/api/meeting/items/{item}/notes",
                    json={"text": "progress"},
                    headers={"X-CSRF-Token": csrf},
                )
                warm.add("write (note)", began, noted.status_code)
                await asyncio.sleep(rng.uniform(0.5, 1.5))
                continue
            name, template, _ = rng.choices(pages, weights)[0]
            await _visit(client, name, pick(template), warm)
            await asyncio.sleep(rng.uniform(0.5, 1.5))


def _summary(label: str, tally: Tally) -> None:
    every = sorted(s for times in tally.seconds.values() for s in times)
    errors = sum(len(e) for e in tally.errors.values())
    if not every:
        print(f"{label}: no requests")
        return

    def pct(values: list[float], q: float) -> float:
        return 1000 * values[min(len(values) - 1, int(q * len(values)))]

    print(
        f"{label}: {len(every):,} requests, {errors} errors, p50 {pct(every, 0.5):.0f} ms, "
        f"p95 {pct(every, 0.95):.0f} ms, p99 {pct(every, 0.99):.0f} ms, max {1000 * every[-1]:.0f} ms"
    )
    for page, times in sorted(tally.seconds.items()):
        ordered = sorted(times)
        print(
            f"  {page:<13} {len(ordered):>6}  p50 {pct(ordered, 0.5):>6.0f} ms  "
            f"p95 {pct(ordered, 0.95):>6.0f} ms  mean {1000 * statistics.fmean(ordered):>6.0f} ms"
            + (
                f"  errors {len(tally.errors[page])}: {tally.errors[page][0]}"
                if tally.errors[page]
                else ""
            )
        )


async def _run(
    base: str, logins: list[tuple[str, str]], writes: float, seconds: float
) -> tuple[Tally, Tally, float]:
    cold, warm = Tally(), Tally()
    start = asyncio.Event()
    users = [
        asyncio.create_task(
            _user(base, email, writes if role != "rep" else 0.0, seconds, n, cold, warm, start)
        )
        for n, (email, role) in enumerate(logins)
    ]
    warming = time.perf_counter()
    while cold.done < len(logins):
        if any(u.done() for u in users):
            for u in users:
                if u.done() and u.exception():
                    raise u.exception()  # type: ignore[misc]
        await asyncio.sleep(0.2)
    warmed = time.perf_counter() - warming
    start.set()
    await asyncio.gather(*users)
    return cold, warm, warmed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument(
        "--writes",
        type=float,
        default=0.0,
        help="share of the steps of each ceo, leader and manager that add a note to an item",
    )
    args = parser.parse_args()
    db, logins = _prepare(args.deals, args.users)
    roles = defaultdict(int)
    for _, role in logins:
        roles[role] += 1
    print(f"{args.users} users ({', '.join(f'{n} {r}' for r, n in roles.items())}) on {db.name}")
    port = _free_port()
    server = subprocess.Popen(
        [str(BIN / "quarterdeck"), "serve", "--db", str(db), "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    sys.exit(
                        f"the server did not start: {server.stderr.read() if server.stderr else ''}"
                    )
                time.sleep(0.2)
        started = time.perf_counter()
        while not httpx.get(f"http://127.0.0.1:{port}/healthz").json()["prepared"]:
            if server.poll() is not None:
                sys.exit("the server stopped while preparing")
            time.sleep(1)
        print(f"the server prepared the logins' meetings in {time.perf_counter() - started:.0f} s")
        cold, warm, warmed = asyncio.run(
            _run(f"http://127.0.0.1:{port}", logins, args.writes, args.seconds)
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    _summary(f"warm-up (each user's first visit of each page, {warmed:.0f} s)", cold)
    writes = f", writes {args.writes:.0%} of non-rep steps" if args.writes else ""
    _summary(f"measured ({args.seconds:.0f} s, {args.users} users{writes})", warm)


if __name__ == "__main__":
    main()
