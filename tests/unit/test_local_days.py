"""A class's roll-up keys events by local day: the day an instant falls on in a zone, and each
day's events and time on task."""
from datetime import date, datetime

from reportgen.domain.activity import day_totals
from reportgen.domain.periods import LocalDays, parse_period, parse_window, period_days, to_microseconds

MINUTE = 60_000_000


def us(text: str) -> int:
    return to_microseconds(datetime.fromisoformat(text.replace("Z", "+00:00")))


def day_of(number: int) -> date:
    return date.fromordinal(date(1970, 1, 1).toordinal() + number)


def test_2330_utc_on_30_november_is_1_december_in_berlin_and_30_november_in_utc():
    at = us("2024-11-30T23:30:00Z")
    assert day_of(LocalDays("Europe/Berlin")(at)) == date(2024, 12, 1)
    assert day_of(LocalDays("UTC")(at)) == date(2024, 11, 30)


def test_the_day_clocks_go_forward_in_berlin_ends_after_23_hours():
    days = LocalDays("Europe/Berlin")
    day, ends = days.span(us("2024-03-31T12:00:00Z"))
    assert day_of(day) == date(2024, 3, 31)
    assert ends == us("2024-03-31T22:00:00Z")  # midnight in summer time
    assert days(ends - 1) == day and days(ends) == day + 1


def test_day_totals_count_the_gaps_within_a_day_up_to_the_cutoff():
    times = [us("2024-12-02T10:00:00Z"), us("2024-12-02T10:10:00Z"), us("2024-12-02T12:00:00Z"),
             us("2024-12-02T23:50:00Z"), us("2024-12-03T00:05:00Z")]
    totals = day_totals(times, LocalDays("UTC"), 30 * MINUTE)
    assert sorted(totals.values()) == [[1, 0, times[4], times[4]], [4, 10 * MINUTE, times[0], times[3]]]
    berlin = day_totals(times, LocalDays("Europe/Berlin"), 30 * MINUTE)
    assert [events for events, *_ in berlin.values()] == [3, 2]  # 23:50 UTC is 3 December there


def test_day_totals_take_events_before_1970_like_any_other():
    times = [us("1969-12-31T12:00:00Z"), us("1969-12-31T12:10:00Z"), us("1970-01-01T00:00:00Z")]
    totals = day_totals(times, LocalDays("UTC"), 30 * MINUTE)
    assert totals == {-1: [2, 10 * MINUTE, times[0], times[1]], 0: [1, 0, times[2], times[2]]}


def test_months_and_weeks_are_whole_local_days_and_a_part_day_window_is_not():
    december = parse_period("2024-12", "Europe/Berlin")
    first, end = period_days(december)
    assert (day_of(first), day_of(end)) == (date(2024, 12, 1), date(2025, 1, 1))
    assert period_days(parse_window({"from": "2024-12-01T10:00:00", "to": "2024-12-02"}, "UTC")) is None
