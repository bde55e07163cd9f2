"""Activity over time stays bounded for every accepted input: the first and last times the API
takes (1900 to 9999) neither overflow a date nor make a chart of thousands of weeks."""
from reportgen.domain.activity import ACTIVITY_UP_TO_DAYS, period_span, report_activity
from reportgen.domain.upload import parse_upload

from ..support.payloads import event, student


def students(*times: str):
    return parse_upload([student("s-1", [event(1, moment) for moment in times])]).students


def test_the_last_time_the_api_takes_ends_a_span_without_overflowing():
    start, end = period_span([e.created_at for e in students("9999-12-31T23:59:59Z")[0].events])
    assert (start.year, end.year) == (9999, 9999) and end > start


def test_a_span_of_centuries_has_no_activity_chart_and_a_year_has_one():
    assert report_activity(students("1900-01-01T00:00:00Z", "9999-12-31T23:59:59Z"), None, 30) == [None]
    [activity] = report_activity(students("2024-01-01T10:00:00Z", "2024-12-30T10:00:00Z"), None, 30)
    assert activity["per"] == "week" and 52 <= len(activity["events"]) <= ACTIVITY_UP_TO_DAYS // 7 + 1
