"""The ``quarterdeck`` command: parses flags, calls the Workspace, renders the result.

No SQL and no business rules live here. Every ``QuarterdeckError`` is printed as one line
(plus any detail lines it carries) and the command exits non-zero without a traceback.
One module per group of commands; ``common`` holds what they share.
"""

from __future__ import annotations

import sys

import typer

from quarterdeck.cli import (  # noqa: F401  (registers the commands)
    brief,
    data,
    forecast,
    meeting,
    metrics,
    serve,
    users,
)
from quarterdeck.cli.common import app, err
from quarterdeck.errors import InternalError, QuarterdeckError

__all__ = ["app", "main"]


def main() -> None:
    """Entry point: run the app, turning known errors into one clean line."""
    try:
        app(standalone_mode=False)
    except QuarterdeckError as exc:
        err.print(f"[red]error[/]: {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # usage errors of click (or Typer's own copy of it), and bugs
        show = getattr(exc, "show", None)
        if callable(show) and isinstance(getattr(exc, "exit_code", None), int):
            show()
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        wrapped = InternalError(f"unexpected {type(exc).__name__}: {exc}")
        err.print(f"[red]internal error[/]: {wrapped} (please report this with the command)")
        sys.exit(wrapped.exit_code)
