"""The peer reference: the ReportLab PDF that public implementations of this assignment make.

    render_peer_pdf(json.load(open("students.json"))) -> bytes

For each student: a heading (id), the namespace and event count, the unit order as text
(``Q1 → Q1 → Q2 → …``), then one platypus Table with a row per event (``#, label, unit,
type, timestamp``) in time order, its header row repeated on every page. Labels Q1, Q2, …
number each namespace's units in sorted order, numeric units first. Plain ReportLab:
SimpleDocTemplate on A4, Paragraphs for the headings, standard Helvetica, one TableStyle.
Written the way a reasonable solution would be, neither a strawman nor tuned for speed;
``bench/report_bench.py`` times our PDF against it.
"""
from __future__ import annotations

import io
from collections import defaultdict
from datetime import datetime, timezone
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

HEADER = ("#", "Label", "Unit", "Type", "Timestamp (UTC)")
COLUMN_WIDTHS = (14 * mm, 18 * mm, 30 * mm, 45 * mm, 55 * mm)
TABLE_STYLE = TableStyle([
    ("FONTNAME", (0, 0), (-1, -1), "Helvetica"),
    ("FONTSIZE", (0, 0), (-1, -1), 8),
    ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
    ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
    ("ALIGN", (0, 0), (0, -1), "RIGHT"),
    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
])


def _unit_key(unit: str) -> tuple:
    """Numeric units first in numeric order, then the others alphabetically."""
    try:
        return (0, int(unit), unit)
    except ValueError:
        return (1, 0, unit)


def _parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def unit_labels(students: list[dict]) -> dict[str, dict[str, str]]:
    """namespace → {unit → "Q1", …}, shared by every student of the namespace."""
    units: dict[str, set[str]] = defaultdict(set)
    for student in students:
        units[student.get("namespace", "")].update(str(event["unit"]) for event in student["events"])
    return {
        namespace: {unit: f"Q{number}" for number, unit in enumerate(sorted(found, key=_unit_key), start=1)}
        for namespace, found in units.items()
    }


def _student_story(student: dict, labels: dict[str, str], styles) -> list:
    events = sorted(
        ((_parse_time(event["created_time"]), str(event["unit"]), event.get("type") or "")
         for event in student["events"]),
        key=lambda item: item[0],
    )
    order = " → ".join(labels[unit] for _, unit, _ in events)
    rows = [HEADER]
    rows += [
        (str(number), labels[unit], unit, event_type,
         moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"))
        for number, (moment, unit, event_type) in enumerate(events, start=1)
    ]
    table = Table(rows, colWidths=COLUMN_WIDTHS, repeatRows=1)
    table.setStyle(TABLE_STYLE)
    return [
        Paragraph(f"Student {escape(student['student_id'])}", styles["Heading2"]),
        Paragraph(f"Namespace: {escape(student.get('namespace', ''))} &nbsp; Events: {len(events)}",
                  styles["Normal"]),
        Spacer(1, 3 * mm),
        Paragraph("<b>Unit order:</b> " + escape(order), styles["Normal"]),
        Spacer(1, 4 * mm),
        table,
    ]


def render_peer_pdf(students: list[dict]) -> bytes:
    """The whole submission (decoded JSON) as one PDF, a new page per student."""
    styles = getSampleStyleSheet()
    labels = unit_labels(students)
    story = [Paragraph("Student activity report", styles["Title"])]
    for number, student in enumerate(students):
        if number:
            story.append(PageBreak())
        story += _student_story(student, labels[student.get("namespace", "")], styles)
    output = io.BytesIO()
    document = SimpleDocTemplate(output, pagesize=A4, title="Student activity report",
                                 leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm, bottomMargin=15 * mm)
    document.build(story)
    return output.getvalue()
