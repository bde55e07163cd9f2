"""When a subscription is due: local times in the class's zone, across daylight-saving changes,
short months and skipped hours."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from reportgen.domain.schedules import due_after, due_of_period, parse_subscription
from reportgen.domain.submission import SubmissionError

UTC = timezone.utc
FORMATS = ("html", "pdf", "csv")


def test_a_monthly_run_is_at_its_local_time_before_and_after_the_clocks_go_back():
    october = due_after("month", 1, "07:00", "Europe/Berlin", datetime(2024, 9, 15, tzinfo=UTC))
    assert (october.at, october.period) == (datetime(2024, 10, 1, 5, 0, tzinfo=UTC), "2024-09")  # CEST
    november = due_after("month", 1, "07:00", "Europe/Berlin", october.at)
    assert (november.at, november.period) == (datetime(2024, 11, 1, 6, 0, tzinfo=UTC), "2024-10")  # CET


def test_a_weekly_run_is_on_its_weekday_for_the_iso_week_before_across_the_clocks_going_forward():
    first = due_after("week", 1, "07:00", "Europe/Berlin", datetime(2024, 3, 20, tzinfo=UTC))
    assert (first.at, first.period) == (datetime(2024, 3, 25, 6, 0, tzinfo=UTC), "2024-W12")
    second = due_after("week", 1, "07:00", "Europe/Berlin", first.at)
    assert (second.at, second.period) == (datetime(2024, 4, 1, 5, 0, tzinfo=UTC), "2024-W13")
    assert due_of_period("week", 1, "07:00", "Europe/Berlin", "2024-W13") == second


def test_the_31st_is_the_last_day_of_a_shorter_month_and_a_skipped_hour_runs_an_hour_later():
    february = due_after("month", 31, "07:00", "UTC", datetime(2025, 2, 1, tzinfo=UTC))
    assert (february.at, february.period) == (datetime(2025, 2, 28, 7, 0, tzinfo=UTC), "2025-01")
    skipped = due_after("week", 7, "02:30", "Europe/Berlin", datetime(2024, 3, 25, tzinfo=UTC))
    assert skipped.at == datetime(2024, 3, 31, 1, 30, tzinfo=UTC)  # 03:30 CEST: 02:30 never happened that day


def test_the_year_turns_in_december_and_in_iso_week_1():
    january = due_after("month", 1, "07:00", "America/New_York", datetime(2024, 12, 2, tzinfo=UTC))
    assert (january.at, january.period) == (datetime(2025, 1, 1, 12, 0, tzinfo=UTC), "2024-12")
    week = due_after("week", 3, "18:00", "UTC", datetime(2024, 12, 28, tzinfo=UTC))
    assert (week.at, week.period) == (datetime(2025, 1, 1, 18, 0, tzinfo=UTC), "2024-W52")


@pytest.mark.parametrize("change, path", [
    ({"day": 0}, "day"), ({"day": 32}, "day"), ({"day": True}, "day"), ({"time": "25:00"}, "time"),
    ({"time": "7:00"}, "time"), ({"every": "year"}, "every"), ({"formats": ["docx"]}, "formats"),
    ({"formats": []}, "formats"), ({"recipients": ["x@example.org"] * 10_000}, "recipients"),
    ({"recipients": ["a@example.org\r\nBcc: b@example.org"]}, "recipients[0]"), ({"recipients": []}, "recipients"),
    ({"paused": "yes"}, "paused"), ({"colour": "red"}, "colour"),
])
def test_a_bad_subscription_names_its_field(change, path):
    document = {"namespace": "python-101", "every": "month", "recipients": ["teacher@example.org"], **change}
    with pytest.raises(SubmissionError) as refused:
        parse_subscription(document, FORMATS)
    assert path in refused.value.details


def test_a_weekly_subscription_takes_days_1_to_7_only():
    with pytest.raises(SubmissionError) as refused:
        parse_subscription({"namespace": "n", "every": "week", "day": 8, "students": True}, FORMATS)
    assert "day" in refused.value.details
    assert parse_subscription({"namespace": "n", "every": "week", "day": 7, "students": True}, FORMATS)["day"] == 7
