"""Points in time as people and stores write them: ISO 8601, and UTC wherever no zone is given."""

from __future__ import annotations

from datetime import datetime, timezone


def aware(moment: datetime) -> datetime:
    """`moment`, in UTC if it names no zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def parse_moment(text: str) -> datetime:
    """An ISO date or date-time as an aware datetime; `ValueError` if `text` is neither."""
    iso = text[:-1] + "+00:00" if text.endswith("Z") else text  # Python 3.10 wants +00:00
    return aware(datetime.fromisoformat(iso))
