"""Hostile inputs, as an attacker sends them: a table of request → expected status (and a
fragment of the field path or message), run against PostgreSQL and SQLite. Not one may be a
500; every API error is JSON naming the field where there is one; the upload form says the
same in words."""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import pytest
from flask_migrate import upgrade
from sqlalchemy import text
from werkzeug.datastructures import MultiDict
from werkzeug.test import encode_multipart

from reportgen import create_app
from reportgen.config import MiB
from reportgen.extensions import db

from ..support.fakes import WEBHOOK_SECRET
from ..support.pages import csrf_token
from ..support.processes import TEST_QUEUE

GOOD_EVENT = {"unit": "5", "type": "saved_code", "created_time": "2024-07-21T03:00:00Z"}


def one(**changes) -> list[dict]:
    """A valid one-student upload with ``changes`` to the student (``event`` to its event)."""
    event = {**GOOD_EVENT, **changes.pop("event", {})}
    return [{"student_id": "s-1", "namespace": "ns", "events": [event], **changes}]


def at(value: object) -> str:
    """``value`` as JSON text, with every non-ASCII character escaped as JSON allows."""
    return json.dumps(value)


def raw(text_: str) -> bytes:
    return text_.encode()


def envelope(**fields) -> bytes:
    return json.dumps({"students": one(), **fields}).encode()


@dataclass
class Case:
    name: str
    method: str
    url: str
    status: int
    fragment: str = ""
    body: bytes | None = None
    content_type: str = "application/json"
    chunked: bool = False
    form: dict | None = None
    headers: dict = field(default_factory=dict)


def submits(name: str, body: bytes, status: int, fragment: str = "", *, content_type="application/json",
            urls=("/assignment/html", "/assignment/sequence")) -> list[Case]:
    """The same body to a report endpoint and to /sequence, which must agree."""
    return [Case(f"{name} {url.rsplit('/', 1)[1]}", "POST", url, 200 if status == 202 and "sequence" in url
                 else status, fragment, body, content_type) for url in urls]


DEEP = "[" * 100_000 + "]" * 100_000
SURROGATE = '"\\ud800"'
LOW_SURROGATE = '"x\\udfff"'
NUL = '"a\\u0000b"'
TIME_ERROR = "outside the times reports can show"
PAD_TO_LIMIT = 20 * MiB

#: Callback URLs that reach no public receiver, and what the refusal says.
REFUSED_TARGETS = [
    ("http://192.0.0.192/hook", "192.0.0.192 is an IETF protocol assignment (special-purpose) address"),
    ("http://100.64.0.1/hook", "100.64.0.1 is a shared (carrier-grade NAT) address"),
    ("http://198.18.0.1/hook", "198.18.0.1 is a private address"),
    ("http://192.88.99.1/hook", "192.88.99.1 is a 6to4 relay (special-purpose) address"),
    ("http://[2002:7f00:1::]/hook", "is a 6to4 address, a tunnel to the IPv4 address 127.0.0.1"),
    ("http://[2002:808:808::]/hook", "is a 6to4 address, a tunnel to the IPv4 address 8.8.8.8"),
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook", "is a Teredo address, a tunnel to the IPv4 address"),
    ("http://[64:ff9b::7f00:1]/hook", "is a NAT64 address of 127.0.0.1, which is a loopback address"),
    ("http://[64:ff9b::a00:1]/hook", "is a NAT64 address of 10.0.0.1, which is a private address"),
    ("http://[::ffff:a9fe:a9fe]/hook", "is an IPv4-mapped address of 169.254.169.254, which is the cloud metadata"),
    ("http://[::127.0.0.1]/hook", "is a reserved address"),
    ("http://[fec0::1]/hook", "is not a global unicast address (2000::/3)"),
    ("http://[2001:db8::1]/hook", "is a private address"),
    ("http://[3fff::1]/hook", "is a documentation address (3fff::/20)"),
    ("http://example.com:0/hook", "port 0 is no server's port"),
    ("http://8.8.8.8:0/hook", "port 0 is no server's port"),
]

