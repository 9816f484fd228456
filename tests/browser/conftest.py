"""Fixtures of the browser tests: the served company (``served``) on each engine, and
Chromium."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from served import Company, company_in, free_port


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def company(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Company]:
    """The app serving a simulated company, once on each engine."""
    uvicorn = pytest.importorskip("uvicorn", reason="pip install 'quarterdeck[web]'")
    from quarterdeck.web import create_app

    folder = tmp_path_factory.mktemp(f"served-{request.param}")
    if request.param == "postgres":
        db = request.getfixturevalue("postgres_database")
    else:
        db = str(folder / "q.duckdb")
    reps, logins, facts = company_in(db, folder)
    port = free_port()
    app = create_app(db)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the web app did not start within 30 s")
        time.sleep(0.05)
    yield Company(db, f"http://127.0.0.1:{port}", request.param, reps, logins, facts)
    server.should_exit = True
    thread.join(timeout=10)
    app.state.hub.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium (installed by make), headless, through Playwright."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("Chromium is not installed: run 'apt-get install chromium' (make does it)")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, company: Company) -> Iterator[Any]:
    """A fresh browser tab (no cookies) that records every console error and script error;
    the test fails afterwards if the Content-Security-Policy refused anything or a script
    failed."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(f"script error: {e}"))
    yield tab
    context.close()
    refused = [e for e in errors if "Content Security Policy" in e or e.startswith("script error")]
    assert not refused, refused
    company.console.extend(errors)
