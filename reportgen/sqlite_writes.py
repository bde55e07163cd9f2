"""One writer at a time on SQLite, queued in the kernel instead of in SQLite's busy handler.

SQLite lets one connection write at a time. A writer that finds the lock taken sleeps in its
busy handler for 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, then 100 ms between tries, however
soon the lock is free: under a burst of submissions from two gunicorn processes (and their
threads) that sleeping, not the work, made the slowest percent of submits take over 100 ms.

So a connection takes an exclusive ``flock`` on ``<database>.write-lock`` before its first
INSERT, UPDATE or DELETE (where Python's sqlite3 begins the write transaction) and drops it
when the transaction ends; a waiting writer wakes the moment the lock is free. Every
reportgen process writes through SQLAlchemy, so they all queue here; a busy timeout still
guards anything else. The lock file is opened for each transaction, never shared with a fork.
PostgreSQL needs none of this and is left alone.
"""
from __future__ import annotations

import fcntl
import os

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

_KEY = "reportgen.sqlite_write_lock"
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def _lock_path(connection) -> str | None:
    if connection.dialect.name != "sqlite":
        return None
    database = connection.engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return f"{database}.write-lock"


def _before_cursor_execute(connection, cursor, statement, parameters, context, executemany) -> None:
    if _KEY in connection.info or not statement.lstrip()[:7].upper().startswith(_WRITES):
        return
    path = _lock_path(connection)
    if path is None:
        return
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
    except BaseException:
        os.close(descriptor)
        raise
    connection.info[_KEY] = descriptor


def _release(info: dict) -> None:
    descriptor = info.pop(_KEY, None)
    if descriptor is not None:
        os.close(descriptor)  # closing the only descriptor of the open file drops its flock


def _transaction_ended(connection) -> None:
    _release(connection.info)


def _checked_in(dbapi_connection, connection_record) -> None:
    if connection_record is not None:
        _release(connection_record.info)


def _reset(dbapi_connection, connection_record, reset_state) -> None:
    _checked_in(dbapi_connection, connection_record)


def _invalidated(dbapi_connection, connection_record, exception) -> None:
    _checked_in(dbapi_connection, connection_record)


def install() -> None:
    """Listen on every engine (a no-op for one that is not SQLite); once per process."""
    if event.contains(Engine, "before_cursor_execute", _before_cursor_execute):
        return
    event.listen(Engine, "before_cursor_execute", _before_cursor_execute)
    event.listen(Engine, "commit", _transaction_ended)
    event.listen(Engine, "rollback", _transaction_ended)
    event.listen(Pool, "checkin", _checked_in)
    event.listen(Pool, "close", _checked_in)
    event.listen(Pool, "reset", _reset)
    event.listen(Pool, "invalidate", _invalidated)
