"""A Moodle "Logs" download in: Moodle's own columns and time format, day-first or month-first
times in the downloading user's zone, users to leave out, and hostile files."""
from pathlib import Path

import pytest

from reportgen.domain.csv_import import MalformedCSV
from reportgen.domain.importers import ImportOptions, parse_import_options, read_imported
from reportgen.domain.importers.moodle import read_moodle
from reportgen.domain.plain_words import in_plain_words
from reportgen.domain.submission import SubmissionError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "moodle"
HEADER = ('Time,"User full name","Affected user","Event context",Component,"Event name",Description,Origin,'
          '"IP address"\n')
BERLIN = ImportOptions(timezone="Europe/Berlin")


def row(time: str = "21/07/24, 03:04:55", user: str = "5", name: str = "Amira Haddad",
        context: str = "Quiz: Week 3 quiz", event: str = "Course module viewed",
        description: str | None = None, module: str | None = "17") -> str:
    if description is None:
        description = (f"The user with id '{user}' viewed the 'quiz' activity with course module id '{module}'."
                       if module else f"The user with id '{user}' viewed the course with id '2'.")
    return f'"{time}","{name}",-,"{context}",Quiz,"{event}","{description}",web,192.0.2.10\n'


def log(*rows: str, header: str = HEADER) -> str:
    return "\ufeff" + header + "".join(rows)


def events(imported) -> list[tuple]:
    return [(s["student_id"], s["namespace"], e["unit"], e["type"], e["created_time"])
            for s in imported.students for e in s["events"]]


# --- a download as Moodle writes it ------------------------------------------------------------

def test_a_course_log_download_is_read_in_the_downloading_users_time_zone():
    imported = read_moodle((FIXTURES / "course_log.csv").read_bytes(), BERLIN)
    assert events(imported) == [
        ("7", "", "Course: Python 101", "Course viewed", "2024-11-01T10:00:00+01:00"),
        ("2", "", "18", "Grading table viewed", "2024-10-22T10:00:00+02:00"),
        ("6", "", "17", "Quiz attempt started", "2024-10-22T09:46:01+02:00"),
        ("6", "", "17", "Course module viewed", "2024-10-22T09:45:30+02:00"),
        ("6", "", "16", "Course module viewed", "2024-10-22T09:30:00+02:00"),
        ("5", "", "18", "The status of the submission has been viewed.", "2024-10-21T11:05:00+02:00"),
        ("5", "", "17", "Quiz attempt submitted", "2024-10-21T10:20:42+02:00"),
        ("5", "", "17", "Quiz attempt started", "2024-10-21T10:02:00+02:00"),
        ("5", "", "17", "Course module viewed", "2024-10-21T10:01:10+02:00"),
        ("5", "", "Course: Python 101", "Course viewed", "2024-10-21T10:00:05+02:00"),
    ]
    assert imported.student_names == {"": {"7": "Li Wei", "2": "Teacher Tom", "6": "Noa Levi", "5": "Amira Haddad"}}
    assert imported.unit_names == {"": {"18": "Assignment: Project 1", "17": "Quiz: Week 3 quiz",
                                        "16": "Page: Reading 1"}}
    assert imported.summary() == {"format": "moodle", "records": "rows", "read": 10, "used": 10, "skipped": 0,
                                  "skipped_because": {}}
    upload = imported.upload()
    assert [s.student_id for s in upload.students] == ["7", "2", "6", "5"]
    assert upload.students[3].events[0].created_at.utcoffset().total_seconds() == 7200


def test_the_teacher_is_left_out_by_id_or_by_full_name():
    body = (FIXTURES / "course_log.csv").read_bytes()
    for excluded in ("2", "teacher tom", "Teacher Tom, 999"):
        imported = read_moodle(body, parse_import_options({"timezone": "Europe/Berlin", "exclude_users": excluded}))
        assert [s["student_id"] for s in imported.students] == ["7", "6", "5"]
        assert imported.skipped == {"a user left out by exclude_users": 1}


def test_a_us_english_download_is_read_month_first():
    us = read_moodle((FIXTURES / "course_log_us.csv").read_bytes(),
                     ImportOptions(timezone="Europe/Berlin", day_first=False))
    assert events(us) == events(read_moodle((FIXTURES / "course_log.csv").read_bytes(), BERLIN))


