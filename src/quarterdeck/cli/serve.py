"""``quarterdeck serve``: the web app (needs the ``web`` extra)."""

from __future__ import annotations

from typing import Annotated

import typer

from quarterdeck.cli.common import app, err, state
from quarterdeck.errors import MissingExtra

__all__ = ["serve"]


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 for every one).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    db: Annotated[
        str | None, typer.Option("--db", help="Database (default: quarterdeck --db, or here).")
    ] = None,
) -> None:
    """The web app: the weekly meeting, pipeline, forecast, imports and settings in a
    browser. Create the first login with `quarterdeck users add EMAIL --admin`. At start
    and after every change it computes each login's first pages ahead (GET /healthz says
    when done). With --db postgresql://... several servers can share one database."""
    try:
        import uvicorn

        from quarterdeck.web import create_app
    except ImportError as exc:
        raise MissingExtra("The web app", "web") from exc
    database = db or state.db
    web = create_app(database, prepare=True)
    err.print(f"Quarterdeck on http://{host}:{port} (database {database}); Ctrl-C stops it")
    uvicorn.run(web, host=host, port=port, log_level="info", proxy_headers=True)
