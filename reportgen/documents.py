"""Report documents per format: a chunk of students at a time, then the upload's one document.

Workers render a report a chunk at a time (so many workers share a cohort) and combine the
chunks at the end; ``flask render`` and the benchmarks take the same path in one process
(:func:`render_document`). Each format is a class with the same three steps, named by the
registry in :mod:`reportgen.formats`:

- ``render_chunk`` → a :class:`ChunkResult`: per student either its own document (HTML,
  CSV) or its pages in the chunk's one PDF, or the error that stopped it;
- ``combine`` → the upload's document from the students that succeeded;
- ``student_document`` → one student's document as a download.

A PDF chunk is one xhtml2pdf document: a student's pages are cut out of it only when
someone downloads that student alone. If the chunk as a whole fails, its students are
rendered one by one, so bad data fails a student, never the batch.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from . import formats
from .domain.batching import plan_chunks
from .domain.csv_export import HEADER, render_csv
from .domain.options import DEFAULT_OPTIONS, ReportOptions
from .domain.preparation import PreparedUpload, prepare
from .domain.report_data import ReportData, build_report
from .domain.sequencing import StudentSequence, sequence_students
from .domain.submission import Student, parse_upload, loads

log = logging.getLogger(__name__)

CSV_LINE_END = b"\r\n"


@dataclass(frozen=True, slots=True)
class ReportContext:
    """What every part of one upload's documents shares."""

    labels: dict[str, dict[str, str]]
    cohorts: dict[str, dict]
    student_total: int
    options: ReportOptions = DEFAULT_OPTIONS
    events_left_out: int = 0
    title: str | None = None
    generated_at: datetime | None = None

    @classmethod
    def of(cls, prepared: PreparedUpload, title: str | None = None) -> ReportContext:
        return cls(labels=prepared.labels, cohorts=prepared.cohorts, student_total=len(prepared.students),
                   options=prepared.options, events_left_out=prepared.events_left_out, title=title)


@dataclass(frozen=True, slots=True)
class StudentInput:
    number: int
    """1-based position in the upload."""
    student: Student
    metrics: dict


@dataclass(slots=True)
class StudentResult:
    content: bytes | None = None
    pages: tuple[int, int] | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class ChunkResult:
    students: list[StudentResult]
    whole: bytes | None = None
    """The chunk as one document (PDF), which holds the students' pages."""
    complete: bool = False
    """True when ``whole`` is already the upload's finished document (a one-chunk report)."""


def report_data(context: ReportContext, inputs: Sequence[StudentInput], *, summary_only: bool = False) -> ReportData:
    """The report data of some students; ``summary_only`` skips ordering their events, for a
    class page, which prints figures only."""
    if summary_only:
        sequences = [StudentSequence(student=item.student, events=()) for item in inputs]
    else:
        _, sequences = sequence_students([item.student for item in inputs], context.labels)
    title = None
    if context.title:
        title = f"{context.title} — activity report"
    return build_report(
        sequences, [item.metrics for item in inputs], numbers=[item.number for item in inputs],
        cohorts=context.cohorts, options=context.options, events_left_out=context.events_left_out,
        generated_at=context.generated_at, title=title, student_total=context.student_total,
    )


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _one_by_one(inputs: Sequence[StudentInput], render, what: str) -> ChunkResult:
    """A document per student; one that fails is recorded and the others go on."""
    results = []
    for item in inputs:
        try:
            results.append(StudentResult(content=render(item)))
        except Exception as exc:
            log.exception("student %d could not be rendered as %s", item.number, what)
            results.append(StudentResult(error=_describe(exc)))
    return ChunkResult(results)


class Documents:
    """What every format does alike: a student's download is the document stored for it."""

    @staticmethod
    def student_document(stored: bytes | None, chunk_document: bytes | None, pages, title: str) -> bytes:
        return stored


class HtmlDocuments(Documents):
    """One self-contained page per student; the upload's page is rendered from all of them."""

    @staticmethod
    def render_chunk(context: ReportContext, inputs: Sequence[StudentInput], whole_report: bool = False) -> ChunkResult:
        from .rendering import render_html

        return _one_by_one(inputs, lambda item: render_html(report_data(context, [item])).encode("utf-8"), "HTML")

    @staticmethod
    def combine(context: ReportContext, inputs: Sequence[StudentInput], chunks, parts) -> bytes:
        """All students on one page; a one-student upload's page is that student's own."""
        from .rendering import render_html

        if len(inputs) == 1 == context.student_total and len(parts) == 1:
            return parts[0]
        return render_html(report_data(context, inputs)).encode("utf-8")


