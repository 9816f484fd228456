"""Calibration figures of a simulated export, set beside the public Maven CRM data set.

Run `python -m quarterdeck.simulate.calibration OUT_DIR [MAVEN_DIR]` on a folder written by
`simulate`; it prints win rates by motion and segment, cycle medians, won-deal sizes and
slip counts, and the same engage-to-close and won-value figures for Maven's
`sales_pipeline.csv` when its folder is given. The figures in this package's docstring come
from this command.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv


def _day_numbers(column: pa.ChunkedArray) -> np.ndarray:
    """Days since 1970 of a date or timestamp column, whichever type the reader inferred."""
    if pa.types.is_string(column.type):
        column = pc.strptime(pc.utf8_slice_codeunits(column, 0, 10), format="%Y-%m-%d", unit="s")
    seconds = pc.cast(pc.cast(column, pa.timestamp("s")), pa.int64()).to_numpy(False)
    return seconds // 86_400


def _days(start: pa.ChunkedArray, end: pa.ChunkedArray) -> np.ndarray:
    return (_day_numbers(end) - _day_numbers(start)).astype(np.float64)


def _won_values(values: np.ndarray) -> str:
    top = np.sort(values)[::-1]
    share = top[: max(1, top.size // 10)].sum() / top.sum()
    p10, p50, p90 = np.percentile(values, [10, 50, 90])
    return (f"p10 {p10:,.0f} / median {p50:,.0f} / p90 {p90:,.0f} / mean {values.mean():,.0f}; "
            f"top 10% of wins hold {share:.0%} of won value")  # fmt: skip


def report(out_dir: Path, maven_dir: Path | None = None) -> list[str]:
    """Lines of calibration figures for an export folder (and Maven, if given)."""
    opp = pacsv.read_csv(out_dir / "Opportunity.csv")
    closed = np.asarray(opp["IsClosed"].to_numpy(False)) == 1
    won = np.asarray(opp["IsWon"].to_numpy(False)) == 1
    kind = np.asarray(opp["Type"].to_pylist())
    segment_of = dict(
        zip(
            *(
                pacsv.read_csv(out_dir / "Account.csv")
                .select(["Id", "Segment__c"])
                .to_pydict()
                .values()
            ),
            strict=True,
        )
    )
    segment = np.asarray([segment_of[a] for a in opp["AccountId"].to_pylist()])
    cycle = _days(opp["CreatedDate"], opp["CloseDate"])
    amount = opp["Amount"].to_numpy(False).astype(np.float64)
    lines = [f"deals {len(opp):,}; open {int((~closed).sum()):,}"]
    for k in np.unique(kind):
        m = closed & (kind == k)
        lines.append(f"win rate by count, {k}: {won[m].mean():.1%} of {int(m.sum()):,} closed")
    for s in ("SMB", "Mid-Market", "Enterprise"):
        m = closed & (kind == "New Customer") & (segment == s)
        lines.append(
            f"new business {s}: win rate {won[m].mean():.1%}, median days created->close "
            f"won {np.median(cycle[m & won]):.0f} / lost {np.median(cycle[m & ~won]):.0f}, "
            f"median won amount {np.median(amount[m & won]):,.0f}"
        )
    m = closed & (kind == "New Customer")
    lines.append(f"new business median days created->close (won+lost): {np.median(cycle[m]):.0f}")
    lines.append("won amounts, all motions: " + _won_values(amount[won]))
    if maven_dir is not None:
        mv = pacsv.read_csv(maven_dir / "sales_pipeline.csv")
        stage = np.asarray(mv["deal_stage"].to_pylist())
        done = (stage == "Won") | (stage == "Lost")
        days = _days(mv["engage_date"].filter(done), mv["close_date"].filter(done))
        mwon = stage[done] == "Won"
        value = mv["close_value"].filter(done).to_numpy(False).astype(np.float64)
        lines.append(
            f"Maven: win rate {mwon.mean():.1%} of {int(done.sum()):,} closed; median days "
            f"engage->close {np.median(days):.0f} (won {np.median(days[mwon]):.0f} / lost "
            f"{np.median(days[~mwon]):.0f}); won values " + _won_values(value[mwon])
        )
    return lines


def main() -> None:
    """Print the figures for the folders named on the command line."""
    out = Path(sys.argv[1])
    maven = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    print("\n".join(report(out, maven)))


if __name__ == "__main__":
    main()
