"""The report renderer: what a reader sees in the HTML and PDF, and what xhtml2pdf may fetch."""
from __future__ import annotations

import http.server
import io
import json
import re
import threading
from datetime import datetime, timezone

import jinja2
import pytest
from pypdf import PdfReader
from xhtml2pdf import pisa
from xhtml2pdf.config.resources import PERMISSIVE_POLICY

from reportgen.render import html_pdf as rendering
from reportgen.render import pdf_tables
from reportgen.render.documents import render_document

from ..support.payloads import report_of
from ..support.pdf import pdf_pages

NON_LATIN_ID = "Zoë Дмитрий Ωμέγα"
SCRIPT_ID = "<script>alert(1)</script>"
GENERATED_AT = datetime(2024, 8, 1, 12, 0, tzinfo=timezone.utc)


def make_report(students: list[dict], options: dict | None = None):
    return report_of(students, options, generated_at=GENERATED_AT)


def pdf_of(students: list[dict], options: dict | None = None) -> bytes:
    return render_document("pdf", json.dumps(students), options)


def student(student_id: str, events: list[tuple], namespace: str = "course-1") -> dict:
    return {
        "student_id": student_id,
        "namespace": namespace,
        "events": [{"unit": unit, "type": kind, "created_time": when} for unit, kind, when in events],
    }


def alice() -> dict:
    """Three events given out of time order: unit 17 twice (Q2) and unit 5 once (Q1)."""
    return student("alice", [
        ("17", "saved_code", "2024-07-21 03:04:55.939000+00:00"),
        (5, "ran_tests", "2024-07-21 03:00:00+00:00"),
        ("17", "submitted", "2024-07-21T05:04:55+02:00"),
    ])


def non_latin() -> dict:
    return student(NON_LATIN_ID, [
        ("9", "viewed_hint", "2024-07-22T10:00:00Z"),
        ("10", "saved_code", "2024-07-22T09:00:00Z"),
    ])


def events_table_times(html: str, student_id: str) -> list[str]:
    """The Time column of one student's event log, top to bottom."""
    section = html[html.index(f'<h2 class="bookmark student-id">{student_id}</h2>'):]
    start = section.index('<table class="events">')
    table = section[start:section.index("</table>", start)]
    return re.findall(r'<td class="when">([^<]*)</td>', table)


# PDF


def test_pdf_shows_ids_labels_metrics_and_non_latin_text():
    text = "\n".join(pdf_pages(pdf_of([alice(), non_latin()])))

    assert "alice" in text
    assert NON_LATIN_ID in text
    for label in ("Q1", "Q2", "Q3", "Q4"):
        assert label in text
    assert "2024-07-21 03:00:00 UTC" in text
    assert "How to read this report" in text
    assert "on task" in text and "Compressed: Q1 → Q4×2" in text  # units 5, 9, 10, 17 are Q1–Q4


def test_multi_student_pdf_has_an_overview_then_pages_per_student_with_bookmarks():
    """Alice (three events) has a page of her own; the two brief students after her (two
    events, one) share the next one."""
    ids = ["alice", NON_LATIN_ID, "carol"]
    carol = student("carol", [("1", "saved_code", "2024-07-23T08:00:00Z")])
    pdf = pdf_of([alice(), non_latin(), carol])

    pages = pdf_pages(pdf)
    assert "Students (upload order)" in pages[0]
    assert all(student_id in pages[0] for student_id in ids)
    alice_page, shared_page = pages[-2:]
    assert "\nalice\n" in alice_page and NON_LATIN_ID not in alice_page
    assert shared_page.index(f"\n{NON_LATIN_ID}\n") < shared_page.index("\ncarol\n")
    outline = [item.title for item in PdfReader(io.BytesIO(pdf)).outline]
    assert outline == ["Activity report: 3 students", *ids]


def test_a_students_pages_can_be_cut_out_of_the_chunk_pdf():
    report = make_report([alice(), non_latin()])
    part = rendering.render_pdf(report)
    (first_alice, count_alice), (first_other, count_other) = part.pages
    assert first_alice >= 1 and first_other == first_alice + count_alice
    alone = rendering.extract_pages(part.content, first_other, count_other, "x")
    [page] = pdf_pages(alone)
    assert NON_LATIN_ID in page and "alice" not in page


def test_single_student_pdf_starts_with_the_student_not_an_overview():
    pages = pdf_pages(pdf_of([alice()]))

    assert len(pages) == 1
    assert "Students (upload order)" not in pages[0]
    assert pages[0].index("alice") < pages[0].index("Events")
    assert "How to read this report" in pages[0]


