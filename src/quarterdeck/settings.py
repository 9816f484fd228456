"""Settings: typed values with defaults and help text, kept in the database.

Every setting is declared once in ``SETTINGS`` with its type, default and help. A value is
read from, in rising order of precedence: the default, the ``settings`` table of the
database (``quarterdeck settings set KEY VALUE``), and the environment variable named
``QUARTERDECK_`` + the key in capitals with dots as double underscores (for example
``QUARTERDECK_RISK__QUIET_DAYS=21``). Values are JSON; a bad value is refused with the key,
the value and what was expected.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from quarterdeck.errors import ConfigError, InputError
from quarterdeck.model import MOTIONS, TABLES
from quarterdeck.store import Store

__all__ = ["SETTINGS", "SIZE_BANDS", "Setting", "Settings", "env_name"]

SIZE_BANDS = ("small", "mid", "big")
"""Deal-size bands of the mix, smallest first."""


def _number(low: float, high: float | None = None) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("expected a number")
        if value < low or (high is not None and value > high):
            bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
            raise ValueError(f"expected a number {bound}")
        return float(value)

    return check


def _whole(low: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"expected a whole number of at least {low}")
        return value

    return check


def _optional(inner: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        return None if value is None else inner(value)

    return check


def _shares(keys: tuple[str, ...]) -> Callable[[Any], dict[str, float] | None]:
    """A target mix: a share per key, each 0 to 1, adding up to 1 (within half a point)."""

    def check(value: Any) -> dict[str, float] | None:
        if value is None:
            return None
        if not isinstance(value, dict) or not value:
            raise ValueError(f"expected an object of shares such as {{{keys[0]!r}: 0.6, ...}}")
        unknown = sorted(set(value) - set(keys))
        if unknown:
            raise ValueError(f"unknown {', '.join(unknown)}: expected keys among {', '.join(keys)}")
        shares = {k: _number(0, 1)(value.get(k, 0)) for k in keys}
        if abs(sum(shares.values()) - 1) > 0.005:
            raise ValueError(f"shares add up to {sum(shares.values()):g}, not 1")
        return shares

    return check


def _bounds(value: Any) -> list[float] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        or not 0 < value[0] < value[1]
    ):
        raise ValueError("expected [mid_from, big_from], two amounts with 0 < mid_from < big_from")
    return [float(v) for v in value]


@dataclass(frozen=True)
class Setting:
    """One setting: its key, default, help text and the check that types a raw value."""

    key: str
    default: Any
    help: str
    check: Callable[[Any], Any]


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        Setting(
            "big_deals.quantile",
            0.9,
            "A deal is big from this quantile of the amounts of deals won in the last four "
            "quarters (0.9: the top decile).",
            _number(0, 1),
        ),
        Setting(
            "big_deals.amount",
            None,
            "A fixed amount from which a deal is big; overrides big_deals.quantile.",
            _optional(_number(0)),
        ),
        Setting("big_deals.won_days", 7, "Big deals won in this many past days.", _whole(1)),
        Setting(
            "big_deals.closing_days",
            30,
            "Big open deals expected to close within this many days.",
            _whole(1),
        ),
        Setting(
            "risk.pushes",
            2,
            "A deal is at risk once its close date has been pushed this many times.",
            _whole(1),
        ),
        Setting(
            "risk.stalled_quantile",
            0.75,
            "A deal is stalled when it has been in its stage longer than this share of won "
            "deals stayed there.",
            _number(0, 1),
        ),
        Setting(
            "risk.amount_cut",
            0.2,
            "A deal is at risk when its amount has been cut by this share or more of its "
            "highest value.",
            _number(0, 1),
        ),
        Setting(
            "risk.quiet_days",
            14,
            "A deal is at risk after this many days without any activity.",
            _whole(1),
        ),
        Setting(
            "risk.min_contacts",
            2,
            "A deal is at risk when fewer people than this on the buyer's side are involved.",
            _whole(1),
        ),
        Setting(
            "risk.churn_days",
            365,
            "A renewal is at risk when its account lost a renewal or expansion, or had a "
            "renewal or expansion cut, within this many days.",
            _whole(1),
        ),
        Setting(
            "mix.target_motion",
            None,
            "The agreed mix of bookings by motion, as shares adding up to 1, for example "
            '{"new_business": 0.6, "expansion": 0.25, "renewal": 0.15}.',
            _shares(MOTIONS),
        ),
        Setting(
            "mix.target_size",
            None,
            "The agreed mix of bookings by deal size, as shares adding up to 1, for example "
            '{"small": 0.3, "mid": 0.4, "big": 0.3}.',
            _shares(SIZE_BANDS),
        ),
        Setting(
            "mix.size_bounds",
            None,
            "Deal-size bands as [mid_from, big_from]. Empty: mid from the median won amount "
            "of the last four quarters, big from the big-deal threshold.",
            _bounds,
        ),
        Setting(
            "mix.top_deals",
            5,
            "How many of the largest open deals the forecast concentration counts.",
            _whole(1),
        ),
    )
}


def env_name(key: str) -> str:
    """The environment variable that overrides ``key``: QUARTERDECK_RISK__QUIET_DAYS."""
    return "QUARTERDECK_" + key.upper().replace(".", "__")


def _parse(key: str, raw: Any, where: str) -> Any:
    setting = SETTINGS.get(key)
    if setting is None:
        raise InputError(f"unknown setting {key!r}: expected one of {', '.join(SETTINGS)}")
    try:
        return setting.check(raw)
    except ValueError as exc:
        raise ConfigError(f"setting {key} = {json.dumps(raw)} ({where}): {exc}") from None


def _from_json(key: str, text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise ConfigError(
            f"setting {key} = {text!r} ({where}): not JSON (write text in double quotes)"
        ) from None


class Settings:
    """The settings of one database: read with ``settings[key]``, written with ``set``."""

    def __init__(self, store: Store, environ: Mapping[str, str] | None = None):
        self.store = store
        self.environ = os.environ if environ is None else environ

    def stored(self) -> dict[str, Any]:
        """The values set in the database, typed."""
        table = self.store.table("settings")
        rows = self.store.to_arrow(table.select("key", "value")).to_pylist()
        return {
            r["key"]: _parse(r["key"], _from_json(r["key"], r["value"], "database"), "database")
            for r in rows
            if r["key"] in SETTINGS
        }

    def values(self) -> dict[str, Any]:
        """Every setting's effective value: default < database < environment."""
        values = {key: s.default for key, s in SETTINGS.items()}
        values.update(self.stored())
        for key in SETTINGS:
            text = self.environ.get(env_name(key))
            if text is not None:
                where = f"environment {env_name(key)}"
                values[key] = _parse(key, _from_json(key, text, where), where)
        return values

    def __getitem__(self, key: str) -> Any:
        if key not in SETTINGS:
            _parse(key, None, "")  # raises the unknown-setting error
        return self.values()[key]

    def set(self, key: str, value: Any) -> Any:
        """Store ``value`` (typed, or JSON text) for ``key``; None removes the stored value."""
        if isinstance(value, str):
            value = _from_json(key, value, "given")
        if key not in SETTINGS:
            _parse(key, value, "given")  # raises the unknown-setting error
        typed = None if value is None else _parse(key, value, "given")
        keys = pa.table({"key": [key]})
        with self.store.transaction():
            self.store.delete_matching("settings", self.store.stage(keys))
            if typed is not None:
                row = {
                    "key": key,
                    "value": json.dumps(typed),
                    "updated_at": datetime.now(UTC).replace(tzinfo=None, microsecond=0),
                }
                schema = TABLES["settings"].schema.to_pyarrow()
                self.store.insert("settings", pa.Table.from_pylist([row], schema=schema))
        return typed
