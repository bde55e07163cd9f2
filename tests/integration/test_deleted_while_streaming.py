"""A ZIP of every student's document (``?bundle=zip``) streams one student at a time; a DELETE
(or a retention purge) in the middle of it must not end in a traceback and a short archive
that passes for complete: the archive ends so that every kind of ZIP reader says it is damaged
(readers of the central directory, and readers of the entries in order), on both databases."""
from __future__ import annotations

import io
import logging
import shutil
import subprocess
import zipfile

import pytest

from ..support.api import submit
from ..support.payloads import event, student
from ..support.processes import run_burst_workers

#: A reader of the entries in order, as streaming unzippers read: Java's ZipInputStream.
SEQUENTIAL_READER = """
import java.io.*;
import java.util.zip.*;

public class ReadInOrder {
    public static void main(String[] args) throws IOException {
        try (ZipInputStream zip = new ZipInputStream(new FileInputStream(args[0]))) {
            byte[] buffer = new byte[65536];
            for (ZipEntry entry; (entry = zip.getNextEntry()) != null; ) {
                while (zip.read(buffer) > 0) { }
            }
        }
    }
}
"""


def class_of(count: int) -> list[dict]:
    return [student(f"student-{n:02d}", [event(n % 4, f"2024-07-01T08:{n:02d}:00Z"),
                                         event(n % 3, f"2024-07-01T09:{n:02d}:00Z")]) for n in range(count)]


def readers_of(archive: bytes, tmp_path) -> dict[str, bool]:
    """Whether each reader takes the archive as whole: Python's zipfile, Info-ZIP's unzip -t, and
    Java's ZipInputStream (the last two where installed)."""
    path = tmp_path / "bundle.zip"
    path.write_bytes(archive)
    verdicts = {}
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as opened:
            verdicts["zipfile"] = opened.testzip() is None
    except zipfile.BadZipFile:
        verdicts["zipfile"] = False
    if shutil.which("unzip"):
        verdicts["unzip -t"] = subprocess.run(["unzip", "-tq", str(path)], capture_output=True).returncode == 0
    if shutil.which("java"):
        source = tmp_path / "ReadInOrder.java"
        source.write_text(SEQUENTIAL_READER)
        verdicts["ZipInputStream"] = subprocess.run(["java", str(source), str(path)], capture_output=True,
                                                    timeout=120).returncode == 0
    return verdicts


@pytest.mark.parametrize("report_format", ["html", "csv", "pdf"])
def test_a_zip_whose_report_is_deleted_while_it_streams_ends_damaged(any_database_app, tmp_path, caplog,
                                                                    report_format):
    app = any_database_app
    client = app.test_client()
    task_id = submit(client, report_format, class_of(30))
    run_burst_workers(app.config, tmp_path, 1)
    whole = client.get(f"/assignment/{report_format}/{task_id}?bundle=zip")
    assert whole.status_code == 200
    assert len(zipfile.ZipFile(io.BytesIO(whole.data)).namelist()) == 30
    assert set(readers_of(whole.data, tmp_path).values()) == {True}  # the readers can tell a whole one

    caplog.set_level(logging.INFO)
    streaming = client.get(f"/assignment/{report_format}/{task_id}?bundle=zip", buffered=False)
    assert streaming.status_code == 200
    chunks = iter(streaming.response)
    received = [next(chunks) for _ in range(5)]
    assert client.delete(f"/assignment/{report_format}/{task_id}").status_code == 200
    received += list(chunks)
    streaming.close()
    cut = b"".join(received)

    assert 0 < len(cut) < len(whole.data)
    verdicts = readers_of(cut, tmp_path)
    assert verdicts and not any(verdicts.values()), verdicts
    assert not [record for record in caplog.records if record.exc_info or record.levelno >= logging.ERROR]
    assert any("was cut off: the report was deleted while it was sent" in record.getMessage()
               for record in caplog.records)
    assert client.get(f"/assignment/{report_format}/{task_id}?bundle=zip").status_code == 410
