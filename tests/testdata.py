"""Where test data lives: small fixtures in the repo, public data sets beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = ROOT / "tests" / "data"
SHARED_DATA = ROOT.parent / "shared" / "data"

needs_shared_data = pytest.mark.skipif(
    not SHARED_DATA.exists(),
    reason=f"public data sets not present at {SHARED_DATA} (they sit beside the repo in CI)",
)
