"""Every fixed bound on what one upload may hold, in one place, with the measurement behind it.

What an upload costs grows with what the parser makes of it and with what a report draws per
student, not with its bytes: 20 MiB of ``[[],[],…]`` is seven million lists (450 MiB), a CSV
of ``\\r``-separated rows splits as finely as one of ``\\n``, a 2 MB student id is printed on
every page of that student's PDF, and a student's distinct units are each a row of the per-unit
table and of the timeline. So the size of an upload is counted before it is parsed
(:func:`reportgen.domain.submission.check_upload_size`), and strings and units are bounded
while it is validated; each refusal names the field (or ``$``) and the bound.

Measured on the 2-core development machine (``bench/units_bench.py``, BENCHMARKS.md):

* A student's distinct units cost a PDF about 8 ms each and more as they grow (1,000 units:
  8.1 s; 2,000: 16.8 s; 5,000: 54 s and 237 MiB; 20,000: 187 s), the same student on 30 units
  3.3 s. An HTML page grows less (5,000 units: 3.0 s, 155 MiB). 1,000 per student keeps the
  slowest student of a PDF within ten seconds of one worker.
* An upload's distinct units are its labels, which every job of the report loads: 20,000 of
  them are ~1 MB of JSON, read in ~20 ms per job.
"""
from __future__ import annotations

#: Characters a stored string may have, by field (a 400 naming the field and the bound past
#: them; ``label`` is the form's label of an upload, ``name`` a unit's or a student's name in
#: ``options.unit_names`` and ``student_names``; ``id`` an event's own id, as xAPI and Caliper
#: give one). Ids and namespaces are names, units names or numbers, types a word, event ids a
#: UUID or an IRI; 256 holds an e-mail address or a URL-like unit name (the PDF wraps
#: 200 characters of any of them inside its page: tests/unit/test_report_pdf.py), and no report
#: has room for more.
MAX_CHARS = {
    "student_id": 256,
    "namespace": 256,
    "unit": 256,
    "type": 256,
    "id": 256,
    "label": 200,
    "name": 200,
}

#: Distinct units of one student (a 400 naming ``….events``) and of one upload, the units
#: that ``options.units`` lists included (a 413): see the measurements above.
MAX_UNITS_PER_STUDENT = 1_000
MAX_UNITS_PER_UPLOAD = 20_000

#: Values (objects, arrays, strings, numbers; CSV cells) an upload may hold per student and
#: event it may hold (``REPORTGEN_MAX_UPLOAD_OBJECTS``): an event is an object of three fields,
#: a CSV row seven cells, and a few unknown fields fit too. At the default cap that is two
#: million values, at most ~130 MiB however they are shaped (two million two-character strings,
#: or empty arrays).
VALUES_PER_OBJECT = 8


def too_long(value: str, field: str) -> str | None:
    """Why ``value`` is too long for ``field`` (a key of ``MAX_CHARS``), or None."""
    limit = MAX_CHARS[field]
    if len(value) <= limit:
        return None
    what = "an event id" if field == "id" else f"a {field.replace('_', ' ')}"
    return f"has {len(value):,} characters; {what} may have at most {limit:,}"