CASES: list[Case] = [
    # Parsing
    *submits("deep array", raw(DEEP), 400, "nested too deeply"),
    *submits("deep object", raw('{"a":' * 50_000 + "1" + "}" * 50_000), 400, "nested too deeply"),
    *submits("deep unknown field", raw('[{"student_id": "s", "events": [], "x": ' + DEEP + "}]"), 400,
             "nested too deeply"),
    *submits("trailing garbage", raw(at(one()) + " garbage"), 400, "more after the end of the data"),
    *submits("second document", raw(at(one()) + at(one())), 400, "more after the end of the data"),
    *submits("trailing NUL byte", raw(at(one())) + b"\x00", 400, "NUL character after the end of the data"),
    *submits("NaN", raw('[{"student_id": "s", "events": [{"unit": NaN}]}]'), 400, "NaN is not JSON"),
    *submits("Infinity", raw('{"student_id": "s", "events": [], "x": -Infinity}'), 400, "-Infinity is not JSON"),
    *submits("empty body", b"", 400, "The request body is empty"),
    *submits("white space only", b" \r\n\t", 400, "The request body is empty"),
    *submits("not UTF-8", b'[{"student_id": "\xff"}]', 400, "not UTF-8"),
    *submits("UTF-16", json.dumps(one()).encode("utf-16"), 400, "not UTF-8"),
    *submits("raw control character", raw('[{"student_id": "a\tb", "events": []}]'), 400, "a tab inside quotes"),
    *submits("a 5000-digit number", raw('{"student_id": "s", "events": [{"unit": ' + "9" * 5000 + "}]}"), 400,
             "$"),
    *submits("1e400 as a unit", raw('{"student_id": "s", "events": [{"unit": 1e400}]}'), 400,
             "events[0].unit"),
    *submits("null", b"null", 400, "$"),
    *submits("a string", b'"students"', 400, "$"),
    *submits("empty array", b"[]", 400, "$"),
    # Strings that cannot be stored: a NUL anywhere stored, a lone surrogate anywhere
    *submits("lone surrogate in student_id", raw(f'[{{"student_id": {SURROGATE}, "events": []}}]'), 400,
             "[0].student_id"),
    *submits("lone low surrogate in namespace",
             raw(f'[{{"student_id": "s", "namespace": {LOW_SURROGATE}, "events": []}}]'), 400, "[0].namespace"),
    *submits("lone surrogate in unit", raw(f'{{"student_id": "s", "events": [{{"unit": {SURROGATE}}}]}}'), 400,
             "events[0].unit"),
    *submits("lone surrogate in type",
             raw(f'[{{"student_id": "s", "events": [{{"unit": 1}}, {{"unit": 2, "type": {SURROGATE}}}]}}]'), 400,
             "[0].events[1].type"),
    *submits("lone surrogate in created_time",
             raw(f'[{{"student_id": "s", "events": [{{"unit": 1, "created_time": {SURROGATE}}}]}}]'), 400,
             "[0].events[0].created_time"),
    *submits("reversed surrogate pair", raw('[{"student_id": "\\udc00\\ud800", "events": []}]'), 400,
             "[0].student_id"),
    *submits("lone surrogate in an envelope",
             raw(f'{{"students": [{{"student_id": {SURROGATE}, "events": []}}]}}'), 400, "students[0].student_id"),
    *submits("lone surrogate in an option's namespace",
             raw(f'{{"students": {at(one())}, "options": {{"units": {{{SURROGATE}: ["5"]}}}}}}'), 400,
             "options.units.\\ud800"),
    *submits("lone surrogate in an option's unit",
             raw(f'{{"students": {at(one())}, "options": {{"units": {{"ns": ["5", {SURROGATE}]}}}}}}'), 400,
             "options.units.ns[1]"),
    *submits("lone surrogate in an unknown option key",
             raw(f'{{"students": {at(one())}, "options": {{{SURROGATE}: 1}}}}'), 400, "options.\\ud800"),
    *submits("NUL in student_id", raw(f'[{{"student_id": {NUL}, "events": []}}]'), 400, "[0].student_id"),
    *submits("NUL in namespace", raw(f'[{{"student_id": "s", "namespace": {NUL}, "events": []}}]'), 400,
             "[0].namespace"),
    *submits("NUL in unit", raw(f'[{{"student_id": "s", "events": [{{"unit": {NUL}}}]}}]'), 400,
             "[0].events[0].unit"),
    *submits("NUL in type", raw(f'[{{"student_id": "s", "events": [{{"unit": 1, "type": {NUL}}}]}}]'), 400,
             "[0].events[0].type"),
    *submits("NUL after a time", raw('[{"student_id": "s", "events": [{"unit": 1, '
                                     '"created_time": "2024-01-01T00:00:00\\u0000"}]}]'), 400,
             "[0].events[0].created_time"),
    *submits("NUL in an option's unit",
             raw(f'{{"students": {at(one())}, "options": {{"units": {{"ns": [{NUL}]}}}}}}'), 400,
             "options.units.ns[0]"),
    *submits("NUL in a window bound",
             raw(f'{{"students": {at(one())}, "options": {{"window": {{"from": {NUL}}}}}}}'), 400,
             "options.window.from"),
    Case("NUL in an email address", "POST", "/assignment/html", 400, "email[0]",
         raw(f'{{"students": {at(one())}, "email": [{NUL}]}}')),
    Case("lone surrogate as the email", "POST", "/assignment/html", 400, "email",
         raw(f'{{"students": {at(one())}, "email": {SURROGATE}}}')),
    *submits("a surrogate pair (an emoji, escaped) is fine", raw('[{"student_id": "\\ud83d\\ude00", "events": []}]'),
             202),
    *submits("an escaped backslash before u0000 is text", raw('[{"student_id": "a\\\\u0000", "events": []}]'), 202),
    *submits("a NUL in a field that is never stored is ignored",
             raw(f'[{{"student_id": "s", "events": [], "note": {NUL}}}]'), 202),
    # Times every format must print: 1900-01-01 to 9999-12-31 in UTC
    *submits("after 9999 in UTC", envelope(students=one(event={"created_time": "9999-12-31T23:59:59-01:00"})), 400,
             "students[0].events[0].created_time"),
    *submits("before year 1 in UTC", at(one(event={"created_time": "0001-01-01T00:00:00+01:00"})).encode(), 400,
             "[0].events[0].created_time"),
    *submits("year 1", at(one(event={"created_time": "0001-01-01T00:00:00"})).encode(), 400, TIME_ERROR),
    *submits("1899 in UTC", at(one(event={"created_time": "1900-01-01T00:30:00+01:00"})).encode(), 400, TIME_ERROR),
    *submits("the first time", at(one(event={"created_time": "1900-01-01T00:00:00Z"})).encode(), 202),
    *submits("the last time", at(one(event={"created_time": "9999-12-31T23:59:59.999999Z"})).encode(), 202),
    *submits("the last time with an offset", at(one(event={"created_time": "9999-12-31T23:00:00-00:59"})).encode(),
             202),
    *submits("window to the last day", envelope(options={"window": {"to": "9999-12-31"}}), 400,
             "options.window.to"),
    *submits("window from before year 1", envelope(options={"window": {"from": "0001-01-01T00:00:00+01:00"}}),
             400, "options.window.from"),
    # Types and sizes
    *submits("unit true", at(one(event={"unit": True})).encode(), 400, "[0].events[0].unit"),
    *submits("unit an object", at(one(event={"unit": {"a": 1}})).encode(), 400, "[0].events[0].unit"),
    *submits("events an object", at(one(events={"0": GOOD_EVENT})).encode(), 400, "[0].events"),
    *submits("idle cutoff 10**30", envelope(options={"idle_cutoff_minutes": 10 ** 30}), 400,
             "options.idle_cutoff_minutes"),
    *submits("idle cutoff 1e308", raw('{"students": ' + at(one()) + ', "options": {"idle_cutoff_minutes": 1e308}}'),
             400, "options.idle_cutoff_minutes"),
    *submits("a megabyte-long unknown option", envelope(options={"x" * MiB: 1}), 400, "options.xxx"),
    *submits("two hundred thousand empty events", at([{"student_id": "s", "events": [{}] * 200_000}]).encode(),
             400, "[0].events[99].unit"),
    *submits("a thousand duplicate megabyte units",
             envelope(options={"units": {"ns": ["u" * 20_000] * 1000}}), 400, "options.units.ns[1]"),
    # Webhook targets that are not the public Internet, however written (the server has a secret)
    *(Case(f"callback_url {url}", "POST", "/assignment/html", 400, reason, envelope(callback_url=url))
      for url, reason in REFUSED_TARGETS),
    Case("two Idempotency-Key headers (joined by the server)", "POST", "/assignment/html", 400, "send it once",
         at(one()).encode(), headers={"Idempotency-Key": "first, second"}),
    Case("two quoted Idempotency-Key headers", "POST", "/assignment/html", 400, "send it once", at(one()).encode(),
         headers={"Idempotency-Key": '"first", "second"'}),
    # The size model: what the parser makes of a body is counted before it is parsed
    *submits("6 million empty arrays", b'{"student_id": "s", "events": [], "x": [' + b"[]," * 6_000_000 + b"[]]}",
             413, "at most 2,000,000 values"),
    *submits("4 million two-letter strings", b'{"student_id": "s", "events": [], "x": [' + b'"ab",' * 4_000_000
             + b'"ab"]}', 413, "at most 2,000,000 values"),
    *submits("2.1 million numbers", b'{"student_id": "s", "events": [], "x": [' + b"1000," * 2_100_000 + b"1]}",
             413, "at most 2,000,000 values"),
    *(case for ending in (b"\n", b"\r\n", b"\r") for case in submits(
        f"CSV of 250,001 rows ended by {ending!r}", b"student_id,unit" + ending + (b"s,1" + ending) * 250_000,
        413, "at most 250,000 rows", content_type="text/csv")),
    *submits("CSV of a row of 3 million cells", b"student_id,unit\ns,1," + b"ab," * 3_000_000 + b"\n", 413,
             "at most 2,000,000 cells", content_type="text/csv"),
    *submits("xAPI with 6 million empty arrays", b'[{"actor": {"mbox": "mailto:a@example.org"}, "x": ['
             + b"[]," * 6_000_000 + b"[]]}]", 413, "at most 2,000,000 values",
             urls=("/assignment/html?input=xapi", "/assignment/sequence?input=xapi")),
    *submits("a Moodle log of 250,001 rows ended by \\r", b"Time,User full name,Event context,Event name\r"
             + b"1/07/24 08:00,A,Quiz: Q1,Quiz attempt submitted\r" * 250_001, 413, "at most 250,000 rows",
             content_type="text/csv", urls=("/assignment/html?input=moodle", "/assignment/sequence?input=moodle")),
    # Long strings: each field has a bound, named with the field
    *submits("a 2 MB student_id", at(one(student_id="x" * 2_000_000)).encode(), 400,
             "[0].student_id\": \"has 2,000,000 characters; a student id may have at most 256"),
    *submits("a 100 KB student_id", at(one(student_id="é" * 100_000)).encode(), 400,
             "a student id may have at most 256"),
    *submits("a 257-character student_id", at(one(student_id="s" * 257)).encode(), 400, "[0].student_id"),
    *submits("a 256-character student_id is fine", at(one(student_id="s" * 256)).encode(), 202),
    *submits("a 1 MB namespace", at(one(namespace="n" * MiB)).encode(), 400,
             "a namespace may have at most 256"),
    *submits("a 1 MB unit", at(one(event={"unit": "u" * MiB})).encode(), 400,
             "[0].events[0].unit\": \"has 1,048,576 characters; a unit may have at most 256"),
    *submits("a 1 MB type", at(one(event={"type": "t" * MiB})).encode(), 400,
             "a type may have at most 256"),
    *submits("a 1 MB unit in options.units", envelope(options={"units": {"ns": ["u" * MiB]}}), 400,
             "options.units.ns[0]"),
    *submits("a 1 MB unit named in options.unit_names", envelope(options={"unit_names": {"ns": {"u" * MiB: "Quiz"}}}),
             400, "names a unit that has 1,048,576 characters"),
    *submits("a 201-character unit name", envelope(options={"unit_names": {"ns": {"5": "n" * 201}}}), 400,
             "options.unit_names.ns.5"),
    *submits("a 1 MB CSV student_id", b"student_id,unit\n" + b"x" * 100_000 + b",1\n", 400,
             "row 2, column student_id", content_type="text/csv"),
    # Distinct units: per student and per upload
    *submits("a student on 1,001 distinct units", at([{"student_id": "s", "events": [{"unit": n} for n in range(1001)]}])
             .encode(), 400, "[0].events\": \"are on 1,001 distinct units; a student may have at most 1,000"),
    *submits("a student on 1,000 distinct units is fine",
             at([{"student_id": "s", "events": [{"unit": n} for n in range(1000)]}]).encode(), 202),
    *submits("21 students on 1,000 units each, 21,000 in all",
             at([{"student_id": f"s{s}", "events": [{"unit": s * 1000 + n} for n in range(1000)]} for s in range(21)])
             .encode(), 413, "at most 20,000 distinct units in one upload"),
    *submits("options.units listing 20,001 units", envelope(options={"units": {"ns": list(range(20_001))}}), 413,
             "at most 20,000 distinct units"),
    # Content types and sizes of the body
    Case("text/plain", "POST", "/assignment/pdf", 415, "Content-Type", at(one()).encode(), "text/plain"),
    Case("no content type", "POST", "/assignment/csv", 415, "Content-Type", at(one()).encode(), ""),
    Case("a +json type", "POST", "/assignment/pdf", 202, "", at(one()).encode(), "application/vnd.api+json"),
    Case("unknown format", "POST", "/assignment/docx", 404, "unknown report format", at(one()).encode()),
    Case("metrics=2", "POST", "/assignment/sequence?metrics=2", 400, "metrics", at(one()).encode()),
    Case("chunked body over the limit", "POST", "/assignment/html", 413, "MAX_CONTENT_LENGTH",
         b"[" + b" " * PAD_TO_LIMIT + b"]", chunked=True),
    Case("chunked valid document padded to the limit, then garbage", "POST", "/assignment/html", 413,
         "MAX_CONTENT_LENGTH", (at(one()) + " " * PAD_TO_LIMIT).encode()[:PAD_TO_LIMIT] + b"garbage", chunked=True),
    Case("chunked body under the limit", "POST", "/assignment/html", 202, "", at(one()).encode(), chunked=True),
    Case("chunked CSV over the limit", "POST", "/assignment/csv", 413, "MAX_CONTENT_LENGTH",
         b"student_id,unit\n" + b"s,1\n" * (PAD_TO_LIMIT // 4), "text/csv", chunked=True),
    Case("body over the limit", "POST", "/assignment/html", 413, "MAX_CONTENT_LENGTH",
         b"[" + b" " * PAD_TO_LIMIT + b"]"),
    # CSV
    *submits("CSV with a NUL in a cell", b"student_id,unit\ns\x00,1\n", 400, "row 2, column student_id",
             content_type="text/csv"),
    *submits("CSV time after 9999", b"student_id,unit,created_time\ns,1,9999-12-31T23:59:59-01:00\n", 400,
             "row 2, column created_time", content_type="text/csv"),
    *submits("CSV not UTF-8", b"student_id,unit\n\xff,1\n", 400, "row 2", content_type="text/csv"),
    *submits("CSV without a header", b"", 400, "The request body is empty", content_type="text/csv"),
    *submits("CSV with an open quote", b'student_id,unit\n"s,1\n', 400, "row 2", content_type="text/csv"),
    # Task ids on every GET route
    Case("NUL as a task id", "GET", "/assignment/pdf/%00", 404, "no pdf report"),
    Case("NUL after a task id", "GET", "/assignment/html/{id}%00", 404, "no html report"),
    Case("NUL in a student route", "GET", "/assignment/html/%00/students/0", 404, "no html report"),
    Case("a long task id", "GET", "/assignment/html/" + "a" * 10_000, 404, "no html report"),
    Case("an upper-case task id", "GET", "/assignment/html/{ID}", 404, "no html report"),
    Case("a task id with SQL", "GET", "/assignment/html/'%20OR%201=1--", 404, "no html report"),
    Case("a lone surrogate's bytes as a task id", "GET", "/assignment/html/%ED%A0%80", 404, "no html report"),
    Case("the wrong format", "GET", "/assignment/pdf/{id}", 404, "no pdf report"),
    Case("the right task id", "GET", "/assignment/html/{id}", 202, ""),
    Case("bom=2", "GET", "/assignment/html/{id}?bom=2", 400, "bom"),
    Case("bom=%00", "GET", "/assignment/html/{id}?bom=%00", 400, "bom"),
    Case("bundle=tar", "GET", "/assignment/html/{id}?bundle=tar", 400, "bundle"),
    Case("a huge student position", "GET", "/assignment/html/{id}/students/99999999999999999999", 404,
         "no student at position"),
    Case("a student past the last", "GET", "/assignment/html/{id}/students/7", 404, "no student at position"),
    Case("a negative student position", "GET", "/assignment/html/{id}/students/-1", 404, ""),
    Case("NUL as a status page's task id", "GET", "/reports/%00", 404, "no report"),
    Case("NUL in status.json", "GET", "/reports/%00/status.json", 404, "no report"),
    Case("a long status page id", "GET", "/reports/" + "9" * 5000 + "/status.json", 404, "no report"),
    Case("the status page", "GET", "/reports/{id}", 200, ""),
    Case("retry with a NUL task id", "POST", "/reports/%00/retry", 404, "no report", form={}),
    # The history page
    Case("a 20-digit page", "GET", "/reports?page=99999999999999999999", 200, ""),
    Case("a negative page", "GET", "/reports?page=-99999999999999999999", 200, ""),
    Case("a page that is not a number", "GET", "/reports?page=%00", 200, ""),
    Case("a NUL in the search box", "GET", "/reports?q=%00", 200, ""),
    Case("a NUL in the namespace filter", "GET", "/reports?namespace=a%00b&page=2", 200, ""),
    Case("a NUL as the status filter", "GET", "/reports?status=%00", 200, ""),
    Case("a long filter", "GET", "/reports?q=" + "%25" * 5000, 200, ""),
    # The upload form
    Case("form: deep JSON", "POST", "/", 400, "nested too deeply", form={"text": DEEP}),
    Case("form: lone surrogate", "POST", "/", 400, "Student 1: the student id contains a lone surrogate",
         form={"text": f'[{{"student_id": {SURROGATE}, "events": []}}]'}),
    Case("form: NUL in a field", "POST", "/", 400, "Student 1, event 1: the type contains a NUL character",
         form={"text": f'[{{"student_id": "s", "events": [{{"unit": 1, "type": {NUL}}}]}}]'}),
    Case("form: time after 9999", "POST", "/", 400, TIME_ERROR,
         form={"text": at(one(event={"created_time": "9999-12-31T23:59:59-01:00"}))}),
    Case("form: trailing garbage", "POST", "/", 400, "One ] too many", form={"text": at(one()) + "]"}),
    Case("form: NUL in the label", "POST", "/", 400, "NUL character", form={"text": at(one()), "label": "a\x00"}),
    Case("form: NUL in the unit order", "POST", "/", 400, "NUL character",
         form={"text": at(one()), "unit_order": "5,\x00"}),
    Case("form: NUL in the email", "POST", "/", 400, "NUL character", form={"text": at(one()), "email": "a\x00@b.c"}),
    Case("form: CSV with a NUL", "POST", "/", 400, "Row 2, column unit",
         form={"text": "student_id,unit\ns,\x00\n"}),
    Case("form: many empty events", "POST", "/", 400, "the unit is missing (100 times)</li><li>… and 19,900 more problems",
         form={"text": at([{"student_id": "s", "events": [{}] * 20_000}])}),
    Case("form: a binary file", "POST", "/", 400, "Not UTF-8", form={"file": ("x.json", b"\xff\xfe\x00")}),
    Case("form: a 100 KB student_id", "POST", "/", 400,
         "the student id has 100,000 characters; a student id may have at most 256",
         form={"text": at(one(student_id="x" * 100_000))}),
    Case("form: a 1 MB unit in CSV", "POST", "/", 400, "a unit may have at most 256",
         form={"text": "student_id,unit\ns," + "u" * 100_000 + "\n"}),
    Case("form: a student on 1,001 units", "POST", "/", 400, "a student may have at most 1,000",
         form={"text": at([{"student_id": "s", "events": [{"unit": n} for n in range(1001)]}])}),
    Case("form: CR-only CSV over the cap", "POST", "/", 400, "at most 250,000 rows",
         form={"text": "student_id,unit\r" + "s,1\r" * 250_000}),
    Case("form: a 201-character label", "POST", "/", 400, "Keep the label to 200 characters at most",
         form={"text": at(one()), "label": "l" * 201}),
]


def sqlite_app(config: dict, path) -> object:
    app = create_app({**config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    with app.app_context():
        upgrade()
    return app


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def hostile_app(request, database_url, redis_url, tmp_path_factory):
    """One app per database for the whole table, with the rate limits off (the table sends far
    more than a minute's budget); SQLite is built by the migrations."""
    config = {
        "TESTING": True, "SECRET_KEY": "test-secret", "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url, "REPORTGEN_QUEUE": TEST_QUEUE, "REPORTGEN_RETRY_INTERVALS": [1, 1],
        "REPORTGEN_RATE_LIMIT": "", "REPORTGEN_SUBMIT_RATE_LIMIT": "", "REPORTGEN_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    if request.param == "sqlite":
        app = sqlite_app(config, tmp_path_factory.mktemp("hostile") / "hostile.sqlite3")
    else:
        app = create_app(config)
        with app.app_context():
            db.session.execute(text("DELETE FROM reports"))
            db.session.commit()
    response = app.test_client().post("/assignment/html", data=json.dumps(one()), content_type="application/json")
    assert response.status_code == 202, response.get_json()
    app.config["seeded_task_id"] = response.get_json()["task_id"]
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def send(client, case: Case, task_id: str):
    url = case.url.replace("{id}", task_id).replace("{ID}", task_id.upper())
    if case.form is not None:
        return send_form(client, url, case.form)
    headers = {"Accept": "application/json", **case.headers}
    if case.method == "GET":
        return client.get(url, headers=headers)
    if case.chunked:
        # As gunicorn passes a chunked body: no length, a stream the server ends.
        return client.post(url, input_stream=io.BytesIO(case.body), headers={**headers, "Transfer-Encoding": "chunked"},
                           content_type=case.content_type, environ_overrides={"wsgi.input_terminated": True})
    return client.post(url, data=case.body, headers=headers, content_type=case.content_type)


def send_form(client, url: str, form: dict):
    """The upload form as a browser sends it (multipart, with its CSRF token)."""
    token = csrf_token(client)
    fields = [("csrf_token", token), ("formats", "html")]
    for name, value in form.items():
        if name == "file":
            from werkzeug.datastructures import FileStorage

            value = FileStorage(io.BytesIO(value[1]), filename=value[0], content_type="application/json")
        fields.append((name, value))
    boundary, body = encode_multipart(MultiDict(fields))
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def test_the_table_has_enough_cases():
    assert len(CASES) >= 80
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_input(hostile_app, case):
    response = send(hostile_app.test_client(), case, hostile_app.config["seeded_task_id"])
    assert response.status_code != 500
    assert response.status_code == case.status, response.get_data(as_text=True)[:2000]
    if case.form is not None and response.status_code >= 400:
        page = response.get_data(as_text=True)
        assert case.fragment in page.replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&"), page[-3000:]
        return
    if response.status_code < 400:
        return
    assert len(response.data) <= MiB
    body = response.get_json()
    assert isinstance(body, dict) and body["error"], response.data[:500]
    said = json.dumps(body, ensure_ascii=False)
    assert case.fragment in said.replace('\\"', '"').replace("\\\\", "\\"), said[:2000]


def test_errors_past_the_cap_are_counted_and_the_answer_stays_small(hostile_app):
    # just under REPORTGEN_MAX_UPLOAD_OBJECTS (250,000), which refuses more before parsing
    events = [{}] * 240_000 + [{"unit": "x" * 100, "created_time": "\U0010ffff" * 100}] * 10
    response = hostile_app.test_client().post("/assignment/sequence", data=json.dumps([{"student_id": "s",
                                              "events": events}]), content_type="application/json")
    assert response.status_code == 400 and len(response.data) <= MiB
    body = response.get_json()
    assert body["error"] == "invalid submission: 240010 problems"
    assert len(body["details"]) == 100 and body["errors_not_shown"] == 239_910
    assert body["details"]["[0].events[0].unit"] == "is required"


def test_a_small_error_has_no_count_of_the_rest(hostile_app):
    response = hostile_app.test_client().post("/assignment/html", data=json.dumps(one(event={"unit": None})),
                                              content_type="application/json")
    assert response.get_json() == {"error": "invalid submission: 1 problem",
                                   "details": {"[0].events[0].unit": "must be a non-empty string or an integer, "
                                                                     "not null"}}


def test_the_first_and_the_last_accepted_times_render_in_every_format(client, run_worker):
    """The accepted range is what every format prints: a real worker renders both ends."""
    students = [{"student_id": "edges", "namespace": "ns", "events": [
        {"unit": 1, "type": "saved_code", "created_time": "1900-01-01T00:00:00Z"},
        {"unit": 2, "type": "submitted", "created_time": "9999-12-31T23:00:00-00:59"},
        {"unit": 1, "created_time": "9999-12-31T23:59:59.999999Z"},
    ]}]
    task_ids = {}
    for report_format in ("html", "pdf", "csv"):
        response = client.post(f"/assignment/{report_format}", data=json.dumps(
            {"students": students, "options": {"event_log": True}}), content_type="application/json")
        assert response.status_code == 202, response.get_json()
        task_ids[report_format] = response.get_json()["task_id"]
    run_worker()
    for report_format, task_id in task_ids.items():
        response = client.get(f"/assignment/{report_format}/{task_id}")
        assert response.status_code == 200, response.get_json()
    csv_text = client.get(f"/assignment/csv/{task_ids['csv']}").get_data(as_text=True)
    assert "1900-01-01T00:00:00.000Z" in csv_text and "9999-12-31T23:59:59.999Z" in csv_text
