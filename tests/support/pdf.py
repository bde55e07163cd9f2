"""Reading a PDF report as a reader would: its pages' text and its event-log lines."""
from __future__ import annotations

import io
import re

#: A PDF event-log line: its number, then its time.
LOG_LINE = re.compile(r"(\d+) +(2024-\d\d-\d\d \d\d:\d\d:\d\d)")


def log_numbers(pdf: bytes) -> list[int]:
    """The numbers of the event-log lines of a PDF, in the order they are printed."""
    return [int(number) for number, _ in LOG_LINE.findall("\n".join(pdf_pages(pdf)))]


def pdf_pages(pdf: bytes) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]