class CsvDocuments(Documents):
    """The raw event log, one row per event; the upload's file is the students' rows in order."""

    @staticmethod
    def render_chunk(context: ReportContext, inputs: Sequence[StudentInput], whole_report: bool = False) -> ChunkResult:
        return _one_by_one(inputs, lambda item: render_csv([item.student], context.labels), "CSV")

    @staticmethod
    def combine(context: ReportContext, inputs: Sequence[StudentInput], chunks, parts: Sequence[bytes]) -> bytes:
        header = parts[0][: parts[0].index(CSV_LINE_END) + 2] if parts else (",".join(HEADER) + "\r\n").encode()
        return header + b"".join(part[part.index(CSV_LINE_END) + 2:] for part in parts)


class PdfDocuments(Documents):
    """One xhtml2pdf document per chunk; the upload's PDF is the overview plus the chunks."""

    @staticmethod
    def render_chunk(context: ReportContext, inputs: Sequence[StudentInput], whole_report: bool = False) -> ChunkResult:
        from .rendering import merge_pdfs, render_pdf

        data = report_data(context, inputs)
        overview = whole_report and context.student_total > 1
        try:
            part = render_pdf(data, overview=overview, sections=data.students)
        except Exception:
            log.exception("a chunk of %d students failed as a whole; rendering them one by one", len(inputs))
        else:
            return ChunkResult([StudentResult(pages=pages) for pages in part.pages], whole=part.content,
                               complete=whole_report)
        results, documents, offset = [], [], 0
        for student in data.students:
            try:
                part = render_pdf(data, overview=False, sections=[student])
            except Exception as exc:
                results.append(StudentResult(error=_describe(exc)))
                continue
            first, count = part.pages[0]
            results.append(StudentResult(pages=(offset + first, count)))
            documents.append(part.content)
            offset += first + count
        whole = merge_pdfs(documents, data.title) if documents else None
        return ChunkResult(results, whole=whole)

    @staticmethod
    def combine(context: ReportContext, inputs: Sequence[StudentInput], chunks: Sequence[ChunkResult],
                parts=()) -> bytes:
        """The finished document: a complete one-chunk PDF as it is, else the overview (for
        several students) followed by every chunk's PDF."""
        from .rendering import merge_pdfs, render_pdf

        if len(chunks) == 1 and chunks[0].complete:
            return chunks[0].whole
        wholes = [chunk.whole for chunk in chunks]
        if len(wholes) == 1 and len(inputs) == 1:
            return wholes[0]
        data = report_data(context, inputs, summary_only=True)
        overview = render_pdf(data, overview=True, sections=()).content if len(inputs) > 1 else None
        return merge_pdfs([*([overview] if overview else []), *[whole for whole in wholes if whole]], data.title)

    @staticmethod
    def student_document(stored: bytes | None, chunk_document: bytes | None, pages: tuple[int, int],
                         title: str) -> bytes:
        """The student's pages cut out of their chunk's PDF."""
        from .rendering import extract_pages

        return extract_pages(chunk_document, pages[0], pages[1], title)


def plan(prepared: PreparedUpload, report_format: str) -> list[int]:
    """The chunk of every student of the upload, for this format (the workers' jobs)."""
    return plan_chunks([len(student.events) for student in prepared.students],
                       weigh_events=formats.get(report_format).weighs_events(prepared.options.event_log))


def chunk_inputs(prepared: PreparedUpload, report_format: str) -> list[list[StudentInput]]:
    """The upload's students, numbered, in the chunks the workers would render."""
    inputs = [StudentInput(number, student, metrics)
              for number, (student, metrics) in enumerate(zip(prepared.students, prepared.metrics), start=1)]
    chunks: dict[int, list[StudentInput]] = {}
    for item, chunk in zip(inputs, plan(prepared, report_format)):
        chunks.setdefault(chunk, []).append(item)
    return list(chunks.values())


def render_document(report_format: str, input_text: str | bytes, options: dict | None = None) -> bytes:
    """Validate and render a whole submission in this process (``flask render``, benchmarks),
    chunk by chunk exactly as the workers do."""
    document = loads(input_text)
    if options is not None:
        document = {"students": document, "options": options}
    upload = parse_upload(document)
    prepared = prepare(upload.students, upload.options)
    context = ReportContext.of(prepared)
    renderer = formats.get(report_format).documents
    chunks = chunk_inputs(prepared, report_format)
    results = [renderer.render_chunk(context, chunk, whole_report=len(chunks) == 1) for chunk in chunks]
    inputs = [item for chunk, result in zip(chunks, results) for item, outcome in zip(chunk, result.students)
              if outcome.ok]
    parts = [outcome.content for result in results for outcome in result.students if outcome.ok]
    return renderer.combine(context, inputs, results, parts)
