"""Report documents per format: a chunk of students at a time, then the upload's one document.

Workers render a report a chunk at a time (so many workers share a cohort) and combine the
chunks at the end; ``flask render`` and the benchmarks take the same path in one process
(:func:`render_document`). Each format is a class with the same three steps, named by the
registry in :mod:`reportgen.render.formats`:

- ``render_chunk`` → a :class:`ChunkResult`: per student either its own document (HTML,
  CSV) or its pages in the chunk's one PDF, or the error that stopped it;
- ``combine`` → the upload's document from the students that succeeded;
- ``student_document`` → one student's document as a download.

A PDF chunk is one xhtml2pdf document: a student's pages are cut out of it only when
someone downloads that student alone. If the chunk as a whole fails, its students are
rendered one by one, so bad data fails a student, never the batch.

A student whose PDF event log is longer than a chunk's budget is alone in its chunk and cut
into pieces (:func:`pieces`): the chunk prints the student's pages and the log's first rows,
each further piece (``render_piece``, a job of its own) a run of rows, and the pieces follow
the chunk in the upload's document and in the student's own.

``combine`` reads the chunks' documents (and the students' own) from iterables, so the
assembly can load them one at a time instead of holding a cohort's parts at once.

:mod:`.html_pdf` (xhtml2pdf, ReportLab, svglib: 0.4 s and ~60 MiB to import) is imported where a
document is first rendered, not with this module: the web process plans reports with it and
never renders. A worker loads it, with every template and font, in :func:`warm_up` before it forks.
"""
from __future__ import annotations

import dataclasses
import itertools
import logging
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import NamedTuple

from ..domain.batching import piece_rows, plan_chunks, plan_pieces
from ..domain.csv_export import render_csv
from ..domain.importers import DEFAULT_IMPORT_OPTIONS, ImportOptions, choose, own_input, read_import
from ..domain.figures import zone
from ..domain.options import DEFAULT_OPTIONS, ReportOptions
from ..domain.preparation import PreparedUpload, prepare
from ..domain.report_data import ReportData, build_report, default_title
from ..domain.sequencing import StudentSequence, sequence_students
from ..domain.submission import Student, loads
from ..domain.upload import parse_upload
from . import fonts, formats
from .beside import made_beside

log = logging.getLogger(__name__)


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
    source: dict | None = None
    """What the upload was read as (``Report.input``), said among the report's options."""

    @classmethod
    def of(cls, prepared: PreparedUpload, title: str | None = None,
           generated_at: datetime | None = None, source: dict | None = None) -> ReportContext:
        """The context of an upload rendered now; the time is taken here, once, so every chunk,
        piece and class page of one document says the same "generated" time."""
        return cls(labels=prepared.labels, cohorts=prepared.cohorts, student_total=len(prepared.students),
                   options=prepared.options, events_left_out=prepared.events_left_out, title=title,
                   generated_at=generated_at or datetime.now(timezone.utc), source=source)


@dataclass(frozen=True, slots=True)
class StudentInput:
    number: int
    """1-based position in the upload."""
    student: Student
    metrics: dict
    log_rows: tuple[int, int] | None = None
    """The event-log rows this document prints, when the student's log is cut into pieces."""
    pieces: int = 1
    """Into how many pieces the plan cuts the student's document."""


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


class Combined(NamedTuple):
    """The upload's one document; for a paged format also where each of the chunks' documents
    it was made of starts in it, in order, and its page count, from which each student's pages
    follow (:meth:`PdfDocuments.student_pages`)."""

    content: bytes
    chunk_starts: list[int] | None = None
    pages: int = 0


def _given_title(context: ReportContext) -> str | None:
    return f"{context.title} — activity report" if context.title else None


def report_title(context: ReportContext, inputs: Sequence[StudentInput]) -> str:
    """The title :func:`report_data` gives these students' report, without making it."""
    return _given_title(context) or default_title(context.student_total or len(inputs),
                                                  inputs[0].student.student_id if inputs else "")


def report_data(context: ReportContext, inputs: Sequence[StudentInput], *, summary_only: bool = False) -> ReportData:
    """The report data of some students; ``summary_only`` skips ordering their events and
    making their units tables, for a class page, which prints figures only."""
    if summary_only:
        sequences = [StudentSequence(student=item.student, events=()) for item in inputs]
    else:
        _, sequences = sequence_students([item.student for item in inputs], context.labels)
    data = build_report(
        sequences, [item.metrics for item in inputs], numbers=[item.number for item in inputs],
        cohorts=context.cohorts, options=context.options, events_left_out=context.events_left_out,
        generated_at=context.generated_at, title=_given_title(context), student_total=context.student_total,
        source=context.source, class_page=summary_only,
    )
    if any(item.log_rows for item in inputs):
        data = dataclasses.replace(data, students=tuple(
            dataclasses.replace(student, log_rows=item.log_rows) for student, item in zip(data.students, inputs)))
    return data


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
    """What every format does alike: a student's download is the document stored for it, or
    (``renders_students``) one rendered again on request when none was stored."""

    combines_events = False
    """Whether ``combine`` needs every student's events (else their figures suffice)."""
    renders_students = False
    """Whether ``render_student`` makes a student's own document by itself (HTML, CSV; a brief
    student's PDF)."""

    @staticmethod
    def student_document(stored: bytes | None, chunk_documents: Sequence[bytes], pages, title: str) -> bytes:
        return stored


