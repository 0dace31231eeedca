"""Period arithmetic in Beijing time, on concrete dates (民法典 §200–§204)."""

from __future__ import annotations

import pytest

from contracts.periods import (
    DAY_MS,
    beijing_date,
    days_between,
    end_of_months_ms,
    end_of_period_ms,
    ms_of_beijing,
    within_days,
)


def test_beijing_time_is_utc_plus_8() -> None:
    # 2024-03-01 00:00 Beijing = 2024-02-29 16:00 UTC = 1709222400000
    assert ms_of_beijing(2024, 3, 1) == 1_709_222_400_000
    assert str(beijing_date(1_709_222_400_000)) == "2024-03-01"
    assert str(beijing_date(1_709_222_400_000 - 1)) == "2024-02-29"


def test_event_day_is_not_counted_and_period_ends_at_midnight() -> None:
    event = ms_of_beijing(2024, 3, 1, 15, 0)
    assert end_of_period_ms(event, 3) == ms_of_beijing(2024, 3, 5)
    # an event a minute before midnight still belongs to its own day
    assert end_of_period_ms(ms_of_beijing(2024, 3, 1, 23, 59), 3) == ms_of_beijing(2024, 3, 5)
    assert end_of_period_ms(ms_of_beijing(2024, 3, 2, 0, 0), 3) == ms_of_beijing(2024, 3, 6)
    assert end_of_period_ms(event, 0) == ms_of_beijing(2024, 3, 2)


def test_period_crosses_leap_day_and_year_end() -> None:
    assert end_of_period_ms(ms_of_beijing(2024, 2, 20, 10), 20) == ms_of_beijing(2024, 3, 12)
    assert end_of_period_ms(ms_of_beijing(2024, 12, 25, 10), 10) == ms_of_beijing(2025, 1, 5)


def test_within_days_is_strictly_before_the_end() -> None:
    event = ms_of_beijing(2024, 3, 1, 15, 0)
    assert within_days(event, 3, ms_of_beijing(2024, 3, 4, 23, 59))
    assert not within_days(event, 3, ms_of_beijing(2024, 3, 5, 0, 0))


def test_days_between_counts_calendar_days_in_beijing() -> None:
    issue = ms_of_beijing(2024, 3, 1, 9, 0)
    assert days_between(issue, ms_of_beijing(2024, 3, 21, 9, 30)) == 20
    assert days_between(issue, ms_of_beijing(2024, 3, 20, 23, 59)) == 19
    # 2024-03-01 07:00 Beijing is still 2024-02-29 in UTC: Beijing days are what count
    assert days_between(ms_of_beijing(2024, 3, 1, 7, 0), ms_of_beijing(2024, 3, 2, 1, 0)) == 1
    assert days_between(issue, issue - DAY_MS) == -1


def test_months_end_on_the_corresponding_day_or_month_end() -> None:
    assert end_of_months_ms(ms_of_beijing(2024, 3, 15, 10), 3) == ms_of_beijing(2024, 6, 16)
    # 31 January + 1 month: no 31 February, so the last day of February (leap year)
    assert end_of_months_ms(ms_of_beijing(2024, 1, 31, 10), 1) == ms_of_beijing(2024, 3, 1)
    assert end_of_months_ms(ms_of_beijing(2023, 1, 31, 10), 1) == ms_of_beijing(2023, 3, 1)
    assert end_of_months_ms(ms_of_beijing(2023, 1, 30, 10), 1) == ms_of_beijing(2023, 3, 1)
    assert end_of_months_ms(ms_of_beijing(2024, 2, 29, 10), 12) == ms_of_beijing(2025, 3, 1)
    assert end_of_months_ms(ms_of_beijing(2024, 11, 30, 10), 3) == ms_of_beijing(2025, 3, 1)
    assert end_of_months_ms(ms_of_beijing(2024, 5, 10), 36) == ms_of_beijing(2027, 5, 11)


def test_negative_periods_are_refused() -> None:
    with pytest.raises(ValueError):
        end_of_period_ms(0, -1)
    with pytest.raises(ValueError):
        end_of_months_ms(0, -1)


def test_integer_calendar_agrees_with_the_standard_library_over_centuries() -> None:
    import datetime  # the reference only: contracts never import it

    from contracts.periods import civil_from_days, days_from_civil

    epoch = datetime.date(1970, 1, 1).toordinal()
    for days in range(-200_000, 200_000, 97):
        d = datetime.date.fromordinal(epoch + days)
        assert civil_from_days(days) == (d.year, d.month, d.day)
        assert days_from_civil(d.year, d.month, d.day) == days
    for bad in ((2023, 2, 29), (2024, 13, 1), (2024, 4, 31), (2024, 1, 0)):
        with pytest.raises(ValueError):
            days_from_civil(*bad)
