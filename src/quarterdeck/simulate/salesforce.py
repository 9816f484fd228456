"""The Salesforce objects of the export folder: their columns and how rows are rendered.

One function per file; each renders rows in chunks with vectorised string building and hands
them to `export.write_csv`. Column names are the Salesforce API names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quarterdeck.simulate import export as ex
from quarterdeck.simulate.deals import (
    COMPETITORS,
    LEAD_SOURCES,
    LOSS_REASONS,
    MOTIONS,
    PRODUCTS,
    Book,
    Deals,
)  # fmt: skip
from quarterdeck.simulate.ids import sf_ids
from quarterdeck.simulate.lifecycle import (
    CATEGORIES,
    CATEGORY_LABELS,
    CLOSED_LOST,
    CLOSED_WON,
    STAGES,
    History,
)  # fmt: skip
from quarterdeck.simulate.org import FIRST_NAMES, LAST_NAMES, NEVER, ROLES, SEGMENTS, Org
from quarterdeck.simulate.ownership import Ownership
from quarterdeck.simulate.quotas import Quotas
from quarterdeck.simulate.signals import (
    ALL_SUBJECTS,
    CONTACT_ROLES,
    INBOUND,
    TASK_TYPES,
    ContactRoles,
    Tasks,
)
from quarterdeck.simulate.timeline import SECONDS_PER_DAY, Timeline

USER, ACCOUNT, CONTACT, OPPORTUNITY = "005", "001", "003", "006"
HISTORY, FIELD_HISTORY, TASK, CONTACT_ROLE, QUOTA = "008", "017", "00T", "00K", "0J9"

INDUSTRIES = (
    "Technology", "Finance", "Healthcare", "Manufacturing", "Retail", "Education", "Media",
    "Energy", "Transportation", "Telecommunications", "Consulting", "Insurance",
)  # fmt: skip
COUNTRIES = ("United States", "Canada", "United Kingdom", "Germany", "France", "Australia")
COUNTRY_REGION = np.array([0, 0, 1, 1, 1, 2])
COUNTRY_MIX = np.array([0.55, 0.08, 0.14, 0.1, 0.06, 0.07])
REGIONS = ("North America", "EMEA", "APAC")
_NAME_A = (
    "Blue", "North", "Silver", "Bright", "Iron", "Summit", "Cedar", "Harbor", "Apex", "Nimbus",
    "Pioneer", "Granite", "Vector", "Quantum", "Maple", "Atlas", "Beacon", "Crescent",
    "Evergreen", "Falcon", "Golden", "Horizon", "Keystone", "Lakeside", "Meridian", "Oak",
    "Prairie", "Redwood", "Sterling", "Union",
)  # fmt: skip
_NAME_B = (
    "Logistics", "Health", "Systems", "Foods", "Capital", "Energy", "Analytics", "Labs",
    "Retail", "Media", "Robotics", "Insurance", "Partners", "Networks", "Materials", "Motors",
    "Pharma", "Software", "Textiles", "Foundry", "Airlines", "Hotels", "Telecom", "Bank",
)  # fmt: skip
_NAME_C = ("Inc.", "LLC", "Group", "Corp.", "Ltd.", "Co.", "Holdings", "GmbH", "plc", "SA")
_NAME_SUFFIX = ("", " - Expansion", " - Renewal")


NAME_CHOICES = len(_NAME_A) * len(_NAME_B) * len(_NAME_C)


def _names(idx: np.ndarray) -> pa.Array:
    """Company names from three word lists (indices packed in one number)."""
    a = idx % len(_NAME_A)
    b = (idx // len(_NAME_A)) % len(_NAME_B)
    c = (idx // (len(_NAME_A) * len(_NAME_B))) % len(_NAME_C)
    return ex.concat(ex.choose(_NAME_A, a), " ", ex.choose(_NAME_B, b), " ", ex.choose(_NAME_C, c))


def write_users(path: Path, org: Org, timeline: Timeline) -> int:
    """User.csv: everyone, with hire and end dates and the reporting line."""
    n = org.users
    first = np.asarray(FIRST_NAMES)[org.first_name]
    last = np.asarray(LAST_NAMES)[org.last_name]
    email = [f"{f.lower()}.{x.lower()}{i}@quarterdeck-demo.example" for i, (f, x) in
             enumerate(zip(first.tolist(), last.tolist(), strict=True))]  # fmt: skip
    department = [
        org.team_names[t] if t >= 0 else ("Executive" if r == 0 else "Sales")
        for t, r in zip(org.team.tolist(), org.role.tolist(), strict=True)
    ]
    left = org.end != NEVER
    inactive = left & (org.end < timeline.days)
    manager = np.where(org.manager >= 0, org.manager, 0)
    ids = sf_ids(USER, np.arange(n))

    def chunk(lo: int, hi: int) -> dict[str, pa.Array]:
        s = slice(lo, hi)
        return {
            "Id": ids[lo:hi],
            "FirstName": pa.array(first[s].tolist()),
            "LastName": pa.array(last[s].tolist()),
            "Name": pa.array([f"{f} {x}" for f, x in zip(first[s], last[s], strict=True)]),
            "Email": pa.array(email[s]),
            "Title": ex.choose(ROLES, org.role[s]),
            "Department": pa.array(department[s]),
            "ManagerId": pc.if_else(
                pa.array(org.manager[s] >= 0), ids.take(pa.array(manager[s])), ""
            ),
            "IsActive": ex.booleans(~inactive[s]),
            "CreatedDate": ex.timestamps(
                timeline, org.hire[s].astype(np.int64) * SECONDS_PER_DAY + 14 * 3600
            ),
            "Hire_Date__c": ex.dates(timeline, org.hire[s]),
            "End_Date__c": ex.dates(timeline, np.where(left[s], org.end[s], 0), blank=~left[s]),
        }

    columns = ["Id", "FirstName", "LastName", "Name", "Email", "Title", "Department",
               "ManagerId", "IsActive", "CreatedDate", "Hire_Date__c", "End_Date__c"]  # fmt: skip
    return ex.write_csv(path, columns, n, chunk)


def write_accounts(
    path: Path, book: Book, history: History, name_idx: np.ndarray, org: Org,
    timeline: Timeline, rng: np.random.Generator,
) -> int:  # fmt: skip
    """Account.csv: prospects and customers, with segment, size and region."""
    n = book.account_segment.shape[0]
    seg = book.account_segment.astype(np.int64)
    deals = book.deals
    won_now = history.stage[history.last_row] == CLOSED_WON
    customer = np.zeros(n, dtype=bool)
    customer[: book.installed_base] = True
    customer[deals.account[won_now]] = True
    employees = np.round(
        rng.lognormal(np.log(np.array([40.0, 600.0, 8000.0])[seg]), 0.7)
    ).astype(np.int64) + 5  # fmt: skip
    revenue = np.round(employees * rng.uniform(120_000, 260_000, n), -3).astype(np.int64)
    country = np.asarray(rng.choice(len(COUNTRIES), size=n, p=COUNTRY_MIX))
    industry = np.asarray(rng.integers(0, len(INDUSTRIES), n))
    owner = org.owner_at(book.account_seat, np.full(n, timeline.days - 1), rng)
    user_ids = sf_ids(USER, np.arange(org.users))

    def chunk(lo: int, hi: int) -> dict[str, pa.Array]:
        s = slice(lo, hi)
        return {
            "Id": sf_ids(ACCOUNT, np.arange(lo, hi)),
            "Name": _names(name_idx[s]),
            "Type": ex.choose(["Prospect", "Customer - Direct"], customer[s].astype(np.int64)),
            "Industry": ex.choose(INDUSTRIES, industry[s]),
            "BillingCountry": ex.choose(COUNTRIES, country[s]),
            "NumberOfEmployees": ex.integers(employees[s]),
            "AnnualRevenue": ex.integers(revenue[s]),
            "OwnerId": user_ids.take(pa.array(owner[s])),
            "CreatedDate": ex.timestamps(timeline, book.account_created[s]),
            "Segment__c": ex.choose(SEGMENTS, seg[s]),
            "Region__c": ex.choose(REGIONS, COUNTRY_REGION[country[s]]),
        }

    columns = ["Id", "Name", "Type", "Industry", "BillingCountry", "NumberOfEmployees",
               "AnnualRevenue", "OwnerId", "CreatedDate", "Segment__c", "Region__c"]  # fmt: skip
    return ex.write_csv(path, columns, n, chunk)


def write_opportunities(
    path: Path, deals: Deals, history: History, ownership: Ownership, account_names: np.ndarray,
    org: Org, timeline: Timeline, currency: str,
) -> int:  # fmt: skip
    """Opportunity.csv: each deal's state on the export date (its last history row)."""
    n = len(deals)
    last = history.last_row
    stage = history.stage[last]
    amount = history.amount[last]
    prob = history.probability[last]
    horizon = timeline.end_second
    owner_changes = np.where(ownership.changed_at <= horizon, ownership.changed_at, -1)
    modified = np.maximum(history.at[last], owner_changes.max(axis=1))
    owner = ownership.owner_at(np.arange(n), np.full(n, horizon))
    user_ids = sf_ids(USER, np.arange(org.users))
    closed = (stage == CLOSED_WON) | (stage == CLOSED_LOST)
    lost = stage == CLOSED_LOST

    def chunk(lo: int, hi: int) -> dict[str, pa.Array]:
        s = slice(lo, hi)
        cat = history.category[last[s]]
        return {
            "Id": sf_ids(OPPORTUNITY, np.arange(lo, hi)),
            "AccountId": sf_ids(ACCOUNT, deals.account[s]),
            "Name": ex.concat(
                _names(account_names[deals.account[s]]),
                " - ",
                ex.choose(PRODUCTS, deals.product[s]),
                ex.choose(_NAME_SUFFIX, deals.motion[s]),
            ),
            "StageName": ex.choose(STAGES, stage[s]),
            "Amount": ex.integers(amount[s]),
            "Probability": ex.integers(prob[s]),
            "ExpectedRevenue": ex.cents(amount[s] * prob[s]),
            "CloseDate": ex.dates(timeline, history.close_date[last[s]]),
            "Type": ex.choose(MOTIONS, deals.motion[s]),
            "LeadSource": ex.choose(LEAD_SOURCES, deals.lead_source[s]),
            "IsClosed": ex.booleans(closed[s]),
            "IsWon": ex.booleans(stage[s] == CLOSED_WON),
            "ForecastCategory": ex.choose(CATEGORIES, cat),
            "ForecastCategoryName": ex.choose(CATEGORY_LABELS, cat),
            "OwnerId": user_ids.take(pa.array(owner[s])),
            "CreatedDate": ex.timestamps(timeline, deals.created[s]),
            "LastModifiedDate": ex.timestamps(timeline, modified[s]),
            "SystemModstamp": ex.timestamps(timeline, modified[s]),
            "CurrencyIsoCode": ex.choose([currency], np.zeros(hi - lo, dtype=np.int64)),
            "Loss_Reason__c": ex.choose(LOSS_REASONS, np.where(lost[s], deals.loss_reason[s], -1)),
            "Product__c": ex.choose(PRODUCTS, deals.product[s]),
            "Competitor__c": ex.choose(COMPETITORS, deals.competitor[s]),
        }

    columns = ["Id", "AccountId", "Name", "StageName", "Amount", "Probability",
               "ExpectedRevenue", "CloseDate", "Type", "LeadSource", "IsClosed", "IsWon",
               "ForecastCategory", "ForecastCategoryName", "OwnerId", "CreatedDate",
               "LastModifiedDate", "SystemModstamp", "CurrencyIsoCode", "Loss_Reason__c",
               "Product__c", "Competitor__c"]  # fmt: skip
    return ex.write_csv(path, columns, n, chunk)


