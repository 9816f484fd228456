"""Targets and planning: the goals the numbers are measured against."""

from __future__ import annotations

from quarterdeck.planning.targets import TARGET_SCOPE_NAMES, TargetLine, set_target, targets

__all__ = ["TARGET_SCOPE_NAMES", "TargetLine", "set_target", "targets"]
