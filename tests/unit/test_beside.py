"""A large class's page is made in a child process beside the merge of its chunks' PDFs: the
document must read exactly as when it is made in the same process, and a child that fails costs
time, never the document."""
from __future__ import annotations

import io
import json
import logging
import os
import re

from pypdf import PdfReader

from reportgen.render import beside, documents
from reportgen.render.documents import render_document

from ..support.payloads import event, student
from ..support.pdf import pdf_pages


def three_event_students(count: int) -> list[dict]:
    """Students of three events each: a page of their own, so 60 of them make two chunks."""
    return [student(f"s-{number:03d}", [event(number % 7, f"2024-07-0{1 + number % 5}T{hour:02d}:00:00Z")
                                        for hour in (8, 9, 10 + number % 3)])
            for number in range(count)]


def undated(pages: list[str]) -> list[str]:
    return [re.sub(r"generated \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", "generated", page) for page in pages]


def outline(pdf: bytes) -> list[tuple[str, int]]:
    reader = PdfReader(io.BytesIO(pdf))
    return [(item.title, reader.get_destination_page_number(item)) for item in reader.outline]


def link_targets(pdf: bytes) -> list[int]:
    """The page each link of the class page leads to."""
    reader = PdfReader(io.BytesIO(pdf))
    numbers = {page.indirect_reference.idnum: index for index, page in enumerate(reader.pages)}
    return [numbers[annotation.get_object()["/Dest"][0].idnum]
            for page in reader.pages for annotation in page.get("/Annots", [])
            if "/Dest" in annotation.get_object()]


def test_a_class_page_made_beside_the_merge_reads_as_one_made_in_process(monkeypatch):
    text = json.dumps(three_event_students(60))
    monkeypatch.setattr(documents, "OVERVIEW_BESIDE_FROM", 10 ** 9)
    in_process = render_document("pdf", text)
    monkeypatch.setattr(documents, "OVERVIEW_BESIDE_FROM", 2)
    made_beside = render_document("pdf", text)
    pages = pdf_pages(made_beside)
    assert undated(pages) == undated(pdf_pages(in_process))
    assert "Needs attention (0 of 60 students)" in pages[0] and f"page 1 of {len(pages)}" in pages[0]
    marks = outline(made_beside)
    assert marks == outline(in_process)
    assert marks[0] == ("Activity report: 60 students", 0)
    assert [title for title, _page in marks[1:]] == [f"s-{number:03d}" for number in range(60)]
    assert all(f"\ns-{number:03d}\n" in pages[page] for number, (_title, page) in enumerate(marks[1:]))
    assert link_targets(made_beside) == link_targets(in_process) == [page for _title, page in marks[1:]]


def test_a_child_that_fails_leaves_the_work_to_the_parent_which_does_it(caplog):
    parent = os.getpid()

    def work() -> bytes:
        if os.getpid() != parent:
            raise RuntimeError("only in the child")
        return b"made by the parent"

    with caplog.at_level(logging.WARNING, logger=beside.__name__):
        assert beside.made_beside(work)() == b"made by the parent"
    assert "failed (exit status 1); making it here" in caplog.text


def test_what_a_child_makes_comes_back_whole():
    large = bytes(range(256)) * 4096  # more than a pipe holds at once
    assert beside.made_beside(lambda: large)() == large