def write_history(
    path: Path, history: History, ownership: Ownership, org: Org, timeline: Timeline
) -> int:
    """OpportunityHistory.csv: one row per recorded change, full values after it."""
    user_ids = sf_ids(USER, np.arange(org.users))

    def chunk(lo: int, hi: int) -> dict[str, pa.Array]:
        s = slice(lo, hi)
        at = history.at[s]
        by = ownership.owner_at(history.deal[s], at)
        return {
            "Id": sf_ids(HISTORY, np.arange(lo, hi)),
            "OpportunityId": sf_ids(OPPORTUNITY, history.deal[s]),
            "CreatedById": user_ids.take(pa.array(by)),
            "CreatedDate": ex.timestamps(timeline, at),
            "StageName": ex.choose(STAGES, history.stage[s]),
            "Amount": ex.integers(history.amount[s]),
            "ExpectedRevenue": ex.cents(history.amount[s] * history.probability[s]),
            "CloseDate": ex.dates(timeline, history.close_date[s]),
            "Probability": ex.integers(history.probability[s]),
            "ForecastCategory": ex.choose(CATEGORIES, history.category[s]),
            "SystemModstamp": ex.timestamps(timeline, at),
            "IsDeleted": ex.booleans(np.zeros(hi - lo, dtype=bool)),
        }

    columns = ["Id", "OpportunityId", "CreatedById", "CreatedDate", "StageName", "Amount",
               "ExpectedRevenue", "CloseDate", "Probability", "ForecastCategory",
               "SystemModstamp", "IsDeleted"]  # fmt: skip
    return ex.write_csv(path, columns, len(history), chunk)


