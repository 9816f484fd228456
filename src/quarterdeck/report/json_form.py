"""A document as JSON-ready data (:meth:`Document.as_dict`): the same content as the other
faces, for machines.

Amounts and ratios are strings of their exact Decimal (``"1234.50"``), so no reader turns
them into floats by accident; counts are numbers; dates and times ISO 8601. Each block has
a ``type`` (table, chart, items, callout; a chart also its ``chart`` kind); each cell its
``value``, the ``text`` the other faces show, its ``deals`` and, when it links to a group
of the appendix, that ``group``'s id.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from quarterdeck.report.document import (
    BarChart,
    Block,
    Cell,
    Column,
    Document,
    ItemList,
    Linked,
    MixChart,
    PaceChart,
    Section,
    Step,
    Table,
    WaterfallChart,
)

__all__ = ["document_dict"]


def document_dict(doc: Document) -> dict[str, Any]:
    """``doc`` as JSON-ready data."""
    return {
        "title": doc.title,
        "subtitle": doc.subtitle,
        "generated_at": doc.generated_at.isoformat(),
        "facts": [{"label": k, "value": v} for k, v in doc.facts],
        "sections": [_section_dict(doc, s) for s in doc.sections],
        "appendix": _appendix_dict(doc),
    }


def _link_dict(doc: Document, linked: Linked) -> dict[str, Any]:
    out: dict[str, Any] = {"deals": list(linked.deals)}
    link = doc.link(linked)
    if link is not None and link.group is not None:
        out["group"] = link.group.id
    return out


def _section_dict(doc: Document, section: Section) -> dict[str, Any]:
    return {
        "id": section.id,
        "title": section.title,
        "paragraphs": list(section.paragraphs),
        "blocks": [_block_dict(doc, b) for b in section.blocks],
    }


def _cell_dict(doc: Document, cell: Cell, column: Column) -> dict[str, Any]:
    return {"value": _json_value(cell.value), "text": column.text(cell.value)} | (
        _link_dict(doc, cell)
    )


def _block_dict(doc: Document, block: Block) -> dict[str, Any]:
    if isinstance(block, Table):
        columns = block.columns
        return {
            "type": "table",
            "caption": block.caption,
            "columns": [{"label": c.label, "kind": c.kind, "align": c.alignment} for c in columns],
            "rows": [
                [_cell_dict(doc, c, col) for c, col in zip(r, columns, strict=True)]
                for r in block.rows
            ],
            "total": None
            if block.total is None
            else [_cell_dict(doc, c, col) for c, col in zip(block.total, columns, strict=True)],
        }
    if isinstance(block, BarChart):
        return {
            "type": "chart",
            "chart": "bar",
            "title": block.title,
            "caption": block.caption,
            "kind": block.kind,
            "bars": [
                {
                    "label": b.label,
                    "value": _json_value(b.value),
                    "target": _json_value(b.target),
                }
                | _link_dict(doc, b)
                for b in block.bars
            ],
        }
    if isinstance(block, WaterfallChart):
        return {
            "type": "chart",
            "chart": "waterfall",
            "title": block.title,
            "caption": block.caption,
            "start": _step_dict(doc, block.start),
            "steps": [_step_dict(doc, s) for s in block.steps],
            "end": _step_dict(doc, block.end),
        }
    if isinstance(block, PaceChart):
        return {
            "type": "chart",
            "chart": "pace",
            "title": block.title,
            "caption": block.caption,
            "start": block.start.isoformat(),
            "end": block.end.isoformat(),
            "as_of": block.as_of.isoformat(),
            "target": _json_value(block.target),
            "booked_to_date": _json_value(block.booked_to_date),
            "pace_to_date": _json_value(block.pace_to_date),
            "booked": [
                {"day": p.day.isoformat(), "booked": _json_value(p.booked)} for p in block.booked
            ],
        } | _link_dict(doc, block)
    if isinstance(block, MixChart):
        return {
            "type": "chart",
            "chart": "mix",
            "title": block.title,
            "caption": block.caption,
            "kind": block.kind,
            "total": _json_value(block.total),
            "parts": [
                {
                    "label": p.label,
                    "amount": _json_value(p.amount),
                    "share": _json_value(block.share(p)),
                    "target_share": _json_value(p.target_share),
                }
                | _link_dict(doc, p)
                for p in block.parts
            ],
        }
    if isinstance(block, ItemList):
        return {
            "type": "items",
            "caption": block.caption,
            "items": [
                {
                    "title": i.title,
                    "status": i.status,
                    "kind": i.kind,
                    "owner": i.owner,
                    "due": _json_value(i.due),
                    "detail": i.detail,
                    "metric": i.metric,
                    "tone": i.tone,
                    "deals": list(i.deals),
                }
                for i in block.items
            ],
        }
    return {"type": "callout", "title": block.title, "text": block.text, "tone": block.tone}


def _step_dict(doc: Document, step: Step) -> dict[str, Any]:
    return {"label": step.label, "amount": _json_value(step.amount)} | _link_dict(doc, step)


def _appendix_dict(doc: Document) -> dict[str, Any] | None:
    if doc.appendix is None:
        return None
    return {
        "title": doc.appendix.title,
        "note": doc.appendix.note,
        "deals": [
            {
                "deal_id": d.deal_id,
                "name": d.name,
                "account": d.account,
                "owner": d.owner,
                "stage": d.stage,
                "amount": _json_value(d.amount),
                "close_date": _json_value(d.close_date),
                "note": d.note,
            }
            for d in doc.appendix.deals
        ],
        "groups": [
            {
                "id": g.id,
                "ref": ref,
                "title": g.title,
                "deal_ids": list(g.deal_ids),
                "more": g.more,
            }
            for ref, g in doc.groups
        ],
    }


def _json_value(value: Decimal | int | str | date | None) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value