def test_pdf_event_log_only_when_asked_in_time_order_in_aligned_columns():
    assert "Appendix: event log" not in pdf_pages(pdf_of([alice()]))[0]

    text = "\n".join(pdf_pages(pdf_of([alice()], {"event_log": True})))
    listed = text[text.index("Appendix: event log"):]
    times = ["2024-07-21 03:00:00", "2024-07-21 03:04:55", "2024-07-21 03:04:55.939"]
    assert [listed.index(time) for time in times] == sorted(listed.index(time) for time in times)
    listing = rendering.event_listing(make_report([alice()]).students[0])
    assert [column.title for column in listing.columns] == ["#", "Time (UTC)", "Label", "Type", "Unit"]
    assert {row[2] for row in listing.rows} <= {"Q1", "Q2"}


def test_pdf_shows_markup_in_ids_as_text():
    text = pdf_pages(pdf_of([student(SCRIPT_ID, [("1", None, None)])]))[0]

    assert SCRIPT_ID in text


def test_pisa_errors_raise_render_error(monkeypatch):
    class FailedStatus:
        err = 1
        log = [("error", 0, "something broke", "")]

    monkeypatch.setattr(rendering.pisa, "CreatePDF", lambda *args, **kwargs: FailedStatus())

    with pytest.raises(rendering.RenderError, match="something broke"):
        rendering.html_to_pdf("<p>x</p>")


def test_a_unit_table_with_the_most_event_types_stays_inside_the_frame():
    types = [f"a-very-long-event-type-name-{index}" for index in range(6)]
    alice = student("alice", [("a unit with a long name", name, f"2024-07-21T03:0{index}:00Z")
                              for index, name in enumerate(types)])
    table = rendering.unit_table(make_report([alice]).students[0])
    assert len(table.columns) >= 10
    assert sum(table.widths) + pdf_tables.GAP * (len(table.widths) - 1) + 2 * pdf_tables.MARGIN <= 511.01
    assert table.widths[1] >= pdf_tables.MIN_FLEXIBLE - 0.01  # the unit column keeps room


def test_capped_columns_too_many_for_the_frame_are_narrowed_and_the_flexible_one_keeps_room():
    columns = [pdf_tables.Column("Name", flexible=True),
               *(pdf_tables.Column(f"long column title {index}", right=True, widest=46.0) for index in range(12))]
    table = pdf_tables.lay_out(columns, [("a long name that needs room", *range(12))])
    assert sum(table.widths) + pdf_tables.GAP * 12 + 2 * pdf_tables.MARGIN <= pdf_tables.FRAME_WIDTH + 0.01
    assert table.widths[0] >= pdf_tables.MIN_FLEXIBLE - 0.01


def test_a_pdf_table_sizes_its_columns_to_their_cells_and_cuts_only_the_flexible_ones():
    columns = [pdf_tables.Column("Id", flexible=True), pdf_tables.Column("Time", right=True)]
    table = pdf_tables.lay_out(columns, [("abcdefghij" * 20, "1 h 50 min"), ("王小明", "5 min")], width=200)
    assert table.rows[0][0].endswith("…") and table.rows[0][1] == "1 h 50 min"
    assert table.rows[1] == ("王小明", "5 min")
    assert table.cut == ("abcdefghij" * 20,)
    assert sum(table.widths) + pdf_tables.GAP + 2 * pdf_tables.MARGIN <= 200 + 0.01


# HTML


def test_html_shows_metrics_units_sequence_and_an_event_log_in_time_order():
    html = rendering.render_html(make_report([alice()]))

    assert html.startswith("<!DOCTYPE html>")
    assert '<h2 class="bookmark student-id">alice</h2>' in html
    assert '<tr><td>Q1</td><td class="id">5</td><td class="num">1</td>' in html
    assert '<tr><td>Q2</td><td class="id">17</td><td class="num">2</td>' in html
    assert "<p>Q1 Q2 Q2</p>" in html
    assert "<p><b>Compressed:</b> Q1 → Q2×2</p>" in html
    assert "<summary>Appendix: event log (3 events, time order)</summary>" in html
    assert events_table_times(html, "alice") == [
        "2024-07-21 03:00:00 UTC", "2024-07-21 03:04:55 UTC", "2024-07-21 03:04:55.939 UTC",
    ]
    assert "span 4 min" in html and "3 events on 2 units" in html
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html and "<title>Timeline of alice</title>" in html


