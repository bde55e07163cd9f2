"""What an ``Idempotency-Key`` costs a submit now that it hashes a JSON body's content
(``reportgen.domain.canonical_json``) rather than its bytes (issue 19).

    .venv/bin/python bench/idempotency_bench.py --students 1000 --events 200

Prints, for one upload of that shape, the time and the extra memory (tracemalloc, in a second
pass) of: the parse the submit does anyway (the reference, measured in the same run), the
SHA-256 of the raw bytes (what the key hashed before), and the SHA-256 of the canonical text in
pieces, next to ``json.JSONEncoder.encode`` of the whole document and ``iterencode``, which
were the other ways to make it.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reportgen.domain.canonical_json import ENCODER, canonical_pieces  # noqa: E402


def upload(students: int, events: int) -> bytes:
    return json.dumps({"students": [
        {"student_id": f"student-{s:05d}", "namespace": "python-101", "events": [
            {"unit": (s * 7 + e) % 40, "type": "saved_code", "created_time": f"2024-07-{1 + e % 28:02d}T03:04:55Z"}
            for e in range(events)]} for s in range(students)]}, indent=1).encode()


def pieces_digest(document) -> str:
    digest = hashlib.sha256()
    for piece in canonical_pieces(document):
        digest.update(piece.encode("utf-8"))
    return digest.hexdigest()


def iterencode_digest(document) -> str:
    digest = hashlib.sha256()
    for chunk in ENCODER.iterencode(document):
        digest.update(chunk.encode("utf-8"))
    return digest.hexdigest()


def measure(name: str, work) -> None:
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    work()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"{name:<34} {seconds:7.3f} s   extra peak {peak / 2**20:7.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--iterencode", action="store_true", help="also time iterencode (slow)")
    args = parser.parse_args()
    body = upload(args.students, args.events)
    document = json.loads(body)
    print(f"upload: {args.students} students x {args.events} events, {len(body) / 2**20:.1f} MiB")
    measure("parse (reference)", lambda: json.loads(body))
    measure("sha256 of the bytes (before)", lambda: hashlib.sha256(body).hexdigest())
    measure("sha256 of canonical pieces (now)", lambda: pieces_digest(document))
    measure("sha256 of encode(whole)", lambda: hashlib.sha256(ENCODER.encode(document).encode()).hexdigest())
    if args.iterencode:
        measure("sha256 of iterencode", lambda: iterencode_digest(document))
    assert pieces_digest(document) == hashlib.sha256(ENCODER.encode(document).encode()).hexdigest()


if __name__ == "__main__":
    main()