def write_field_history(path: Path, ownership: Ownership, org: Org, timeline: Timeline) -> int:
    """OpportunityFieldHistory.csv: owner changes (Salesforce stores user ids as values)."""
    deal, slot = ownership.rows(timeline.end_second)
    user_ids = sf_ids(USER, np.arange(org.users))

    def chunk(lo: int, hi: int) -> dict[str, pa.Array]:
        d, k = deal[lo:hi], slot[lo:hi]
        return {
            "Id": sf_ids(FIELD_HISTORY, np.arange(lo, hi)),
            "OpportunityId": sf_ids(OPPORTUNITY, d),
            "CreatedById": user_ids.take(pa.array(ownership.changed_by[d, k])),
            "CreatedDate": ex.timestamps(timeline, ownership.changed_at[d, k]),
            "Field": ex.choose(["Owner"], np.zeros(hi - lo, dtype=np.int64)),
            "OldValue": user_ids.take(pa.array(ownership.old_owner[d, k])),
            "NewValue": user_ids.take(pa.array(ownership.new_owner[d, k])),
        }

    columns = ["Id", "OpportunityId", "CreatedById", "CreatedDate", "Field", "OldValue",
               "NewValue"]  # fmt: skip
    return ex.write_csv(path, columns, deal.shape[0], chunk)