def test_multi_student_html_has_an_overview_linking_to_each_section():
    html = rendering.render_html(make_report([alice(), non_latin()]))

    overview = html[html.index('<section class="overview"'):html.index("</section>")]
    assert 'href="#student-1">alice</a>' in overview
    assert f'href="#student-2">{NON_LATIN_ID}</a>' in overview
    assert 'id="student-1"' in html and 'id="student-2"' in html
    assert html.index(">alice</h2>") < html.index(f">{NON_LATIN_ID}</h2>")


def test_html_escapes_markup_in_ids_types_and_units():
    html = rendering.render_html(make_report([student(SCRIPT_ID, [("<i>u</i>", "<b>bold</b>", None)])]))

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "<i>u</i>" not in html and "&lt;i&gt;u&lt;/i&gt;" in html


def test_html_is_self_contained():
    html = rendering.render_html(make_report([alice(), non_latin()]))

    for outside_reference in ("http:", "https:", "src=", "<link", "@import", "url("):
        assert outside_reference not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<style>" in html


def test_report_environment_escapes_and_rejects_unknown_names():
    environment = rendering.report_environment()

    assert environment is rendering.report_environment()
    assert environment.from_string("{{ value }}").render(value="<b>") == "&lt;b&gt;"
    with pytest.raises(jinja2.UndefinedError):
        environment.from_string("{{ missing }}").render()


# What xhtml2pdf may read


def test_link_callback_resolves_files_under_static():
    path = rendering.link_callback("fonts/DejaVuSans.ttf", None)

    assert path == str((rendering.STATIC_DIR / "fonts" / "DejaVuSans.ttf").resolve())


@pytest.mark.parametrize("uri", [
    "http://127.0.0.1:8000/x.png",
    "https://example.com/font.ttf",
    "ftp://example.com/x",
    "data:image/png;base64,iVBORw0KGgo=",
    "file:///etc/passwd",
    "//example.com/x.png",
    "/etc/passwd",
    "../reportgen/rendering.py",
    "fonts/../../requirements.txt",
    "fonts/%2e%2e/%2e%2e/requirements.txt",
    "fonts/missing.ttf",
    "fonts",
    "",
])
def test_link_callback_refuses_everything_else(uri):
    assert rendering.link_callback(uri, "/tmp") is None


def test_link_callback_refuses_symlinks_out_of_static(tmp_path, monkeypatch):
    static = tmp_path / "static"
    static.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (static / "inside.txt").write_text("fine")
    (static / "escape.txt").symlink_to(secret)
    monkeypatch.setattr(rendering, "STATIC_DIR", static)

    assert rendering.link_callback("inside.txt", None) == str((static / "inside.txt").resolve())
    assert rendering.link_callback("escape.txt", None) is None


@pytest.fixture
def counting_server():
    """An HTTP server on a free local port that counts the requests it receives."""
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def hostile_html(base: str) -> str:
    """Every way a document can ask xhtml2pdf to fetch something, pointed at ``base``."""
    return f"""<html><head>
<link rel="stylesheet" href="{base}/s.css">
<style>
@import url("{base}/import.css");
@font-face {{ font-family: Remote; src: url("{base}/font.ttf"); }}
body {{ font-family: Remote; }}
</style></head><body>
<p>still rendered</p>
<img src="{base}/x.png">
<img src="file:///etc/passwd">
<img src="../reportgen/rendering.py">
<div style="background-image: url('{base}/bg.png')">box</div>
</body></html>"""


def test_the_counting_server_sees_an_unprotected_render(counting_server):
    base, requests = counting_server

    pisa.CreatePDF(f'<img src="{base}/x.png">', dest=io.BytesIO(), resource_policy=PERMISSIVE_POLICY)

    assert "/x.png" in requests


@pytest.mark.parametrize("policy", ["locked", "permissive"])
def test_pdf_rendering_never_fetches_from_the_network(counting_server, monkeypatch, policy):
    """link_callback alone keeps xhtml2pdf off the network, even with a permissive policy."""
    base, requests = counting_server
    if policy == "permissive":
        monkeypatch.setattr(rendering, "_RESOURCE_POLICY", PERMISSIVE_POLICY)

    pdf = rendering.html_to_pdf(hostile_html(base))

    assert requests == []
    assert pdf.startswith(b"%PDF")
    assert "still rendered" in pdf_pages(pdf)[0]


def test_pdf_rendering_reads_no_data_uri_not_even_an_svg_one():
    """The charts are drawn from their marks, so xhtml2pdf is given no image but files under static/."""
    import base64

    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><text x="2" y="20">smuggled</text></svg>'
    html = (f'<p>still rendered</p><img src="data:image/svg+xml;base64,{base64.b64encode(svg).decode()}" '
            'width="200" height="40">')

    text = pdf_pages(rendering.html_to_pdf(html))[0]

    assert "still rendered" in text and "smuggled" not in text