def test_times_without_a_time_zone_are_utc():
    assert events(read_moodle(log(row("1/07/24, 03:04:55"))))[0][4] == "2024-07-01T03:04:55+00:00"


@pytest.mark.parametrize("cell, iso", [
    ("21/07/2024, 03:04:55", "2024-07-21T03:04:55+00:00"),
    ("21.07.24, 03:04", "2024-07-21T03:04:00+00:00"),
    ("2024-07-21 03:04:55", "2024-07-21T03:04:55+00:00"),
    ("21/07/24, 3:04:55 PM", "2024-07-21T15:04:55+00:00"),
    ("21/07/24, 12:04:55 am", "2024-07-21T00:04:55+00:00"),
])
def test_other_spellings_of_the_time_are_read(cell, iso):
    assert events(read_moodle(log(row(cell))))[0][4] == iso


def test_a_site_wide_log_takes_the_namespace_from_the_course_column():
    header = "Course," + HEADER
    body = log("PY101," + row(user="5"), "-," + row(user="6"), header=header)
    imported = read_moodle(body, ImportOptions(namespace="given"))
    assert [(s["student_id"], s["namespace"]) for s in imported.students] == [("5", "PY101"), ("6", "given")]


def test_a_download_in_another_language_is_read_by_position():
    german = ('Zeit,"Vollständiger Name","Betroffene/r Nutzer/in",Ereigniskontext,Komponente,Ereignisname,'
              'Beschreibung,Herkunft,IP-Adresse\n')
    imported = read_moodle(log(row("21.07.24, 03:04:55", event="Kursmodul angezeigt"), header=german))
    assert events(imported) == [("5", "", "17", "Kursmodul angezeigt", "2024-07-21T03:04:55+00:00")]


def test_a_log_resaved_with_semicolons_is_read():
    body = "Time;User full name;Event context;Event name;Description\n" \
           "21/07/24, 03:04:55;Amira;Quiz: Week 3 quiz;Course module viewed;" \
           "The user with id '5' viewed the 'quiz' activity with course module id '17'.\n"
    assert events(read_moodle(body)) == [("5", "", "17", "Course module viewed", "2024-07-21T03:04:55+00:00")]


def test_rows_without_a_user_id_or_of_nobody_logged_in_are_skipped_and_counted():
    imported = read_moodle(log(row(), row(description="Cron ran the task."), row(user="0"), "\n"))
    assert imported.used == 1 and imported.read == 3
    assert imported.skipped == {"no user id in the Description": 1, "not a logged-in user (user id 0)": 1}


def test_a_row_without_a_course_module_is_the_event_context():
    imported = read_moodle(log(row(context="Course: Python 101", module=None)))
    assert events(imported)[0][2] == "Course: Python 101"
    assert imported.unit_names == {}


# --- errors -----------------------------------------------------------------------------------

def test_a_date_that_does_not_exist_names_the_row_and_column():
    with pytest.raises(SubmissionError) as caught:
        read_moodle(log(row(), row(), row(), row(), row(), row("31/02/24, 10:00:00")))
    assert caught.value.details == {"row 7, column Time": "'31/02/24, 10:00:00' is not a date (day/month/year)"}
    assert in_plain_words(caught.value.details) == [
        "Row 7, column Time: '31/02/24, 10:00:00' is not a date (day/month/year)"]


def test_a_day_first_date_read_month_first_is_no_date():
    with pytest.raises(SubmissionError) as caught:
        read_moodle(log(row("21/07/24, 03:04:55")), ImportOptions(day_first=False))
    assert caught.value.details == {"row 2, column Time": "'21/07/24, 03:04:55' is not a date (month/day/year)"}


@pytest.mark.parametrize("cell, reason", [
    ("27/10/24, 02:30:00", "happened twice in Europe/Berlin (the clocks went back), and the log does not say which; "
                           "download the log with the time zone set to one without daylight saving time (UTC)"),
    ("31/03/24, 02:30:00", "did not happen in Europe/Berlin: the clocks went forward over it; is the time zone right?"),
    ("1/01/0000, 10:00:00", "is not a date (day/month/year)"),
    ("1/01/99999, 10:00:00", "is not a date (day/month/year)"),
    ("21/07/24, 25:00:00", "is not a time of day"),
    ("yesterday", "is not a date and time like 21/07/24, 03:04:55 (day/month/year, hour:minute:second)"),
])
def test_a_time_that_is_no_time_in_the_zone_is_an_error_naming_the_row(cell, reason):
    with pytest.raises(SubmissionError) as caught:
        read_moodle(log(row(cell)), BERLIN)
    assert caught.value.details == {"row 2, column Time": f"{cell!r} {reason}"}


