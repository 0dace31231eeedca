"""Periods in days and months as Chinese law counts them (民法典 §200–§204).

- Days are calendar days in Beijing time (UTC+8, no daylight saving).
- The day on which the event happens is not counted: a period of ``n`` days that starts
  with an event on day ``D`` runs over days ``D+1 … D+n``.
- A period ends at 24:00 of its last day, i.e. at 00:00 Beijing time of the following day:
  ``end_of_period_ms`` returns that instant, and an act is in time when ``t < end``.
- A period in months ends on the day of the last month that corresponds to the event's
  day, or on that month's last day when it has no such day (31 Jan + 1 month → 28/29 Feb).

Statutory rule that a period ending on a public holiday extends to the next working day
(§203) is NOT applied: the chain has no holiday calendar; parameters are in calendar days.
All arithmetic is on integers (milliseconds since the Unix epoch), no clock is read.
"""

from __future__ import annotations

import datetime

BEIJING_OFFSET_MS = 8 * 3600 * 1000
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000
_EPOCH_DAY = datetime.date(1970, 1, 1).toordinal()


def beijing_day(t_ms: int) -> int:
    """The Beijing calendar day of an instant, as days since 1970-01-01."""
    return (t_ms + BEIJING_OFFSET_MS) // DAY_MS


def start_of_day_ms(day: int) -> int:
    """00:00 Beijing time of ``day`` (days since 1970-01-01)."""
    return day * DAY_MS - BEIJING_OFFSET_MS


def beijing_date(t_ms: int) -> datetime.date:
    """The Beijing calendar date of an instant."""
    return datetime.date.fromordinal(_EPOCH_DAY + beijing_day(t_ms))


def ms_of_beijing(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> int:
    """The instant of a Beijing wall-clock time (tests, genesis files, demos)."""
    days = datetime.date(year, month, day).toordinal() - _EPOCH_DAY
    return start_of_day_ms(days) + hour * HOUR_MS + minute * MINUTE_MS + second * 1000


def end_of_period_ms(event_ms: int, days: int) -> int:
    """24:00 Beijing time of the ``days``-th day after the event's day.

    Example: an event at 2024-03-01 15:00 (Beijing) with a 3-day period ends at
    2024-03-05 00:00 Beijing time (= 24:00 of 2024-03-04).
    """
    if days < 0:
        raise ValueError("a period has a non-negative number of days")
    return start_of_day_ms(beijing_day(event_ms) + days + 1)


def end_of_months_ms(event_ms: int, months: int) -> int:
    """24:00 Beijing time of the day ``months`` months after the event's day (§202)."""
    if months < 0:
        raise ValueError("a period has a non-negative number of months")
    d = beijing_date(event_ms)
    month_index = d.year * 12 + (d.month - 1) + months
    year, month0 = divmod(month_index, 12)
    last_day = _days_in_month(year, month0 + 1)
    last = datetime.date(year, month0 + 1, min(d.day, last_day))
    return start_of_day_ms(last.toordinal() - _EPOCH_DAY + 1)


def days_between(earlier_ms: int, later_ms: int) -> int:
    """Calendar days from the earlier instant's day to the later one's, the first not counted.

    ``days_between(a, b) >= n`` is the rule "b is at least n days after a" in the usual
    sense of the procurement laws (发出之日起至截止之日止不少于 n 日): an issue on 1 March
    and a deadline any time on 21 March are 20 days apart. Negative when ``later`` is on
    an earlier day.
    """
    return beijing_day(later_ms) - beijing_day(earlier_ms)


def within_days(event_ms: int, days: int, t_ms: int) -> bool:
    """True when ``t`` falls before the end of a ``days``-day period starting at the event."""
    return t_ms < end_of_period_ms(event_ms, days)


def _days_in_month(year: int, month: int) -> int:
    if month == 12:
        return 31
    first_next = datetime.date(year, month + 1, 1)
    return (first_next - datetime.timedelta(days=1)).day
