"""``quarterdeck brief`` (the weekly brief as a file) and ``quarterdeck settings``."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from quarterdeck.cli.common import JsonOption, app, out, state
from quarterdeck.errors import InputError
from quarterdeck.workspace import Workspace

__all__ = ["write_atomically"]


def write_atomically(path: Path, content: str | bytes) -> None:
    """Write ``content`` to ``path`` through a temporary file beside it, so a reader never
    sees half a file and a failure leaves the old file as it was."""
    folder = path.resolve().parent
    if not folder.is_dir():
        raise InputError(f"cannot write {path}: folder {folder} does not exist")
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content.encode("utf-8") if isinstance(content, str) else content)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


@app.command()
def brief(
    week: Annotated[
        str | None,
        typer.Option(
            help="The meeting's week: a day in it (YYYY-MM-DD) or an ISO week such as 2024-W27 "
            "(default: the current meeting)."
        ),
    ] = None,
    format: Annotated[
        str | None,
        typer.Option(
            "--format", help="html, md, pdf or json (default: from --out's suffix, else html)."
        ),
    ] = None,
    out_path: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="File to write (default: brief-WEEK.FORMAT here; md and json print when "
            "neither --out nor a file is wanted: --out -).",
        ),
    ] = None,
) -> None:
    """The weekly brief: revenue vs goal, big deals, risks, initiatives, issues, then what
    changed, the "next quarter" ledger and the mix, with the items carried from last week."""
    from quarterdeck.report import FORMATS, format_of, render

    fmt: Any
    if format is not None:
        fmt = {"markdown": "md", "htm": "html"}.get(format.lower(), format.lower())
        if fmt not in set(FORMATS.values()):
            raise InputError(f"--format {format!r}: expected html, md, pdf or json")
    elif out_path is not None and str(out_path) != "-":
        fmt = format_of(out_path)
    else:
        fmt = "html"
    if str(out_path) == "-" and fmt == "pdf":
        raise InputError("--out -: a PDF cannot be printed to the terminal; name a file")
    with Workspace(state.db, read_only=True) as ws:
        result = ws.brief(week)
        document = ws.brief_document(result)
    content = render(document, fmt)
    if str(out_path) == "-":
        assert isinstance(content, str)
        out.print(content, markup=False, highlight=False, soft_wrap=True)
        return
    target = out_path or Path(f"brief-{result.week.label}.{fmt}")
    write_atomically(target, content)
    out.print(
        f"Wrote the brief for week {result.week.label} ({result.period.label}, numbers as of "
        f"{result.as_of:%Y-%m-%d %H:%M}) to {target}",
        markup=False,
        highlight=False,
    )


settings_app = typer.Typer(
    no_args_is_help=True,
    help="Settings kept in the database: risk thresholds, big-deal size, target mix.",
)
app.add_typer(settings_app, name="settings")


@settings_app.command("show")
def settings_show(json_out: JsonOption = False) -> None:
    """Every setting with its value, where the value comes from, and what it means."""
    from quarterdeck.settings import SETTINGS, env_name

    with Workspace(state.db, read_only=True) as ws:
        values = ws.settings.values()
        stored = ws.settings.stored()
    if json_out:
        out.print_json(json.dumps(values))
        return
    table = Table(show_lines=False)
    for column in ("setting", "value", "from", "meaning"):
        table.add_column(column, overflow="fold")
    for key, setting in SETTINGS.items():
        source = (
            "environment"
            if env_name(key) in os.environ
            else "database"
            if key in stored
            else "default"
        )
        table.add_row(key, json.dumps(values[key]), source, setting.help)
    out.print(table)


@settings_app.command("set")
def settings_set(
    key: Annotated[str, typer.Argument(help="Setting name, such as risk.quiet_days.")],
    value: Annotated[
        str, typer.Argument(help='Value as JSON: 21, 0.8, {"new_business": 0.6, ...}.')
    ],
) -> None:
    """Store a setting's value in the database."""
    with Workspace(state.db) as ws:
        typed = ws.settings.set(key, value)
    out.print(f"{key} = {json.dumps(typed)}", markup=False, highlight=False)


@settings_app.command("unset")
def settings_unset(
    key: Annotated[str, typer.Argument(help="Setting name.")],
) -> None:
    """Remove a setting's stored value, so its default applies again."""
    from quarterdeck.settings import SETTINGS

    with Workspace(state.db) as ws:
        ws.settings.set(key, None)
    out.print(
        f"{key} is back to its default: {json.dumps(SETTINGS[key].default)}",
        markup=False,
        highlight=False,
    )
