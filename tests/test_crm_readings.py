"""Readings shared by the CRM importers, on values a person chose to cover each rule."""

from __future__ import annotations

import pyarrow as pa

from quarterdeck.sources.crm import motion_of, role_of, size_band


def test_roles_from_titles() -> None:
    titles = pa.array(
        ["CEO", "President", "Vice President", "VP Sales", "Sales Manager",
         "Account Executive", "Sales Operations Analyst", "Salesforce Admin", None, "Founder & CEO"]
    )  # fmt: skip
    assert role_of(titles).to_pylist() == [
        "ceo", "ceo", "leader", "leader", "manager", "rep", "analyst", "admin", "rep", "ceo",
    ]  # fmt: skip


def test_motions_from_deal_types() -> None:
    kinds = pa.array(
        ["New Customer", "Existing Customer - Upgrade", "Existing Customer - Renewal",
         "Existing Customer - Downgrade", "newbusiness", "existingbusiness", "Partner", None]
    )  # fmt: skip
    assert motion_of(kinds).to_pylist() == [
        "new_business", "expansion", "renewal", "renewal", "new_business", "expansion", None, None,
    ]  # fmt: skip


def test_size_bands_at_their_edges() -> None:
    employees = pa.array([1, 99, 100, 999, 1000, 9999, 10000, None], pa.float64())
    assert size_band(employees).to_pylist() == [
        "1-99", "1-99", "100-999", "100-999", "1000-9999", "1000-9999", "10000+", None,
    ]  # fmt: skip