def write_tasks(
    path: Path, tasks: Tasks, deals: Deals, ownership: Ownership, org: Org, timeline: Timeline
) -> int:
    """Task.csv: rep activities (outbound) and buyer engagement (inbound)."""
    user_ids = sf_ids(USER, np.arange(org.users))

    def chunk(lo: int, hi: int) -> dict[str, pa.Array]:
        s = slice(lo, hi)
        deal, at = tasks.deal[s], tasks.at[s]
        return {
            "Id": sf_ids(TASK, np.arange(lo, hi)),
            "WhatId": sf_ids(OPPORTUNITY, deal),
            "AccountId": sf_ids(ACCOUNT, deals.account[deal]),
            "OwnerId": user_ids.take(pa.array(ownership.owner_at(deal, at))),
            "ActivityDate": ex.dates(timeline, at // SECONDS_PER_DAY),
            "CreatedDate": ex.timestamps(timeline, at),
            "Type": ex.choose(TASK_TYPES, tasks.kind[s]),
            "Direction__c": ex.choose(["Outbound", "Inbound"], INBOUND[tasks.kind[s]]),
            "Status": ex.choose(["Completed"], np.zeros(hi - lo, dtype=np.int64)),
            "Subject": ex.choose(ALL_SUBJECTS, tasks.subject[s]),
        }

    columns = ["Id", "WhatId", "AccountId", "OwnerId", "ActivityDate", "CreatedDate", "Type",
               "Direction__c", "Status", "Subject"]  # fmt: skip
    return ex.write_csv(path, columns, len(tasks), chunk)


def write_contact_roles(path: Path, roles: ContactRoles, timeline: Timeline) -> int:
    """OpportunityContactRole.csv: who on the buyer side is on each deal."""

    def chunk(lo: int, hi: int) -> dict[str, pa.Array]:
        s = slice(lo, hi)
        return {
            "Id": sf_ids(CONTACT_ROLE, np.arange(lo, hi)),
            "OpportunityId": sf_ids(OPPORTUNITY, roles.deal[s]),
            "ContactId": sf_ids(CONTACT, roles.contact[s]),
            "Role": ex.choose(CONTACT_ROLES, roles.role[s]),
            "IsPrimary": ex.booleans(roles.primary[s]),
            "CreatedDate": ex.timestamps(timeline, roles.at[s]),
        }

    columns = ["Id", "OpportunityId", "ContactId", "Role", "IsPrimary", "CreatedDate"]
    return ex.write_csv(path, columns, len(roles), chunk)


def write_quotas(path: Path, quotas: Quotas, org: Org, timeline: Timeline, currency: str) -> int:
    """ForecastingQuota.csv: quarterly quotas per rep and the company target."""
    user_ids = sf_ids(USER, np.arange(org.users))

    def chunk(lo: int, hi: int) -> dict[str, pa.Array]:
        s = slice(lo, hi)
        return {
            "Id": sf_ids(QUOTA, np.arange(lo, hi)),
            "QuotaOwnerId": user_ids.take(pa.array(quotas.owner[s])),
            "StartDate": ex.dates(timeline, quotas.start_day[s]),
            "QuotaAmount": ex.integers(quotas.amount[s]),
            "CurrencyIsoCode": ex.choose([currency], np.zeros(hi - lo, dtype=np.int64)),
        }

    columns = ["Id", "QuotaOwnerId", "StartDate", "QuotaAmount", "CurrencyIsoCode"]
    return ex.write_csv(path, columns, len(quotas), chunk)