class HtmlDocuments(Documents):
    """One self-contained page per student; the upload's page is rendered from all of them."""

    combines_events = True
    renders_students = True

    @staticmethod
    def render_student(context: ReportContext, item: StudentInput) -> bytes:
        from .html_pdf import render_html

        return render_html(report_data(context, [item])).encode("utf-8")

    @staticmethod
    def render_chunk(context: ReportContext, inputs: Sequence[StudentInput], whole_report: bool = False) -> ChunkResult:
        return _one_by_one(inputs, lambda item: HtmlDocuments.render_student(context, item), "HTML")

    @staticmethod
    def combine(context: ReportContext, inputs: Sequence[StudentInput], chunks,
                parts: Iterable[bytes | None]) -> Combined:
        """All students on one page; a one-student upload's page is that student's own, if stored."""
        from .html_pdf import render_html

        if len(inputs) == 1 == context.student_total and (own := next(iter(parts), None)) is not None:
            return Combined(own)
        return Combined(render_html(report_data(context, inputs)).encode("utf-8"))


class CsvDocuments(Documents):
    """The raw event log, one row per event; the upload's file is the students' rows in order."""

    combines_events = True
    renders_students = True

    @staticmethod
    def render_student(context: ReportContext, item: StudentInput) -> bytes:
        return render_csv([item.student], context.labels, zone(context.options.timezone))

    @staticmethod
    def render_chunk(context: ReportContext, inputs: Sequence[StudentInput], whole_report: bool = False) -> ChunkResult:
        return _one_by_one(inputs, lambda item: CsvDocuments.render_student(context, item), "CSV")

    @staticmethod
    def combine(context: ReportContext, inputs: Sequence[StudentInput], chunks,
                parts: Iterable[bytes | None]) -> Combined:
        """The header once, then every student's rows in upload order."""
        return Combined(render_csv([item.student for item in inputs], context.labels, zone(context.options.timezone)))


#: A student whose PDF rendered without the bookmark that finds its pages: the pages cannot be
#: cut out for its own download, so it fails, saying so (rendering it again would not help).
LOST_PAGES = ("The student's PDF was made, but its pages could not be found in it (xhtml2pdf left out its "
              "bookmark), so it could not be stored.")


_ONE_RENDER_AT_A_TIME = threading.Lock()

#: From this many students on, the class page of a report's combined PDF is made in a child
#: process beside the merge (:mod:`.beside`): it costs ~0.75 ms of CPU a student, the fork a few
#: ms, and a smaller class's page is over before a fork would pay.
OVERVIEW_BESIDE_FROM = 200