def test_a_chart_at_the_foot_of_a_page_goes_over_with_its_caption():
    """Wherever the page breaks (41 of these lines fill a page), a chart and its caption (the
    paragraph after it) share a page."""
    from reportgen.render import charts, pdf_charts

    chart = charts.distribution([charts.Strip("Events", (3.0, 10.0, 40.0), 5.0, 10.0, 30.0, "per student")], "t", "d")
    counts = set()
    for lines in range(34, 42):
        filler = "".join(f"<p>line {number}</p>" for number in range(lines))
        pages = pdf_pages(rendering.html_to_pdf(f"{filler}{pdf_charts.markup(chart)}<p>the caption</p>"))
        assert [index for index, text in enumerate(pages) if "per student" in text] == \
            [index for index, text in enumerate(pages) if "the caption" in text], lines
        counts.add(len(pages))
    assert counts == {1, 2}  # the page broke before the chart in some of them


def test_a_chart_taller_than_a_page_goes_on_over_pages_each_row_once_and_inside_them():
    """A student on hundreds of units has a timeline taller than a page: it runs on over pages,
    cut between rows, instead of failing the render (or shrinking to a sliver, as an image did)."""
    from datetime import timedelta

    import pdfplumber

    from reportgen.domain.report_data import VisitMark
    from reportgen.render import charts, pdf_charts

    start = datetime(2024, 7, 1, tzinfo=timezone.utc)
    visits = [VisitMark(row=n, start=start + timedelta(minutes=n), end=start + timedelta(minutes=n + 1),
                        returned=n % 2 == 1, label=f"Q{n + 1}", unit=str(n), events=1) for n in range(150)]
    chart = charts.timeline([f"Q{n + 1} · unit {n}" for n in range(150)], visits, "t", "d")
    assert chart.height > 2 * pdf_charts.FRAME_HEIGHT

    document = rendering.html_to_pdf(f"<p>before</p>{pdf_charts.markup(chart)}<p>the caption</p>")

    pages = pdf_pages(document)
    assert re.findall(r"Q(\d+) · unit", "\n".join(pages)) == [str(n + 1) for n in range(150)]
    assert len(pages) >= 3 and "before" in pages[0] and "the caption" in pages[-1]
    with pdfplumber.open(io.BytesIO(document)) as opened:
        for page in opened.pages:
            for mark in [*page.chars, *page.rects]:
                assert 0 <= mark["x0"] <= mark["x1"] <= page.width and 0 <= mark["top"] <= mark["bottom"] <= page.height


def test_a_timeline_of_many_visits_draws_what_the_page_can_show_not_one_bar_each():
    from datetime import timedelta

    from reportgen.domain.report_data import VisitMark
    from reportgen.render import charts

    start = datetime(2024, 7, 1, tzinfo=timezone.utc)
    visits = [VisitMark(row=n % 30, start=start + timedelta(minutes=n), end=start + timedelta(minutes=n, seconds=30),
                        returned=n >= 30, label=f"Q{n % 30 + 1}", unit=str(n % 30), events=1)
              for n in range(50_000)]
    chart = charts.timeline([f"Q{n + 1} · {n}" for n in range(30)], visits, "t", "d")
    bars = chart.svg.count("z")  # each bar (and each row's hairline) is one closed rectangle of a path
    assert 30 < bars < 30 * 700, bars
    sparse = [visit for visit in visits if visit.start.minute == 0 and visit.start.hour == 0]  # one a day
    assert charts.timeline(["a"] * 30, sparse, "t", "d").svg.count("z") >= 30 + len(sparse)  # apart: each its own


def test_an_html_page_lists_at_most_its_budget_of_event_rows_and_says_where_the_rest_are():
    from ..support.payloads import minutely_student

    first = rendering.HTML_LOG_ROWS - 50
    page = render_document("html", json.dumps([minutely_student("a", first), minutely_student("b", 200)])).decode()
    rows = re.findall(r'<tr><td class="num">(\d+)</td><td class="when">', page)
    assert len(rows) == rendering.HTML_LOG_ROWS and rows[first - 1:first + 1] == [str(first), "1"] and rows[-1] == "50"
    assert "(200 events, time order; the first 50 shown here)" in page
    assert "Visits of b in time order (the first 50 of 200; the event log lists the events)" in page
    assert f"A page lists at most {rendering.HTML_LOG_ROWS} events in all; the CSV report has every one" in page
    own = render_document("html", json.dumps([minutely_student("b", rendering.HTML_LOG_ROWS + 5)])).decode()
    assert f"time order; the first {rendering.HTML_LOG_ROWS} shown here)" in own
