"""Salesforce-looking record ids, built vectorised.

A Salesforce id is a 3-character key prefix naming the object (005 User, 006 Opportunity,
...), 12 case-sensitive characters, and a 3-character suffix that encodes which of the first
15 characters are upper case, so that the id survives case-insensitive tools. Importers may
check that suffix, so the simulator computes it the way Salesforce does.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_BASE62 = np.frombuffer(
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8
)
_SUFFIX = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", dtype=np.uint8)
_POD = b"Qd0"  # stands where a real org has its instance/pod characters
_DIGITS = 9  # 62**9 numbers per object: far beyond any simulated size


def sf_ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    """Return 18-character ids for the given non-negative record numbers of one object."""
    nums = np.asarray(numbers, dtype=np.int64)
    n = nums.shape[0]
    chars = np.empty((n, 18), dtype=np.uint8)
    head = np.frombuffer(prefix.encode("ascii") + _POD, dtype=np.uint8)
    chars[:, : head.size] = head
    # A fixed odd multiplier spreads consecutive numbers over the id space, as real ids look.
    rest = (nums * 48_271 + 1_000_003) % (62**_DIGITS)
    for pos in range(14, 14 - _DIGITS, -1):
        chars[:, pos] = _BASE62[rest % 62]
        rest //= 62
    upper = (chars[:, :15] >= ord("A")) & (chars[:, :15] <= ord("Z"))
    weights = np.array([1, 2, 4, 8, 16], dtype=np.int64)
    for chunk in range(3):
        bits = upper[:, chunk * 5 : chunk * 5 + 5].astype(np.int64) @ weights
        chars[:, 15 + chunk] = _SUFFIX[bits]
    raw = chars.view("S18").ravel()
    return pa.array(raw, type=pa.binary(18)).cast(pa.binary()).cast(pa.string())