class PdfDocuments(Documents):
    """One xhtml2pdf document per chunk; the upload's PDF is the overview plus the chunks.

    A student's own PDF is its pages cut out of that document, but for a brief student
    (:attr:`~reportgen.domain.report_data.StudentReport.shares_page`), which shares its page with
    the brief students beside it: its own PDF is rendered when asked for (``render_student``), so
    it holds that student alone.
    """

    renders_students = True

    @staticmethod
    def render_student(context: ReportContext, item: StudentInput) -> bytes:
        """A brief student's own PDF, as its pages would read cut out of the upload's. The web
        process renders it in whichever of its threads serves the download: one at a time, as
        xhtml2pdf and ReportLab register fonts and keep each font's subsets in shared objects."""
        from .html_pdf import merge_pdfs, render_pdf

        data = report_data(context, [item])
        with _ONE_RENDER_AT_A_TIME:
            part = render_pdf(data, overview=False, sections=data.students)
        return merge_pdfs([part.content], f"Activity report: {item.student.student_id}")

    @staticmethod
    def render_chunk(context: ReportContext, inputs: Sequence[StudentInput], whole_report: bool = False) -> ChunkResult:
        from .html_pdf import merge_pdfs, render_pdf

        data = report_data(context, inputs)
        overview = whole_report and context.student_total > 1
        try:
            part = render_pdf(data, overview=overview, sections=data.students)
        except Exception:
            log.exception("a chunk of %d students failed as a whole; rendering them one by one", len(inputs))
        else:
            if len(part.pages) == len(data.students):
                return ChunkResult([StudentResult(pages=None if student.shares_page else pages)
                                    for student, pages in zip(data.students, part.pages)],
                                   whole=part.content, complete=whole_report)
            log.warning("a chunk's PDF has %d of its %d students' bookmarks; rendering them one by one",
                        len(part.pages), len(data.students))
        results, documents, offset = [], [], 0
        for student in data.students:
            try:
                part = render_pdf(data, overview=False, sections=[student])
            except Exception as exc:
                results.append(StudentResult(error=_describe(exc)))
                continue
            if not part.pages:
                results.append(StudentResult(error=LOST_PAGES))
                continue
            first, count = part.pages[0]
            results.append(StudentResult(pages=None if student.shares_page else (offset + first, count)))
            documents.append(part.content)
            offset += first + count
        whole = merge_pdfs(documents, data.title) if documents else None
        return ChunkResult(results, whole=whole)

    @staticmethod
    def student_pages(combined: Combined, part_keys: Sequence[tuple[int, int]],
                      students: Iterable[tuple[int, int, int, int]]) -> list[tuple[int, int]]:
        """Each student's first page and page count in the combined document: its place in its
        chunk's document (``students``: chunk, first page and page count there, pieces) moved to
        where that document starts, and a student cut into pieces runs on over its further
        pieces' pages. ``part_keys`` name the chunks' documents it was made of (chunk, piece), in
        order."""
        ends = [*combined.chunk_starts[1:], combined.pages]
        start_of = dict(zip(part_keys, combined.chunk_starts, strict=True))
        length_of = {key: end - start for (key, start), end in zip(start_of.items(), ends)}
        return [(start_of[chunk, 0] + first,
                 count + sum(length_of.get((chunk, piece), 0) for piece in range(1, pieces)))
                for chunk, first, count, pieces in students]

    @staticmethod
    def render_piece(context: ReportContext, item: StudentInput) -> bytes:
        """A further piece of one student's event log (``item.log_rows``) as a PDF of its own."""
        from .html_pdf import render_log_piece

        data = report_data(context, [item])
        return render_log_piece(data, data.students[0])

    @staticmethod
    def combine(context: ReportContext, inputs: Sequence[StudentInput], chunks: Iterable[ChunkResult],
                parts=()) -> Combined:
        """The finished document: a complete one-chunk PDF, else the overview (for several
        students) followed by every chunk's PDF and pieces, read one at a time; its pages
        numbered across the whole and its links resolved (:func:`.html_pdf.merge_parts`)."""
        from .html_pdf import merge_parts, render_pdf

        chunks = iter(chunks)
        head = list(itertools.islice(chunks, 2))
        title = report_title(context, inputs)
        if len(head) == 1 and (head[0].complete or len(inputs) == 1):
            merged = merge_parts([head[0].whole], title)  # to number its pages and resolve its links
            return Combined(merged.content, merged.starts, merged.pages)
        overview = None
        if len(inputs) > 1:
            def render_overview() -> bytes:
                students = list(inputs)  # each read once (the assembly's are decoded as they are read)
                return render_pdf(report_data(context, students, summary_only=True), overview=True, sections=()).content

            overview = made_beside(render_overview) if len(inputs) >= OVERVIEW_BESIDE_FROM else render_overview
        wholes = (chunk.whole for chunk in itertools.chain(head, chunks) if chunk.whole)
        merged = merge_parts(wholes, title, head=overview)
        return Combined(merged.content, merged.starts, merged.pages)

    @staticmethod
    def student_document(stored: bytes | None, chunk_documents: Sequence, pages: tuple[int, int],
                         title: str) -> bytes:
        """The student's pages cut out of their chunk's PDF (or of the upload's, once it is
        finished: then ``chunk_documents`` is that one document, or a reader of it), then the
        pieces of its event log if they are stored apart."""
        from .html_pdf import extract_pages, merge_pdfs

        own = extract_pages(chunk_documents[0], pages[0], pages[1], title)
        return merge_pdfs([own, *chunk_documents[1:]], title) if len(chunk_documents) > 1 else own


#: Each format's renderer, by the name the registry (:mod:`.formats`) gives it.
RENDERERS: dict[str, type[Documents]] = {"html": HtmlDocuments, "pdf": PdfDocuments, "csv": CsvDocuments}


def of(report_format: formats.ReportFormat | str) -> type[Documents]:
    """The renderer of a format: ``render_chunk``, ``render_piece``, ``combine``, ``student_pages``
    and ``student_document``."""
    return RENDERERS[report_format if isinstance(report_format, str) else report_format.name]


#: The module that renders, loaded by :func:`warm_up` or on a document's first render.
RENDERER_MODULE = f"{__package__}.html_pdf"


def renderer_loaded() -> bool:
    """Whether this process has the renderer loaded (a work horse forked after :func:`warm_up`)."""
    return RENDERER_MODULE in sys.modules


