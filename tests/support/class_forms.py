"""One class, written as each format a platform would write it: reportgen JSON, xAPI statements,
a Moodle log download and Caliper events. The importers must read all four into the same report.

Six students (names in Arabic, Hebrew, Chinese, Hindi and Thai script among them) work on three
units of course PY101 over three days that span the night the clocks go back in Europe/Berlin
(27 October 2024), the zone the Moodle log is written in. Times are whole seconds (what Moodle
writes), between 08:00 and 20:00 UTC (so never in the hour that happens twice).
"""
from __future__ import annotations

import csv
import io
import json
import random
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

COURSE = "PY101"
ZONE = ZoneInfo("Europe/Berlin")
HOME = "https://lms.example.org"
#: (Moodle user id, login, full name)
STUDENTS = [
    ("5", "amira", "أميرة حداد"),
    ("6", "noa", "נועה לוי"),
    ("7", "liwei", "李伟"),
    ("8", "priya", "प्रिया शर्मा"),
    ("9", "somchai", "สมชาย ใจดี"),
    ("10", "jo", "Jo Smith"),
]
#: Moodle course module id → (Event context, component)
UNITS = {101: ("Quiz: Week 3 quiz", "Quiz"), 102: ("Assignment: Project 1", "Assignment"),
         103: ("Page: Reading 1", "Page")}
TYPES = ("Course module viewed", "Submission saved", "Assignment submitted")
LOGIN = {user_id: login for user_id, login, _ in STUDENTS}
MOODLE_HEADER = ["Course", "Time", "User full name", "Affected user", "Event context", "Component", "Event name",
                 "Description", "Origin", "IP address"]


def events(seed: int = 3) -> list[tuple[str, int, str, datetime]]:
    """``(user id, unit, type, UTC time)`` of every event; the first three (one student's) are the
    first on units 101, 102 and 103, so first appearance orders the units as their numbers do."""
    rng = random.Random(seed)
    start = datetime(2024, 10, 26, 8, 0, tzinfo=timezone.utc)
    made = [("5", unit, TYPES[0], start + timedelta(minutes=index)) for index, unit in enumerate(UNITS)]
    for number, (user_id, _, _) in enumerate(STUDENTS):
        moment = start + timedelta(minutes=10 + number * 7)
        for _ in range(rng.randint(6, 14)):
            moment += timedelta(seconds=rng.randint(20, 1500) if rng.random() < 0.7 else rng.randint(3600, 30000))
            if moment.hour >= 20:
                moment = moment.replace(hour=8) + timedelta(days=1)
            elif moment.hour < 8:
                moment = moment.replace(hour=8)
            made.append((user_id, rng.choice(list(UNITS)), rng.choice(TYPES), moment))
    return made


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def as_reportgen() -> list[dict]:
    students: dict[str, dict] = {}
    for user_id, unit, kind, moment in events():
        student = students.setdefault(user_id, {"student_id": LOGIN[user_id], "namespace": COURSE, "events": []})
        student["events"].append({"unit": unit, "type": kind, "created_time": iso(moment)})
    return list(students.values())


def as_xapi() -> list[dict]:
    names = {user_id: name for user_id, _, name in STUDENTS}
    statements = []
    for number, (user_id, unit, kind, moment) in enumerate(events()):
        statements.append({
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{HOME}/statement/{number}")),
            "actor": {"objectType": "Agent", "name": names[user_id],
                      "account": {"homePage": HOME, "name": LOGIN[user_id]}},
            "verb": {"id": f"https://example.org/verbs/{number % 3}", "display": {"de": "etwas", "en-US": kind}},
            "object": {"objectType": "Activity", "id": f"{HOME}/mod/view.php?id={unit}",
                       "definition": {"name": {"en": UNITS[unit][0]}}},
            "context": {"contextActivities": {"grouping": [
                {"id": HOME, "definition": {"type": "http://id.tincanapi.com/activitytype/lms"}},
                {"id": COURSE, "definition": {"type": "http://id.tincanapi.com/activitytype/lms/course"}}]}},
            "timestamp": moment.isoformat(),
        })
    random.Random(5).shuffle(statements)
    return statements


def moodle_time(moment: datetime) -> str:
    local = moment.astimezone(ZONE)
    return f"{local.day}/{local:%m/%y, %H:%M:%S}"


def as_moodle() -> bytes:
    """A site-wide log download (so with the Course column), newest first, UTF-8 with a BOM."""
    names = {user_id: name for user_id, _, name in STUDENTS}
    body = io.StringIO()
    writer = csv.writer(body, lineterminator="\n")
    writer.writerow(MOODLE_HEADER)
    for user_id, unit, kind, moment in sorted(events(), key=lambda event: event[3], reverse=True):
        context, component = UNITS[unit]
        writer.writerow([COURSE, moodle_time(moment), names[user_id], "-", context, component, kind,
                         f"The user with id '{user_id}' viewed the '{component.lower()}' activity with course module "
                         f"id '{unit}'.", "web", "192.0.2.10"])
    return b"\xef\xbb\xbf" + body.getvalue().encode()


def as_caliper() -> dict:
    names = {user_id: name for user_id, _, name in STUDENTS}
    data = [{
        "@context": "http://purl.imsglobal.org/ctx/caliper/v1p2",
        "id": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{HOME}/event/{number}')}",
        "type": "Event",
        "actor": {"id": f"urn:instructure:canvas:user:{user_id}", "type": "Person", "name": names[user_id],
                  "extensions": {"com.instructure.canvas": {"user_login": LOGIN[user_id]}}},
        "action": kind,
        "object": {"id": f"urn:instructure:canvas:unit:{unit}", "type": "DigitalResource", "name": UNITS[unit][0]},
        "group": {"id": COURSE, "type": "CourseSection"},
        "eventTime": moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    } for number, (user_id, unit, kind, moment) in enumerate(events())]
    return {"sensor": f"{HOME}/sensor", "sendTime": "2024-10-29T00:00:00.000Z",
            "dataVersion": "http://purl.imsglobal.org/ctx/caliper/v1p2", "data": data}


def encoded(document) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()
