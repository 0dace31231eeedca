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
All arithmetic is on integers (milliseconds since the Unix epoch), no clock is read; the
calendar conversions are the proleptic Gregorian ones, written out on integers so that no
date library (and no time zone database) is involved.
"""

from __future__ import annotations

from typing import NamedTuple

BEIJING_OFFSET_MS = 8 * 3600 * 1000
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000


class Date(NamedTuple):
    """A calendar date; ``str`` gives ``YYYY-MM-DD``."""

    year: int
    month: int
    day: int

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    if not (1 <= month <= 12 and 1 <= day <= _days_in_month(year, month)):
        raise ValueError(f"no such date: {year}-{month}-{day}")
    y = year - 1 if month <= 2 else year
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def civil_from_days(days: int) -> Date:
    """The proleptic Gregorian date ``days`` days after 1970-01-01."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return Date(yoe + era * 400 + (1 if month <= 2 else 0), month, day)


def beijing_day(t_ms: int) -> int:
    """The Beijing calendar day of an instant, as days since 1970-01-01."""
    return (t_ms + BEIJING_OFFSET_MS) // DAY_MS


def start_of_day_ms(day: int) -> int:
    """00:00 Beijing time of ``day`` (days since 1970-01-01)."""
    return day * DAY_MS - BEIJING_OFFSET_MS


def beijing_date(t_ms: int) -> Date:
    """The Beijing calendar date of an instant."""
    return civil_from_days(beijing_day(t_ms))


def shown(t_ms: int) -> str:
    """An instant as a refusal names it: the Beijing date and time, then the Unix ms the
    arguments take (``2027-06-01 00:00 Beijing (1811779200000)``)."""
    day = beijing_day(t_ms)
    minutes = (t_ms + BEIJING_OFFSET_MS - day * DAY_MS) // MINUTE_MS
    return f"{civil_from_days(day)} {minutes // 60:02d}:{minutes % 60:02d} Beijing ({t_ms})"


def ms_of_beijing(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> int:
    """The instant of a Beijing wall-clock time (tests, genesis files, demos)."""
    start = start_of_day_ms(days_from_civil(year, month, day))
    return start + hour * HOUR_MS + minute * MINUTE_MS + second * 1000


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
    return start_of_day_ms(days_from_civil(year, month0 + 1, min(d.day, last_day)) + 1)


def extended_end_ms(end_ms: int, months: int) -> int:
    """The end of a period that ends at ``end_ms`` (24:00 of its last day), extended by
    ``months``: 24:00 of the same day ``months`` months after that last day. Counting from
    ``end_ms``'s own day (the next one) would add a day (user walk: a year's extension of a
    record ending 2028-12-05 00:00 had to end 2029-12-06 00:00)."""
    return end_of_months_ms(end_ms - 1, months)


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
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31
