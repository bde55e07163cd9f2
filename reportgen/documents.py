"""Report documents per format: one student's, and the combined one of a whole upload.

Workers render students one at a time (so many workers share a cohort) and assemble the
combined document at the end; ``flask render`` takes the same path in one process.
"""
from __future__ import annotations

from collections.abc import Callable

from .domain.csv_export import render_csv
from .domain.report_data import build_report
from .domain.sequencing import unit_labels
from .domain.submission import Student, parse_text

Labels = dict[str, dict[str, str]]


def render_student(report_format: str, student: Student, labels: Labels) -> bytes:
    """One student's document, labelled with the whole upload's labels."""
    from .rendering import render_html, render_pdf

    if report_format == "csv":
        return render_csv([student], labels)
    data = build_report([student], labels=labels)
    if report_format == "html":
        return render_html(data).encode("utf-8")
    if report_format == "pdf":
        return render_pdf(data)
    raise ValueError(f"unknown report format {report_format!r}")


def combine(report_format: str, students: list[Student], labels: Labels, parts: list[bytes]) -> bytes:
    """The upload's single document from its students' documents (in upload order)."""
    from .rendering import merge_pdfs, render_html, render_overview_pdf

    if report_format == "csv":
        return parts[0][: parts[0].index(b"\r\n") + 2] + b"".join(part[part.index(b"\r\n") + 2:] for part in parts)
    if report_format == "html":
        return render_html(build_report(students, labels=labels)).encode("utf-8")
    if report_format == "pdf":
        if len(parts) == 1:
            return parts[0]
        report = build_report(students, labels=labels)
        return merge_pdfs([("Overview", render_overview_pdf(report)),
                           *zip((student.student_id for student in students), parts)], report.title)
    raise ValueError(f"unknown report format {report_format!r}")


def render_document(report_format: str, input_text: str | bytes,
                    progress: Callable[[int, int], None] | None = None) -> bytes:
    """Validate and render a whole submission in this process (``flask render``, benchmarks)."""
    students = parse_text(input_text)
    labels = unit_labels(students)
    parts = []
    for done, student in enumerate(students, start=1):
        parts.append(render_student(report_format, student, labels))
        if progress:
            progress(done, len(students))
    return combine(report_format, students, labels, parts)
