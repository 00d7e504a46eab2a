"""Human-readable listing of a sync's plan, for --dry-run and held syncs."""

from __future__ import annotations

from mock_esd_sync.plan import Plan


def plan_listing(plan: Plan, limit: int = 50) -> str:
    """The first student changes of a plan, one per line, for --dry-run and held syncs."""
    lines = [f"  {'+'.join(c.kinds):20} {c.after.operoo_id:22} {c.reason}" for c in plan.students[:limit]]
    if len(plan.students) > limit:
        lines.append(f"  ... and {len(plan.students) - limit} more student changes (--json lists them all)")
    return "\n".join(lines)
