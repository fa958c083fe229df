"""Cron schedules of connections: five fields (or ``@hourly`` ...), evaluated in UTC."""

from __future__ import annotations

from croniter import croniter
from pydantic_core import PydanticCustomError

CRON_ALIASES = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
#: The fix shown for every bad schedule.
CRON_HINT = (
    'five fields "minute hour day-of-month month day-of-week" evaluated in UTC, '
    'e.g. "*/15 * * * *" (every 15 minutes) or "0 3 * * *" (03:00 UTC daily), '
    "or one of " + ", ".join(sorted(CRON_ALIASES)) + "; quote it in YAML"
)


def validate_schedule(expression: str) -> str:
    """Return ``expression`` if it is a 5-field cron expression (or ``@hourly``...).

    Six-field (seconds) and seven-field (year) forms that croniter also accepts
    are refused: schedules are minute-grained and evaluated in UTC.
    """
    text = expression.strip()
    fields = text.split()
    if text.lower() in CRON_ALIASES:
        return text.lower()
    if len(fields) != 5:
        raise PydanticCustomError(
            "cron",
            "not a cron expression: it has {count} field(s), a schedule needs exactly 5",
            {"count": len(fields)},
        )
    if not croniter.is_valid(text):
        raise PydanticCustomError("cron", "not a valid cron expression", {})
    return " ".join(fields)
