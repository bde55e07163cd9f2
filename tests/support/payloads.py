"""Uploads as a client writes them: students and events, and the report data a real upload makes."""
from __future__ import annotations


def student(student_id: str, events: list[dict], namespace: str = "course-1") -> dict:
    return {"student_id": student_id, "namespace": namespace, "events": events}


def event(unit, created_time: str | None = None, type_: str = "saved_code") -> dict:
    body = {"unit": unit, "type": type_}
    if created_time is not None:
        body["created_time"] = created_time
    return body


def sample_students() -> list[dict]:
    """Two students of one namespace, one of them with a non-Latin id."""
    return [
        student("alice", [
            event("17", "2024-07-21 03:04:55.939000+00:00"),
            event(5, "2024-07-21 03:00:00+00:00"),
            event("17", "2024-07-21T05:04:55+02:00"),
        ]),
        student("Zoë Дмитрий Ωμέγα", [
            event("9", "2024-07-22T10:00:00Z"),
            event("10", "2024-07-22T09:00:00Z"),
        ]),
    ]


def minutely_student(student_id: str, events: int) -> dict:
    """One event a minute in time order, on 30 units, so an event-log line's number is its place in time."""
    return student(student_id, [event(str(i % 30), f"2024-07-{1 + i // 1440:02d}T{i // 60 % 24:02d}:{i % 60:02d}:00Z")
                                for i in range(events)])


def report_of(students: list[dict], options: dict | None = None, generated_at=None):
    """The report data of a submission, prepared as a real upload is (window, labels, analytics)."""
    from reportgen.domain.preparation import prepare
    from reportgen.domain.upload import parse_upload
    from reportgen.render.documents import ReportContext, StudentInput, report_data

    document = {"students": students, "options": options} if options else students
    upload = parse_upload(document)
    prepared = prepare(upload.students, upload.options)
    context = ReportContext.of(prepared)
    context = ReportContext(**{**{f: getattr(context, f) for f in context.__slots__}, "generated_at": generated_at})
    inputs = [StudentInput(number, student, metrics)
              for number, (student, metrics) in enumerate(zip(prepared.students, prepared.metrics), start=1)]
    return report_data(context, inputs)


def three_mistakes() -> list[dict]:
    """s-001 without an id, s-002 with sixty events that lack a unit, s-003 with a bad time."""
    return [
        {"namespace": "course-1", "events": []},
        student("s-002", [{"type": "saved_code"} for _ in range(60)]),
        student("s-003", [event(1, "next tuesday")]),
    ]


def hex_id(number: int) -> str:
    return f"{number:032x}"[::-1]


def sample_like(students: int = 19) -> list[dict]:
    """The public sample's shape: 32-character hex ids, units 5–17, events grouped by unit."""
    cohort = []
    for number in range(students):
        events = []
        for unit in range(5 + number % 4, 11 + number % 4):
            for minute in range(6):
                events.append(event(str(unit), f"2024-07-{1 + unit % 20:02d}T0{number % 9}:{minute * 7:02d}:00Z",
                                    "submission" if minute == 5 else "saved_code"))
        cohort.append({"student_id": hex_id(number * 7919 + 1), "namespace": "ns_example", "events": events})
    return cohort


#: A name and a unit name per script the PDF must print right: right to left (Arabic, Hebrew), in
#: fallback faces (CJK, Devanagari, Thai).
SCRIPTS = ("Arabic", "Hebrew", "Chinese", "Japanese", "Korean", "Hindi", "Thai")
SCRIPT_NAMES = dict(zip(SCRIPTS, ("محمد علي", "דוד כהן", "王小明", "さくら たなか", "김민준", "देवनागरी शर्मा",
                                  "สมชาย ใจดี")))
SCRIPT_UNITS = dict(zip(SCRIPTS, ("الجبر", "גאומטריה", "函数入门", "かんすう", "함수", "बीजगणित", "พีชคณิต")))


def multi_script_class() -> list[dict]:
    """A student per script (and a Latin one), each with events on every unit of every script."""
    students = []
    for index, name in enumerate([*SCRIPT_NAMES.values(), "Zoë Núñez"]):
        events = [event(unit, f"2024-07-0{1 + number % 5}T1{index}:{(visit * 7 + number) % 60:02d}:00Z",
                        "submission" if visit == 0 else "saved_code")
                  for number, unit in enumerate(SCRIPT_UNITS.values()) for visit in range(2 + (index + number) % 3)]
        students.append(student(name, events, "course-1"))
    return students
