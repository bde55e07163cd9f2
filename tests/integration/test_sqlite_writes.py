"""On SQLite, a write transaction holds the write lock file from its first write to its end,
however it ends, so writers queue in the kernel and none is left waiting for ever."""
from __future__ import annotations

import fcntl
import os

import pytest
from sqlalchemy import create_engine, text

from reportgen import sqlite_writes


@pytest.fixture
def database(tmp_path):
    sqlite_writes.install()
    path = tmp_path / "app.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (body TEXT)"))
    yield engine, f"{path}.write-lock"
    engine.dispose()


def is_locked(lock_path: str) -> bool:
    descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False


def test_a_write_holds_the_lock_until_commit(database):
    engine, lock = database
    with engine.connect() as connection:
        connection.execute(text("SELECT count(*) FROM notes"))
        assert not is_locked(lock), "a read takes no write lock"
        connection.execute(text("INSERT INTO notes VALUES ('a')"))
        assert is_locked(lock)
        connection.commit()
        assert not is_locked(lock)


def test_a_rollback_and_a_connection_returned_mid_write_release_it(database):
    engine, lock = database
    with engine.connect() as connection:
        connection.execute(text("INSERT INTO notes VALUES ('b')"))
        connection.rollback()
        assert not is_locked(lock)
        connection.execute(text("INSERT INTO notes VALUES ('c')"))
        assert is_locked(lock)
    assert not is_locked(lock), "returning the connection to the pool ended its transaction"
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM notes")).scalar() == 0


def test_postgresql_is_left_alone(app):
    from reportgen.extensions import db

    with app.app_context():
        with db.engine.connect() as connection:
            connection.execute(text("CREATE TEMPORARY TABLE notes (body TEXT)"))
            connection.execute(text("INSERT INTO notes VALUES ('d')"))
            assert "reportgen.sqlite_write_lock" not in connection.info