@dataclass(frozen=True, slots=True)
class Plan:
    """The workers' jobs for an upload in one format: each student's chunk and how many
    pieces its document is cut into (1 but for a long PDF event log)."""

    chunks: list[int]
    pieces: list[int]

    @property
    def chunk_count(self) -> int:
        return self.chunks[-1] + 1 if self.chunks else 0

    @property
    def extra_pieces(self) -> list[tuple[int, int]]:
        """``(chunk, piece)`` of every piece after a chunk's first, in upload order."""
        return [(chunk, piece) for chunk, count in zip(self.chunks, self.pieces) for piece in range(1, count)]


def plan(prepared: PreparedUpload, report_format: str) -> Plan:
    """The workers' jobs for this upload in this format."""
    counts = [len(student.events) for student in prepared.students]
    weigh_events = formats.get(report_format).weighs_events(prepared.options.event_log)
    return Plan(plan_chunks(counts, weigh_events=weigh_events),
                [plan_pieces(count, weigh_events=weigh_events) for count in counts])


def log_rows(event_count: int, piece: int, pieces: int) -> tuple[int, int] | None:
    """The event-log rows of one piece of a student's document; None when it is not cut."""
    return piece_rows(event_count, piece, pieces) if pieces > 1 else None


def chunk_inputs(prepared: PreparedUpload, report_format: str) -> list[list[StudentInput]]:
    """The upload's students, numbered, in the chunks the workers would render (a student cut
    into pieces with its first piece's rows)."""
    jobs = plan(prepared, report_format)
    chunks: dict[int, list[StudentInput]] = {}
    for number, (student, metrics, chunk, pieces) in enumerate(
            zip(prepared.students, prepared.metrics, jobs.chunks, jobs.pieces), start=1):
        item = StudentInput(number, student, metrics, log_rows(len(student.events), 0, pieces), pieces)
        chunks.setdefault(chunk, []).append(item)
    return list(chunks.values())


def piece_inputs(chunk: Sequence[StudentInput]) -> list[StudentInput]:
    """The further pieces of a chunk's (lone) student cut into pieces, in order; else none."""
    if len(chunk) != 1:
        return []
    item = chunk[0]
    count = len(item.student.events)
    return [dataclasses.replace(item, log_rows=piece_rows(count, piece, item.pieces)) for piece in range(1, item.pieces)]


def render_document(report_format: str, input_text: str | bytes, options: dict | None = None, *,
                    input_format: str | None = None,
                    import_options: ImportOptions = DEFAULT_IMPORT_OPTIONS) -> bytes:
    """Validate and render a whole submission in this process (``flask render``, benchmarks),
    chunk by chunk exactly as the workers do. The input is reportgen's JSON, or another
    platform's file (xAPI, a Moodle log, Caliper: recognised, or ``input_format``)."""
    chosen = choose(input_text, input_format)
    if chosen != "reportgen":
        upload, source = read_import(input_text, chosen, import_options, options=options)
    else:
        document = loads(input_text)
        if options is not None:
            document = {"students": document, "options": options}
        upload = parse_upload(document)
        source = own_input(upload)
    prepared = prepare(upload.students, upload.options)
    context = ReportContext.of(prepared, source=source)
    renderer = of(report_format)
    chunks = chunk_inputs(prepared, report_format)
    results, documents = [], []
    for chunk in chunks:
        pieces = piece_inputs(chunk)
        result = renderer.render_chunk(context, chunk, whole_report=len(chunks) == 1 and not pieces)
        results.append(result)
        documents.append(result)
        if result.students[0].ok:
            documents.extend(ChunkResult([], whole=renderer.render_piece(context, piece)) for piece in pieces)
    inputs = [item for chunk, result in zip(chunks, results) for item, outcome in zip(chunk, result.students)
              if outcome.ok]
    parts = [outcome.content for result in results for outcome in result.students if outcome.ok]
    return renderer.combine(context, inputs, documents, parts).content


def warm_up() -> None:
    """Load what every render needs once, in a process that forks work horses, so no horse
    pays for it again: the fonts, xhtml2pdf's and svglib's start-up, and every report
    template compiled (Jinja compiles an included template the first time it is rendered,
    which in a fresh horse cost a third of a small report's job)."""
    fonts.warm_up()
    sample = ('[{"student_id": "warm-up", "namespace": "n", "events": [{"unit": 1, "type": "saved_code",'
              ' "created_time": "2024-07-01T10:00:00Z"}, {"unit": 2, "created_time": "2024-07-01T10:05:00Z"}]},'
              ' {"student_id": "warm-up-2", "namespace": "n", "events": [{"unit": 1}]}]')
    for report_format in ("html", "pdf"):  # with the event log: every template a report includes
        render_document(report_format, sample, {"event_log": True})
