"""The canonical model: every table Quarterdeck keeps, whatever CRM the data came from.

Each table is declared once, as data, with a line of help per column; the store creates
the tables from these declarations and the glossary test checks the help is there.
Money is ``decimal(18, 2)`` so sums are exact to the cent; times are naive UTC.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
import pyarrow as pa

__all__ = [
    "FORECAST_CATEGORIES",
    "MONEY",
    "MOTIONS",
    "ROLES",
    "SCHEMA_VERSION",
    "TABLES",
    "TRACKED_ARROW_TYPES",
    "TRACKED_FIELDS",
    "Column",
    "Table",
]

MONEY = dt.Decimal(18, 2)

MOTIONS = ("new_business", "expansion", "renewal")
"""Acquisition (new logos), growth (expansion of customers) and retention (renewals)."""

ROLES = ("rep", "manager", "leader", "ceo", "analyst", "admin")

FORECAST_CATEGORIES = ("pipeline", "best_case", "commit", "omitted", "closed")

TRACKED_FIELDS = ("stage", "amount", "close_date", "forecast_category", "probability", "owner_id")
"""Deal fields whose every change is kept in ``deal_events``, so any past state can be rebuilt."""

TRACKED_ARROW_TYPES = {
    "stage": pa.string(),
    "amount": pa.decimal128(18, 2),
    "close_date": pa.date32(),
    "forecast_category": pa.string(),
    "probability": pa.float64(),
    "owner_id": pa.string(),
}
"""The Arrow type of each tracked field, for importers and history working on Arrow data."""

SCHEMA_VERSION = 4


@dataclass(frozen=True)
class Column:
    """One column of a canonical table: its name, Ibis type and what it means."""

    name: str
    type: dt.DataType
    help: str
    nullable: bool = True


@dataclass(frozen=True)
class Table:
    """One canonical table: columns in order and the key that identifies a row."""

    name: str
    help: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()

    @property
    def schema(self) -> ibis.Schema:
        return ibis.schema({c.name: c.type.copy(nullable=c.nullable) for c in self.columns})

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _c(name: str, type_: str | dt.DataType, help_: str, nullable: bool = True) -> Column:
    return Column(name, dt.dtype(type_), help_, nullable)


_IMPORT_ID = _c("import_id", "int64", "The import that last wrote this row.")
_CUSTOM = _c(
    "custom", "string", "CRM fields with no canonical place (such as Salesforce __c), as JSON."
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "accounts",
            "Companies that buy or might buy.",
            (
                _c("account_id", "string", "The CRM's id of the account.", False),
                _c("name", "string", "Account name."),
                _c("segment", "string", "Market segment, such as SMB, Mid-Market or Enterprise."),
                _c("industry", "string", "Industry."),
                _c("region", "string", "Sales region or country."),
                _c("size_band", "string", "Company size band by employees."),
                _c("first_won_date", "date", "Close date of the account's first won deal."),
                _c("created_at", "timestamp", "When the account was created in the CRM."),
                _CUSTOM,
                _IMPORT_ID,
            ),
            ("account_id",),
        ),
        Table(
            "users",
            "People who own deals, manage, lead or read the numbers.",
            (
                _c("user_id", "string", "The CRM's id of the user.", False),
                _c("name", "string", "Full name."),
                _c("email", "string", "Email address."),
                _c("role", "string", "rep, manager, leader, ceo, analyst or admin."),
                _c("team", "string", "Sales team name."),
                _c("manager_id", "string", "user_id of the person's manager."),
                _c("hire_date", "date", "First day in the job (ramp counts from here)."),
                _c("end_date", "date", "Last day in the job; empty while employed."),
                _CUSTOM,
                _IMPORT_ID,
            ),
            ("user_id",),
        ),
        Table(
            "deals",
            "Opportunities in their latest known state; their past lives in deal_events.",
            (
                _c("deal_id", "string", "The CRM's id of the deal.", False),
                _c("account_id", "string", "The account the deal is with."),
                _c("owner_id", "string", "user_id of the deal owner."),
                _c("name", "string", "Deal name."),
                _c("motion", "string", "new_business, expansion or renewal."),
                _c("amount", MONEY, "Deal value in its currency."),
                _c("currency", "string", "ISO currency code of the amount."),
                _c("stage", "string", "Sales stage name as the CRM spells it."),
                _c(
                    "forecast_category", "string", "pipeline, best_case, commit, omitted or closed."
                ),
                _c("probability", "float64", "The CRM's win probability, 0 to 1."),
                _c("created_at", "timestamp", "When the deal was created in the CRM."),
                _c("close_date", "date", "Expected close date if open, actual if closed."),
                _c("is_closed", "boolean", "The deal is won or lost."),
                _c("is_won", "boolean", "The deal is won."),
                _c("loss_reason", "string", "Why a lost deal was lost."),
                _c("source", "string", "Lead source."),
                _c("product", "string", "Main product."),
                _c("pipeline", "string", "The CRM pipeline (sales process) the deal is in."),
                _CUSTOM,
                _IMPORT_ID,
            ),
            ("deal_id",),
        ),
        Table(
            "stages",
            "The stages of each pipeline, in order, with what they mean.",
            (
                _c("pipeline", "string", "Pipeline (sales process) name.", False),
                _c("stage", "string", "Stage name.", False),
                _c("sort_order", "int64", "Position in the official process."),
                _c("is_closed", "boolean", "Deals in this stage are closed."),
                _c("is_won", "boolean", "Deals in this stage are won."),
                _c("probability", "float64", "The CRM's default win probability, 0 to 1."),
                _c("forecast_category", "string", "The stage's default forecast category."),
                _IMPORT_ID,
            ),
            ("pipeline", "stage"),
        ),
        Table(
            "deal_events",
            "Every change of a tracked deal field: the history that makes 'as of' possible.",
            (
                _c("deal_id", "string", "The deal that changed.", False),
                _c("at", "timestamp", "When the change happened (or was first seen).", False),
                _c(
                    "field",
                    "string",
                    "stage, amount, close_date, forecast_category, probability or owner_id.",
                    False,
                ),
                _c(
                    "old_value",
                    "string",
                    "Value before the change; empty for a deal's first value.",
                ),
                _c("new_value", "string", "Value after the change."),
                _c(
                    "origin",
                    "string",
                    "history (the CRM's own log), snapshot (diff of two imports) or "
                    "reconstructed (rebuilt from a deal's dates, for an export with no log).",
                ),
                _c(
                    "seq",
                    "int64",
                    "Order of writing, to break ties between changes at the same time.",
                    False,
                ),
                _IMPORT_ID,
            ),
        ),
        Table(
            "activities",
            "Activity and buyer-engagement signals.",
            (
                _c("activity_id", "string", "The CRM's id of the activity.", False),
                _c("deal_id", "string", "The deal it belongs to, if any."),
                _c("account_id", "string", "The account it belongs to, if any."),
                _c("at", "timestamp", "When it happened."),
                _c(
                    "kind",
                    "string",
                    "call, email, meeting, demo, content_view, reply, contact_role...",
                ),
                _c("direction", "string", "outbound (seller acts) or inbound (buyer acts)."),
                _c("who", "string", "The user or contact who acted."),
                _IMPORT_ID,
            ),
            ("activity_id",),
        ),
        Table(
            "targets",
            "Revenue goals per period and scope.",
            (
                _c("period_start", "date", "First day of the period.", False),
                _c("period_end", "date", "Last day of the period.", False),
                _c("scope", "string", "company, team, rep, segment or motion.", False),
                _c(
                    "scope_id",
                    "string",
                    "Which team, rep, segment or motion; empty for company.",
                    False,
                ),
                _c("amount", MONEY, "The goal: closed-won value in the period."),
                _IMPORT_ID,
            ),
            ("period_start", "scope", "scope_id"),
        ),
        Table(
            "forecast_calls",
            "The sales leader's (or a manager's) recorded call for a period.",
            (
                _c("call_id", "string", "Id of the call.", False),
                _c("user_id", "string", "Who made the call."),
                _c("called_at", "timestamp", "When the call was made."),
                _c("period_start", "date", "First day of the period called."),
                _c("period_end", "date", "Last day of the period called."),
                _c("commit", MONEY, "Committed amount (cumulative: includes closed won)."),
                _c("best_case", MONEY, "Best case amount (cumulative)."),
                _c("note", "string", "What the caller said about it."),
            ),
            ("call_id",),
        ),
        Table(
            "forecasts",
            "Forecasts of a period's bookings as they were made: the record that scores them.",
            (
                _c("forecast_id", "string", "Id of the forecast run.", False),
                _c("made_at", "timestamp", "The moment of the data it was made from.", False),
                _c("created_at", "timestamp", "When it was computed."),
                _c("period_start", "date", "First day of the period forecast.", False),
                _c("period_end", "date", "Last day of the period forecast.", False),
                _c("method", "string", "The method (range, deal_model, conversion...).", False),
                _c("chosen", "boolean", "This method's forecast is the product's forecast."),
                _c("forecast", "float64", "The point forecast (the P50 of a range)."),
                _c("p10", "float64", "10th percentile of the range."),
                _c("p90", "float64", "90th percentile of the range."),
                _c("target", "float64", "The company target it was compared with."),
                _c("p_target", "float64", "The chance of making the target, 0 to 1."),
                _c("closed_won", "float64", "Bookings won by the moment it was made."),
                _c("note", "string", "How it was made."),
            ),
            ("forecast_id", "method"),
        ),
        Table(
            "meetings",
            "Weekly CEO and sales-leader meetings.",
            (
                _c("meeting_id", "string", "Id of the meeting.", False),
                _c("week_of", "date", "Monday of the meeting's week."),
                _c("held_at", "timestamp", "When it was marked held; empty while open."),
                _c("notes", "string", "Decisions and notes."),
                _c("created_at", "timestamp", "When the meeting was opened."),
            ),
            ("meeting_id",),
        ),
        Table(
            "items",
            "Risks, initiatives, issues and actions carried from meeting to meeting.",
            (
                _c("item_id", "string", "Id of the item.", False),
                _c("kind", "string", "risk, initiative, issue or action."),
                _c("title", "string", "What it is about."),
                _c("owner_id", "string", "Who owns it."),
                _c("side", "string", "ceo or leader: who raised it."),
                _c("status", "string", "open, done or dropped."),
                _c("due", "date", "Due date."),
                _c("deal_ids", "string", "Linked deals, comma separated."),
                _c("metric", "string", "A metric that shows progress."),
                _c("created_at", "timestamp", "When it was raised."),
                _c("updated_at", "timestamp", "When it last changed."),
                _c("meeting_id", "string", "The meeting it was raised in."),
                _c("closed_at", "timestamp", "When it was marked done or dropped."),
            ),
            ("item_id",),
        ),
        Table(
            "item_updates",
            "Every change to a meeting item: who, when, what it was before and after.",
            (
                _c("item_id", "string", "The item that changed.", False),
                _c("at", "timestamp", "When it changed.", False),
                _c("by", "string", "Who changed it (user id or name)."),
                _c("field", "string", "The field changed, or 'note' for a progress update.", False),
                _c("old_value", "string", "Value before; empty for a new item or a note."),
                _c("new_value", "string", "Value after, or the text of the note."),
                _c("meeting_id", "string", "The meeting during which it changed, if any."),
                _c("seq", "int64", "Order of writing, to break ties in time.", False),
            ),
        ),
        Table(
            "settings",
            "Settings kept in the database, such as risk thresholds and the target mix.",
            (
                _c("key", "string", "Setting name, such as risk.stalled_quantile.", False),
                _c("value", "string", "The value as JSON.", False),
                _c("updated_at", "timestamp", "When it was last set."),
            ),
            ("key",),
        ),
        Table(
            "assessments",
            "Scores from skills and maturity assessments.",
            (
                _c("kind", "string", "leader_skills, maturity or role_matrix.", False),
                _c("rater", "string", "Who rated.", False),
                _c("subject", "string", "Who or what was rated.", False),
                _c("item", "string", "The skill or practice rated.", False),
                _c("score", "float64", "The score."),
                _c("at", "timestamp", "When it was rated.", False),
            ),
        ),
        Table(
            "logins",
            "People who may log in to the web app: their role and the CRM user they are.",
            (
                _c("email", "string", "Email address, lower case: the login's name.", False),
                _c("name", "string", "Name shown in the app."),
                _c("role", "string", "admin, ceo, leader, manager, rep or analyst.", False),
                _c(
                    "user_id",
                    "string",
                    "The CRM user (users.user_id) this login is: whose deals a rep sees.",
                ),
                _c("password_hash", "string", "The password's argon2 hash (never the password)."),
                _c("disabled", "boolean", "The login may no longer log in."),
                _c("created_at", "timestamp", "When the login was added."),
                _c("updated_at", "timestamp", "When the login last changed."),
                _c("last_login_at", "timestamp", "When it last logged in."),
            ),
            ("email",),
        ),
        Table(
            "login_sessions",
            "Web sessions: who is logged in, until when (the token itself is never kept).",
            (
                _c("token_hash", "string", "SHA-256 of the session token, in hex.", False),
                _c("email", "string", "The login the session belongs to.", False),
                _c("csrf", "string", "The session's CSRF token, sent back with every change."),
                _c("created_at", "timestamp", "When the session was opened."),
                _c("last_seen_at", "timestamp", "When the session was last used."),
                _c("expires_at", "timestamp", "When the session ends whatever happens."),
                _c("closed_at", "timestamp", "When it was logged out; empty while open."),
            ),
            ("token_hash",),
        ),
        Table(
            "login_failures",
            "Failed log-ins, kept a while to throttle guessing (per email and per client).",
            (
                _c("email", "string", "The email tried, lower case (known or not).", False),
                _c("client", "string", "Where the attempt came from, such as an IP address."),
                _c("at", "timestamp", "When it failed.", False),
            ),
        ),
        Table(
            "audit_log",
            "Every change to items, calls, meetings, targets, settings and logins.",
            (
                _c("seq", "int64", "Order of writing.", False),
                _c("at", "timestamp", "When the change was made.", False),
                _c("who", "string", "Who made it: the login's email, or the name given."),
                _c(
                    "kind",
                    "string",
                    "What changed: item, call, meeting, target, setting or login.",
                    False,
                ),
                _c("object_id", "string", "Which one: item id, call id, setting key..."),
                _c("action", "string", "add, update, note, close, hold, set, unset..."),
                _c("before", "string", "The object before the change, as JSON; empty if new."),
                _c("after", "string", "The object after the change, as JSON; empty if removed."),
            ),
        ),
        Table(
            "imports",
            "Every import: what was read, what was kept, what was set aside and where.",
            (
                _c("import_id", "int64", "Number of the import.", False),
                _c("format", "string", "Format that was detected or named."),
                _c("paths", "string", "The files read, one per line."),
                _c("file_hash", "string", "SHA-256 over the files read, to spot a re-import."),
                _c("as_of", "timestamp", "The time the data describes (export time)."),
                _c("started_at", "timestamp", "When the import started."),
                _c("finished_at", "timestamp", "When it was committed."),
                _c("rows_read", "int64", "Data rows read from all files."),
                _c("rows_accepted", "int64", "Rows kept."),
                _c("rows_rejected", "int64", "Rows set aside (see rejects_path)."),
                _c("warnings", "int64", "Rows kept with a data-quality warning."),
                _c("rejects_path", "string", "CSV file holding the rejected rows and why."),
                _c("events_added", "int64", "deal_events rows this import added."),
            ),
            ("import_id",),
        ),
    )
}
