"""The Quarterdeck web app (FastAPI, Jinja2, HTMX, Vega-Lite): ``create_app(db)``.

Needs the optional extra ``web`` (``pip install 'quarterdeck[web]'``).
"""

from __future__ import annotations

from quarterdeck.web.app import create_app

__all__ = ["create_app"]
