"""Download and attachment names: readable in any script, safe for every browser and file
system, and never the same for two reports (each ends with the task id's first 8 characters).
A report is read by its attributes only (``id``, ``format``, ``label``, ``student_ids``,
``student_count``).
"""
from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

SLUG_LENGTH = 60


#: A word of a download name that is the task id's first 8 characters (every name ends with one,
#: before the format for a ZIP), which keeps two reports' downloads of the same student or label
#: from overwriting each other.
TASK_ID_WORD = re.compile(r"[0-9a-f]{8}")


def slug(text: str) -> str:
    """ASCII-safe for every browser and file system (accents dropped: Zoë → Zoe)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_text).strip("-._")[:SLUG_LENGTH] or "student"


def file_name(text: str) -> str:
    """The text as a file name in any script, minus what file systems forbid."""
    return re.sub(r'[\\/:*?"<>|\x00-\x1f\x7f]+', "-", text).strip(" .-")[:80] or "student"


def ascii_name(filename: str) -> str:
    """The ASCII fallback of a download name, word by word (words are what ``-`` separates): a
    word in another script says ``student``, and what is too long is cut before the task-id word,
    so that word survives (``0001-王小明-3f0c1a2b.pdf`` → ``0001-student-3f0c1a2b.pdf``)."""
    stem, dot, extension = filename.rpartition(".")
    if not dot:
        stem, extension = filename, ""
    words = [slug(word) for word in stem.split("-") if word.strip()]
    ids = [index for index, word in enumerate(words) if TASK_ID_WORD.fullmatch(word)]
    cut = ids[-1] if ids else len(words)
    tail = "".join(f"-{word}" for word in words[cut:])
    head = "-".join(words[:cut])[:max(1, SLUG_LENGTH - len(tail))].strip("-._")
    return (f"{head}{tail}" if head else tail.lstrip("-") or "student") + (f".{slug(extension)}" if dot else "")


def content_disposition(disposition: str, filename: str) -> str:
    """RFC 6266: an ASCII ``filename`` for old clients, ``filename*`` in UTF-8 when it differs."""
    fallback = ascii_name(filename)
    header = f'{disposition}; filename="{fallback}"'
    if fallback != filename:
        header += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return header


def download_name(report) -> str:
    """``report-<student or N-students>-<id8>.<format>``."""
    subject = report.student_ids[0] if report.student_count == 1 else f"{report.student_count}-students"
    return f"report-{slug(subject)}-{report.id[:8]}.{report.format}"


def attachment_name(report) -> str:
    """An emailed document's name: ``<label>-<id8>.<format>`` from the submission's label, in
    its own script (its ASCII fallback is the download's, :func:`content_disposition`), else
    :func:`download_name`."""
    label = re.sub(r"\W+", "-", unicodedata.normalize("NFC", report.label or "")).strip("-_")[:60].strip("-_")
    return f"{label}-{report.id[:8]}.{report.format}" if label else download_name(report)


def student_download_name(report, position: int, student_id: str) -> str:
    """``0001-<student id>-<id8>.<format>``: sorts in upload order inside a ZIP; the task id
    keeps the same student's documents of two reports apart in one downloads folder."""
    return f"{position + 1:04d}-{file_name(student_id)}-{report.id[:8]}.{report.format}"



def excel_name(name: str, bom: bool) -> str:
    """``name`` with ``-excel`` before its extension when the file is for Excel (``bom``: it starts
    with a byte-order mark), so the plain and the Excel download of one report do not land under
    the same name."""
    stem, dot, extension = name.rpartition(".")
    return f"{stem}-excel{dot}{extension}" if bom else name


def table_download_name(report, table: str, bom: bool) -> str:
    """A CSV report's table: ``report-19-students-3f0c1a2b-units.csv`` (the event log, ``events``,
    keeps :func:`download_name`), ``…-excel.csv`` for Excel."""
    stem, _, extension = download_name(report).rpartition(".")
    return excel_name(f"{stem}{'' if table == 'events' else '-' + table}.{extension}", bom)
