"""Commands that bring data in and show what is there: import, status, simulate, demo."""

from __future__ import annotations

import json
import shutil
import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from quarterdeck.cli.common import (
    _date,
    _datetime,
    _money,
    _percent,
    _progress,
    app,
    out,
    state,
)
from quarterdeck.errors import MissingExtra
from quarterdeck.workspace import Workspace


@app.command("import")
def import_(
    paths: Annotated[list[Path], typer.Argument(help="CSV files, or folders of them.")],
    mapping: Annotated[
        Path | None, typer.Option(help="Mapping file (TOML/YAML) for a CSV of any other shape.")
    ] = None,
    format: Annotated[
        str | None, typer.Option(help="Skip detection: salesforce, hubspot, maven, ibm-win-loss.")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(help="When the export was taken (default: found in the files, else now)."),
    ] = None,
    max_rejects: Annotated[
        int, typer.Option(help="Rows that may be set aside before the import is refused.")
    ] = 0,
    date_order: Annotated[
        str | None, typer.Option(help="MDY (US, the default) or DMY for dates like 03/04/2024.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Import CRM exports: all of it lands, or none of it."""
    started = time.perf_counter()
    with Workspace(state.db) as ws, _progress(not json_out) as report:
        result = ws.import_files(
            paths,
            format=format,
            mapping=mapping,
            as_of=_datetime(as_of, "--as-of"),
            max_rejects=max_rejects,
            date_order=date_order.upper() if date_order else None,
            progress=report,
        )
    if json_out:
        payload = {
            "import_id": result.import_id,
            "format": result.format,
            "files": list(result.files),
            "as_of": result.as_of.isoformat() if result.as_of else None,
            "rows_read": result.rows_read,
            "rows_accepted": result.rows_accepted,
            "rows_rejected": result.rows_rejected,
            "counts": result.counts,
            "notices": list(result.notices),
            "rejects_path": str(result.rejects_path) if result.rejects_path else None,
            "skipped": result.skipped,
        }
        out.print_json(json.dumps(payload))
        return
    if result.skipped:
        out.print(f"Nothing imported: {result.skipped}.")
        return
    seconds = time.perf_counter() - started
    out.print(
        f"Imported {result.format} as import #{result.import_id} (as of {result.as_of:%Y-%m-%d %H:%M}) "
        f"in {seconds:.1f}s: {result.rows_accepted:,} of {result.rows_read:,} rows kept, "
        f"{result.rows_rejected:,} set aside."
    )
    for name, count in result.counts.items():
        out.print(f"  {name:<12} {count:>12,}")
    for notice in result.notices:
        out.print(f"  [yellow]note[/]: {notice}")
    if result.rejects_path:
        out.print(f"  Rejected rows and reasons: {result.rejects_path}")


@app.command()
def status(
    json_out: Annotated[bool, typer.Option("--json", help="Print as JSON for scripts.")] = False,
) -> None:
    """What the database holds."""
    with Workspace(state.db) as ws:
        current = ws.status()
    if json_out:
        out.print_json(json.dumps(current.as_dict()))
        return
    table = Table(show_header=False, box=None)
    for key, value in current.as_dict().items():
        shown = f"{value:,}" if isinstance(value, int) else str(value)
        table.add_row(key.replace("_", " "), shown)
    out.print(table)


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the Salesforce-shaped CSVs to.")],
    deals: Annotated[int, typer.Option(help="About how many deals to make.")] = 5_000,
    years: Annotated[float, typer.Option(help="Years of history.")] = 3.0,
    end: Annotated[str, typer.Option(help="Export date: YYYY-MM-DD or 'today'.")] = "today",
    seed: Annotated[
        int, typer.Option(help="Random seed: the same seed gives the same company.")
    ] = 7,
) -> None:
    """Write a realistic simulated company as a Salesforce data export."""
    from quarterdeck.simulate import SimulationSpec
    from quarterdeck.simulate import simulate as run

    spec = SimulationSpec(
        deals=deals, years=years, end=_date(end, "--end") or date.today(), seed=seed
    )
    with _progress() as report:
        summary = run(spec, out_dir, progress=report)
    out.print(f"Wrote a simulated company to {summary.out_dir}:")
    for name, rows in summary.files.items():
        out.print(f"  {name:<32} {rows:>12,} rows")


@app.command()
def demo(
    folder: Annotated[Path, typer.Option(help="Where the demo company and database go.")] = Path(
        "demo"
    ),
    deals: Annotated[int, typer.Option(help="Size of the demo company.")] = 5_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
) -> None:
    """Simulate a company, import it through the real Salesforce path, summarise it, give it
    a meeting record and the sales leader's weekly forecast calls, and write this week's
    brief."""
    from quarterdeck.report import write
    from quarterdeck.simulate import SimulationSpec
    from quarterdeck.simulate import simulate as run
    from quarterdeck.simulate.calls import record_leader_calls
    from quarterdeck.simulate.logins import add_demo_logins
    from quarterdeck.simulate.meeting import seed_meeting_record

    export = folder / "salesforce-export"
    db = folder / "quarterdeck.duckdb"
    if export.exists():
        shutil.rmtree(export)
    for stale in folder.glob("quarterdeck.duckdb*"):
        stale.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with _progress() as report:
        run(SimulationSpec(deals=deals, end=date.today(), seed=seed), export, progress=report)
    out.print(f"Simulated a company with about {deals:,} deals in {export}")
    with Workspace(db) as ws, _progress() as report:
        result = ws.import_files([export], progress=report)
        out.print(
            f"Imported {result.rows_accepted:,} rows into {db} "
            f"({result.counts.get('deal_events', 0):,} history events)."
        )
        _print_overview(ws)
        seed_meeting_record(ws, datetime.now().replace(microsecond=0))
        calls = record_leader_calls(ws, export)
        out.print(f"Recorded the sales leader's weekly forecast calls: {calls:,}.")
        forecast = ws.forecast(save=True, reasons=False).best
        if forecast.forecast is not None:
            spread = (
                f" (80% range {forecast.p10:,.0f} to {forecast.p90:,.0f})"
                if forecast.p10 is not None and forecast.p90 is not None
                else ""
            )
            out.print(f"Forecast of this quarter: {forecast.forecast:,.0f}{spread}.")
        document = ws.brief_document(ws.brief())
        try:
            logins = add_demo_logins(ws)
        except MissingExtra:
            logins = []
    brief_path = folder / "brief.html"
    write(document, brief_path)
    write(document, folder / "brief.md")
    out.print(
        f"Done in {time.perf_counter() - started:.0f}s. This week's brief: {brief_path} "
        f"(and brief.md). Explore: quarterdeck --db {db} status"
    )
    if logins:
        out.print(
            f"The web app: quarterdeck --db {db} serve, then log in at http://127.0.0.1:8000 as"
        )
        for login in logins:
            out.print(f"  {login.role:<8} {login.email}  password {login.password}")
    else:
        out.print("For the web app: pip install 'quarterdeck[web]' and run the demo again.")


def _print_overview(ws: Workspace) -> None:
    """The demo's closing summary: this quarter against target, last quarter's win rate,
    and the open pipeline."""
    current = ws.bookings()
    previous = ws.win_rate(current.period.previous())
    pipeline = ws.pipeline()
    target = current.target
    out.print(
        f"{current.period.label} so far: {_money(current.bookings)} won"
        + (f" of a {_money(target)} target ({_percent(current.attainment)})" if target else "")
        + f" from {current.won_count:,} deals."
    )
    out.print(
        f"{previous.period.label} win rate: {_percent(previous.by_count)} by count, "
        f"{_percent(previous.by_value)} by value ({previous.total.closed:,} deals closed)."
    )
    out.print(f"Open pipeline: {pipeline.count:,} deals worth {_money(pipeline.amount)}.")
