"""Many rows of integers into PostgreSQL at once: ``COPY … FROM STDIN``, the bulk path of the
class history's appends (events, event ids, day rows, the ids an append looks up).

Why COPY: an append of 1,000,000 events sent as ``INSERT … SELECT * FROM unnest(%s::integer[],
…)`` in statements of 50,000 rows spent 19.3 s in the database on the embedded PostgreSQL 16.2
(load 3.5), because psycopg2 renders a Python list as an ``ARRAY[1, 2, …]`` expression of 50,000
constants that the server parses one by one; the same arrays as text literals (``'{1,2,…}'``)
took 11.4 s. The same rows as tab-separated text through COPY took 1.75 s straight into the table
and 4.3–4.8 s through a staging table and ``INSERT … ON CONFLICT DO NOTHING`` (load 2.5–2.7;
BENCHMARKS.md, "Class histories on PostgreSQL").

Only integers go through here, formatted with ``%d``: nothing that needs quoting or escaping,
and anything that is not an integer fails loudly instead of being written as text.
"""
from __future__ import annotations

import io
from collections.abc import Sequence

from psycopg2.extras import execute_values
from sqlalchemy.engine import Connection


def copy_rows(connection: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> int:
    """COPY ``rows`` (tuples of integers, one value per column) into ``table``; how many rows the
    database took. Part of the connection's transaction."""
    if not rows:
        return 0
    line = "\t".join(["%d"] * len(columns)) + "\n"
    data = io.StringIO("".join([line % row for row in rows]))
    cursor = connection.connection.cursor()
    try:
        cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", data)
        return cursor.rowcount
    finally:
        cursor.close()


def staged(connection: Connection, table: str, columns: Sequence[tuple[str, str]], rows: Sequence[tuple]) -> None:
    """A temporary table ``table`` of ``columns`` (name, type) holding exactly ``rows``, dropped at
    the end of the transaction (emptied first should one append of the transaction have made it
    already, as keeping an upload of several namespaces does)."""
    definition = ", ".join(f"{name} {kind} NOT NULL" for name, kind in columns)
    connection.exec_driver_sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS {table} ({definition}) ON COMMIT DROP")
    connection.exec_driver_sql(f"TRUNCATE {table}")
    copy_rows(connection, table, [name for name, _ in columns], rows)


def update_from_values(connection: Connection, statement: str, rows: Sequence[tuple], template: str) -> None:
    """Run ``statement`` once with all ``rows`` in its ``VALUES %s`` (``template`` casts each
    value, so that a column of NULLs still has its type): one statement where an executemany would
    be one round trip a row (2,000 students' counts took 0.28 s that way, at load 3)."""
    cursor = connection.connection.cursor()
    try:
        execute_values(cursor, statement, rows, template=template, page_size=max(len(rows), 1))
    finally:
        cursor.close()
