"""Points in time as people and stores write them: ISO 8601, and UTC wherever no zone is given;
and the times people type into filters (`2d`, `3h`, `yesterday`), read by one parser
(`when_given`) for the API, the command line and the web page alike."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from .errors import InvalidMoment

_AGO = re.compile(r"(\d{1,9})\s*(s|m|h|d|w)", re.ASCII)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
FORMS = "2d, 3h, 45m, 30s, 1w, now, today, yesterday, or an ISO date or time (2026-01-31)"
"""What `when_given` accepts, as its error and the command line's help say it."""


def aware(moment: datetime) -> datetime:
    """`moment`, in UTC if it names no zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def parse_moment(text: str) -> datetime:
    """An ISO date or date-time as an aware datetime; `ValueError` if `text` is neither."""
    iso = text[:-1] + "+00:00" if text.endswith("Z") else text  # Python 3.10 wants +00:00
    return aware(datetime.fromisoformat(iso))


def when_given(text: str, field: str, now: datetime | None = None) -> datetime:
    """A time a person typed for `field`: an amount of time ago (`2d`, `3h`, `45m`, `30s`,
    `1w`), `now`, `today` or `yesterday` (midnight in the local zone, `TZ`, which is the
    day the person means), or an ISO date or time (UTC when it names no zone, as recorded).

    `InvalidMoment` names the field and the forms it accepts; `now` is for tests. A time
    whose zone puts it outside datetime's years 1 to 9999 in UTC is refused here too, as
    every query compares times in UTC and would otherwise overflow there."""
    try:
        moment = _read(text, now)
    except (ValueError, OverflowError):
        raise InvalidMoment(f"{field} {text!r:.60} is not a time; write {FORMS}") from None
    try:
        moment.astimezone(timezone.utc)
    except OverflowError:
        raise InvalidMoment(
            f"{field} {text!r:.60} is outside the years 1 to 9999 in UTC; write a time within them"
        ) from None
    return moment


def _read(text: str, now: datetime | None) -> datetime:
    """`when_given`'s reading of `text`; `ValueError` or `OverflowError` if it is no time."""
    typed = text.strip().lower()
    at = (now or datetime.now(timezone.utc)).astimezone()
    ago = _AGO.fullmatch(typed)
    if ago:
        return at - timedelta(**{_UNITS[ago.group(2)]: int(ago.group(1))})
    if typed == "now":
        return at
    if typed in ("today", "yesterday"):
        day = at.date() - timedelta(days=int(typed == "yesterday"))
        return datetime(day.year, day.month, day.day).astimezone()  # that day's own offset
    return parse_moment(text.strip())
