"""How figures read: one duration format, whole counts, times in the report's zone, the
timeline's dated axis and its breaks at idle gaps."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from reportgen.render import charts
from reportgen.domain.figures import format_duration, format_minute, format_multiple, format_time, whole
from reportgen.domain.report_data import VisitMark, build_report
from reportgen.domain.options import ReportOptions
from reportgen.domain.preparation import prepare
from reportgen.domain.sequencing import sequence_students
from reportgen.domain.submission import parse_submission

UTC = timezone.utc
T0 = datetime(2024, 7, 1, 9, 13, tzinfo=UTC)


def test_one_duration_format_from_seconds_to_days():
    assert [format_duration(s) for s in (None, 0, 40, 60, 3829, 86400 + 3 * 3600 + 5 * 60)] == [
        "—", "0 min", "40 s", "1 min", "1 h 03 min", "1 d 3 h 05 min"]
    assert format_duration(timedelta(minutes=90)) == "1 h 30 min"


def test_counts_are_whole_numbers_halves_up_and_ratios_read_plainly():
    assert [whole(v) for v in (105.8, 105.5, 105.4, 0.15)] == [106, 106, 105, 0]
    assert [format_multiple(v) for v in (3, 2.96, 2.5, 12.4)] == ["3×", "3×", "2.5×", "12×"]


def test_times_read_in_the_report_zone_with_its_name():
    moment = datetime(2024, 7, 1, 10, 0, 0, 939000, tzinfo=UTC)
    assert format_time(moment) == "2024-07-01 10:00:00.939 UTC"
    assert format_time(moment, ZoneInfo("Europe/Berlin")) == "2024-07-01 12:00:00.939 CEST"
    assert format_minute(moment, ZoneInfo("Asia/Kolkata")) == "2024-07-01 15:30"


def test_the_axis_dates_whole_days_in_the_zone_and_hours_within_a_day():
    days = charts.axis_ticks(T0, T0 + timedelta(days=9))
    assert [label for _, label in days] == ["Jul 3", None, "Jul 7", None]
    assert all(tick.hour == 0 and tick.minute == 0 for tick, _ in days)
    tokyo = charts.axis_ticks(T0, T0 + timedelta(days=2), ZoneInfo("Asia/Tokyo"))
    assert [tick.astimezone(ZoneInfo("Asia/Tokyo")).hour for tick, _ in tokyo] == [0, 12, 0, 12]
    hours = charts.axis_ticks(T0, T0 + timedelta(hours=5), labels=2)
    assert [label for _, label in hours] == ["Jul 1 10:00", None, None, None, "14:00"]
    assert charts.axis_ticks(T0, T0) == []
    years = charts.axis_ticks(T0, T0 + timedelta(days=900))
    assert years[0][1].endswith(", 2024")


def report_of(students: list[dict], **options):
    upload = parse_submission(students)
    prepared = prepare(upload, ReportOptions(**options))
    _, sequences = sequence_students(prepared.students, prepared.labels)
    return build_report(sequences, prepared.metrics, cohorts=prepared.cohorts, options=prepared.options)


def test_a_visit_over_a_break_longer_than_the_idle_cutoff_is_two_bars():
    moments = [T0, T0 + timedelta(minutes=5), T0 + timedelta(days=7), T0 + timedelta(days=7, minutes=3)]
    student = {"student_id": "s", "events": [{"unit": 1, "created_time": m.isoformat()} for m in moments]}
    visit = report_of([student]).students[0].visits[0]
    assert visit.spans == ((moments[0], moments[1]), (moments[2], moments[3]))
    chart = charts.timeline(["Q1 · 1"], [visit], "t", "d")
    first_visit_path = chart.svg.split(f'fill="{charts.FIRST_VISIT}"')[0].rsplit("<path", 1)[1]
    assert first_visit_path.count("z") == 2  # two bars, not one a week long
    assert report_of([student], idle_cutoff_minutes=1440 * 8).students[0].visits[0].spans == (
        (moments[0], moments[3]),)


def test_a_visit_mark_without_spans_is_one_bar_from_start_to_end():
    mark = VisitMark(row=0, start=T0, end=T0 + timedelta(hours=1), returned=False, label="Q1", unit="1", events=2)
    assert charts.timeline(["Q1 · 1"], [mark], "t", "d").svg.count(f'fill="{charts.FIRST_VISIT}"') == 1
