"""PostgreSQL's key of a class's events starts with the event's UTC day (migration 0024): the
day as its integer division computes it, and rows put in the key's order before they are copied."""
from reportgen.history.event_days import DAY_US, days_between, in_key_order, utc_day


def test_the_day_is_truncated_toward_zero_as_postgresql_divides():
    times = (0, DAY_US - 1, DAY_US, -1, -DAY_US + 1, -DAY_US, -DAY_US - 1)
    assert [utc_day(at) for at in times] == [0, 0, 1, 0, 0, -1, -1]
    assert days_between(-DAY_US - 1, DAY_US) == [-1, 0, 1]


def test_rows_come_out_by_day_then_student_then_time():
    hour = DAY_US // 24
    second = [(2, 3 * hour, 1, 0, 9), (2, DAY_US + hour, 1, 0, 9), (2, 3 * DAY_US, 4, 0, 9)]
    first = [(1, hour, 5, 0, 9), (1, 5 * hour, 2, 1, 9), (1, 3 * DAY_US + 1, 1, 0, 9)]
    rows = in_key_order([second, first])
    assert rows == sorted(second + first, key=lambda row: (utc_day(row[1]), row[0], row[1:]))
    assert [row[0] for row in rows] == [1, 1, 2, 2, 1, 2]