def test_years_before_1900_are_outside_what_reports_show():
    with pytest.raises(SubmissionError) as caught:
        read_moodle(log(row("1/01/1899, 10:00:00")))
    assert caught.value.details == {"row 2, column Time": "'1/01/1899, 10:00:00' is outside the years reports can "
                                                          "show (1900 to 9999, in UTC)"}


def test_a_file_that_is_not_a_moodle_log_says_what_one_looks_like():
    with pytest.raises(MalformedCSV) as caught:
        read_moodle("student_id,unit\ns1,1\n")
    assert caught.value.details["row 1"].startswith(
        "has no Time, Event name, Description column: a Moodle log download starts with the header Time, User full name")


def test_a_file_whose_rows_are_all_skipped_says_so():
    with pytest.raises(SubmissionError) as caught:
        read_moodle(log(row(user="2")), ImportOptions(exclude_users=("2",))).upload()
    assert caught.value.details == {"$": "None of the 1 rows could be used, so there is nothing to report on; "
                                         "skipped: a user left out by exclude_users: 1"}


def test_an_empty_file_is_a_clear_error():
    with pytest.raises(MalformedCSV):
        read_moodle("\ufeff\n")


@pytest.mark.parametrize("options, field", [
    ({"timezone": "Mars/Olympus"}, "timezone"), ({"timezone": "../../etc/passwd"}, "timezone"),
    ({"day_first": "maybe"}, "day_first"), ({"exclude_users": {"a": 1}}, "exclude_users"),
])
def test_bad_import_options_name_their_field(options, field):
    with pytest.raises(SubmissionError) as caught:
        parse_import_options(options)
    assert list(caught.value.details) == [field]


def test_import_options_from_a_form_or_query_string():
    options = parse_import_options({"day_first": "false", "timezone": " America/New_York ", "namespace": "",
                                    "exclude_users": "2; Teacher Tom\n3"})
    assert options == ImportOptions(day_first=False, timezone="America/New_York",
                                    exclude_users=("2", "teacher tom", "3"))


# --- hostile input ------------------------------------------------------------------------------

def test_ten_thousand_unnamed_columns_are_no_moodle_log():
    body = ",".join(f"c{i}" for i in range(10_000)) + "\n" + ",".join("x" for _ in range(10_000)) + "\n"
    with pytest.raises(MalformedCSV) as caught:
        read_moodle(body)
    assert len(caught.value.details["row 1"]) < 400


def test_moodles_columns_among_ten_thousand_are_read_and_the_rest_ignored():
    extra = "," * 9_991
    body = log(row().rstrip("\n") + extra + "\n", header=HEADER.rstrip("\n") + extra + "\n")
    assert read_moodle(body).used == 1


def test_a_cell_too_long_for_csv_is_a_clear_error():
    with pytest.raises(MalformedCSV) as caught:
        read_moodle(log(row(name="x" * 200_000)))
    assert "longer than" in caught.value.details["row 2"]


def test_latin_1_bytes_are_a_clear_error_naming_the_row():
    body = HEADER.encode() + row().encode() + row(name="José").encode("latin-1")
    with pytest.raises(MalformedCSV) as caught:
        read_imported(body, "moodle")
    assert caught.value.details["row 3"].startswith("is not UTF-8 (invalid continuation byte at byte ")


def test_a_nul_in_a_cell_is_named_by_row_and_column():
    with pytest.raises(SubmissionError) as caught:
        read_moodle(log(row(event="viewed\x00")))
    assert caught.value.details == {"row 2, column Event name": "contains a NUL character (\\u0000), which cannot be "
                                                                "stored; remove it"}


def test_a_broken_quote_is_a_clear_error():
    with pytest.raises(MalformedCSV) as caught:
        read_moodle(log(row(), '"21/07/24, 03:04:55,Amira\n'))
    assert "never closed" in caught.value.details["row 3"]
