"""The documents a user reads stay true to the code: every command in the README, every
term the CLI prints in the glossary, every canonical column described."""

from __future__ import annotations

import re

from testdata import ROOT

from quarterdeck.cli import app
from quarterdeck.model import TABLES

README = (ROOT / "README.md").read_text(encoding="utf-8")
GLOSSARY = (ROOT / "GLOSSARY.md").read_text(encoding="utf-8")


def _commands() -> list[str]:
    names = []
    for command in app.registered_commands:
        name = command.name or command.callback.__name__.rstrip("_").replace("_", "-")
        names.append(name)
    return names


def test_readme_lists_every_command() -> None:
    commands = _commands()
    assert {"import", "status", "simulate", "demo", "bookings", "win-rate", "pipeline"} <= set(
        commands
    )
    for name in commands:
        assert re.search(rf"`{re.escape(name)}\b", README), f"README does not describe `{name}`"


def test_glossary_defines_the_words_the_cli_prints() -> None:
    defined = set(re.findall(r"^\*\*([^*.]+)", GLOSSARY, flags=re.MULTILINE))
    printed = [
        "Bookings", "Target", "Attainment", "Gap", "Win rate", "Open pipeline", "Stage",
        "Motion", "Forecast category", "Deal event", "As of", "Import", "Reject", "Note (import)",
        # the brief
        "Brief", "Revenue vs goal", "Pace", "Coverage", "Overdue", "Big deal", "Age", "Risk",
        "Stalled", "Value at risk", "Item", "Side", "Carried item", "Meeting", "Forecast call",
        "Pipeline change (waterfall)", "Slip", "Promise", "Mix", "Deal-size band",
        "Concentration", "Amounts in the brief",
        # the forecast
        "Forecast", "Forecast accuracy", "Arrivals", "Backtest", "Brier score",
        "Calibration error (ECE)", "Conversion (forecast)", "Deal model", "P10, P50, P90",
        "Range (forecast)", "Run rate", "Season", "Stage-weighted forecast", "WAPE",
    ]  # fmt: skip
    missing = [term for term in printed if term not in defined]
    assert not missing, f"GLOSSARY.md lacks {missing}"


def test_every_canonical_column_is_described() -> None:
    for table in TABLES.values():
        assert table.help
        for column in table.columns:
            assert column.help.strip(), f"{table.name}.{column.name} has no help text"
